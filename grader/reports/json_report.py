"""The JSON report: validates against grader/schemas/report.schema.json. It is the
instructor's full record (hidden problems' details included), in valid UTF-8."""
import math
from typing import Any

import numpy as np

from grader.reports.registry import register
from grader.results import AcrossProblems, Diagnosis, OutputResult, ProblemResult, Report
from grader.text_safety import json_text


def _numbers(array: np.ndarray):
    """Plain floats (or nested lists of them, as the array's shape); non-finite values become null."""
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 0:
        value = float(values)
        return value if math.isfinite(value) else None
    return [_numbers(row) for row in values] if values.ndim > 1 else [
        v if math.isfinite(v) else None for v in values.tolist()]


def output_json(o: OutputResult) -> dict:
    data: dict[str, Any] = {"passed": o.passed, "points": o.points, "score": o.score}
    c = o.comparison
    if c is None:
        return {**data, "got": None, "error": o.unusable}
    data.update(expected=_numbers(c.expected), got=_numbers(c.got), max_abs_error=c.max_abs_error)
    if o.per_timestep:
        t = c.first_divergence
        data.update(first_divergence=None if t is None else {"t": t, "order": c.order},
                    diverging_timesteps=c.diverging_timesteps)
    if o.terms:
        data.update(consistent_with_your_dL_ds=o.terms.consistent, dL_ds_used=o.terms.method)
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


@register("json", extension=".json")
def render(report: Report) -> str:
    return json_text(report_json(report), indent=2) + "\n"
