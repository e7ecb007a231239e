"""PrairieLearn's results.json (validates against schemas/prairielearn.schema.json):
`score` in [0, 1] and a test per problem; `gradable: false` with `format_errors` when the
submission could not be imported, or the grader failed to grade it (failed_to_grade: no
score is given or taken). Hidden problems show only their score and status
(grader/reports/student_view.py), and nothing they printed. PrairieLearn turns ANSI escapes
in a message or output into HTML (and escapes HTML itself), so control characters are
escaped (grader/text_safety.py). Whatever the submission printed, the file stays under
MAX_BYTES (PrairieLearn's limit is 1 MB): long texts are cut until it fits."""
from grader.reports.feedback import clip, problem_feedback
from grader.reports.json_report import json_layout
from grader.reports.registry import register
from grader.reports.student_view import student_report
from grader.results import Report
from grader.text_safety import json_text, printable

MAX_BYTES = 1_000_000
TEXT_LIMIT = 100_000        # characters per text field, at first


def printed(report: Report) -> str:
    """What the submission printed (the start), from the first visible problem that has any."""
    return printable(next((p.submission_output for p in report.problems
                           if p.submission_output and p.visibility == "visible"), ""))


def results_json(report: Report, limit: int = TEXT_LIMIT) -> dict:
    """The results, each text field cut to `limit` characters."""
    report = student_report(report)
    if report.metadata.get("import_error"):
        return {"gradable": False, "format_errors": [clip(printable(report.metadata["import_error"]), limit)],
                "message": "Your submission could not be graded; fix it and submit again.",
                "output": clip(printed(report), limit)}
    if report.failed_to_grade:
        return {"gradable": False, "format_errors": [clip(report.metadata.get("failed_to_grade", ""), limit)],
                "message": "The grader failed to grade your submission (a fault of the grader, not yours): "
                           "submit it again, or ask your instructor.", "output": ""}
    passed = sum(p.status == "passed" for p in report.problems)
    return {"gradable": True,
            "score": min(1.0, report.score / report.max_score) if report.max_score else 0.0,
            "message": f"{report.score:g}/{report.max_score:g} points: "
                       f"{passed} of {len(report.problems)} problems pass.",
            "output": clip(printed(report), limit),
            "tests": [{"name": printable(p.id), "description": printable(p.title), "points": p.score,
                       "max_points": p.max_score, "message": clip(printable(p.message), limit),
                       "output": "" if p.visibility == "hidden" else clip(problem_feedback(p), limit)}
                      for p in report.problems]}


@register("prairielearn", extension=".json")
def render(report: Report, pretty: bool = False) -> str:
    limit = TEXT_LIMIT
    while True:
        text = json_text(results_json(report, limit), **json_layout(pretty)) + "\n"
        if len(text.encode()) < MAX_BYTES or limit == 0:
            return text
        limit //= 4
