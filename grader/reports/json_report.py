"""The JSON report: validates against grader/schemas/report.schema.json. It is the
instructor's full record (hidden problems' details included), in valid UTF-8. An output's
arrays are whole up to grader.reports.excerpt.MAX_INLINE_NUMBERS numbers (expected and got
together), else an excerpt; so many diverging timesteps at the most are listed."""
from typing import Any

from grader.reports.excerpt import MAX_INLINE_NUMBERS, values_json
from grader.reports.registry import register
from grader.results import AcrossProblems, Diagnosis, OutputResult, ProblemResult, Report
from grader.text_safety import json_text


def output_json(o: OutputResult) -> dict:
    data: dict[str, Any] = {"passed": o.passed, "points": o.points, "score": o.score}
    c = o.comparison
    if c is None:
        return {**data, "got": None, "error": o.unusable}
    data.update(values_json(c, o.per_timestep), max_abs_error=c.max_abs_error)
    if o.per_timestep:
        t = c.first_divergence
        data.update(first_divergence=None if t is None else {"t": t, "order": c.order},
                    diverging_timesteps=c.diverging_timesteps[:MAX_INLINE_NUMBERS])
    if o.terms:
        data.update(consistent_with_your_dL_ds=o.terms.consistent, dL_ds_used=o.terms.used,
                    dL_ds_method=o.terms.method)
        if o.terms.wrong_term:
            t, uses, expected = o.terms.wrong_term
            data["wrong_term"] = {"t": t, "uses": uses, "expected": expected}
    if o.shape_only:
        data["shape_only"] = {"got": list(o.shape_only.got), "expected": list(o.shape_only.expected),
                              "granted": o.shape_only.granted}
    if o.derived:
        data.update(derived=True, derived_from=o.derived.source, localization=o.derived.localization,
                    note=o.derived.note)
    return data


def diagnosis_json(d: Diagnosis) -> dict:
    return {"mistake": d.mistake, "output": d.output, "params": d.params, "change": d.change,
            "explanation": d.explanation, "indistinguishable_from": list(d.indistinguishable_from)}


def across_json(a: AcrossProblems) -> dict:
    return {"mistake": a.mistake, "params": a.params, "change": a.change,
            "problems": list(a.problems)}


def problem_json(p: ProblemResult) -> dict:
    return {"id": p.id, "title": p.title, "visibility": p.visibility, "T": p.T, "sizes": p.sizes or {"T": p.T},
            "status": p.status,
            "score": p.score, "max_score": p.max_score, "message": p.message,
            "outputs": {o.name: output_json(o) for o in p.outputs},
            "diagnosis": [diagnosis_json(d) for d in p.diagnosis],
            "traceback": p.traceback, "submission_output": p.submission_output}


def report_json(report: Report) -> dict:
    return {"problem_set": report.problem_set, "submission": report.submission,
            "score": report.score, "max_score": report.max_score,
            "problems": [problem_json(p) for p in report.problems],
            "diagnosis_across_problems": [across_json(a) for a in report.diagnosis_across_problems],
            "metadata": report.metadata}


def json_layout(pretty: bool) -> dict[str, Any]:
    """json.dumps' layout: indented for a person at a terminal (`pretty`), else compact
    (files, records, pipes)."""
    return {"indent": 2} if pretty else {"separators": (",", ":")}


@register("json", extension=".json")
def render(report: Report, pretty: bool = False) -> str:
    return json_text(report_json(report), **json_layout(pretty)) + "\n"
