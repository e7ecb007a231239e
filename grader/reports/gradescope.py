"""Gradescope's results.json (validates against schemas/gradescope.schema.json): a test
per problem, in problem-set order, with its score, status, Markdown feedback, tags, and the
first divergences and diagnosis in `extra_data`. Hidden problems get the visibility
`hidden_visibility` ("after_published" by default, or "hidden") and show only their score
and status (grader/reports/student_view.py); the summary that students always see counts
only the visible problems. Text is escaped for Markdown and HTML (grader/text_safety.py)."""
from grader.reports.feedback import diagnosis, first_divergences
from grader.reports.json_report import json_layout
from grader.reports.markdown import problem_markdown
from grader.reports.registry import register
from grader.reports.student_view import student_report
from grader.results import ProblemResult, Report
from grader.text_safety import json_text, markdown_inline, printable

HIDDEN_VISIBILITIES = ("after_published", "hidden")


def test_json(p: ProblemResult, number: int, hidden_visibility: str) -> dict:
    diagnosed = diagnosis(p)
    return {"name": printable(f"{p.id}: {p.title}" if p.title != p.id else p.id), "number": str(number),
            "score": p.score, "max_score": p.max_score,
            "status": "passed" if p.status == "passed" else "failed",
            "output": f"{markdown_inline(p.message)}\n\n{problem_markdown(p)}", "output_format": "md",
            "visibility": hidden_visibility if p.visibility == "hidden" else "visible",
            "tags": [p.visibility, p.status, *sorted({str(d.get("mistake")) for d in diagnosed})],
            "extra_data": {"id": p.id, "status": p.status, "T": p.T,
                           "first_divergence": first_divergences(p), "diagnosis": diagnosed}}


def summary(report: Report) -> str:
    """What every student sees at once: the visible problems only."""
    visible = [p for p in report.problems if p.visibility == "visible"]
    text = (f"Visible problems: {sum(p.score for p in visible):g}/{sum(p.max_score for p in visible):g} points, "
            f"{sum(p.status == 'passed' for p in visible)} of {len(visible)} pass.")
    if len(visible) < len(report.problems):
        text += " Hidden problems are graded too: their results appear when grades are published."
    if report.metadata.get("import_error"):
        text += f"\n\n**Your submission could not be imported**: {markdown_inline(report.metadata['import_error'])}"
    return text


def results_json(report: Report, hidden_visibility: str = "after_published") -> dict:
    if hidden_visibility not in HIDDEN_VISIBILITIES:
        raise ValueError(f"hidden_visibility is one of {HIDDEN_VISIBILITIES}, not {hidden_visibility!r}")
    report = student_report(report)
    return {"score": report.score, "execution_time": report.metadata.get("execution_time", 0.0),
            "output": summary(report), "output_format": "md",
            "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [test_json(p, number, hidden_visibility) for number, p in enumerate(report.problems, 1)],
            "extra_data": {"problem_set": report.problem_set, "max_score": report.max_score}}


@register("gradescope", extension=".json")
def render(report: Report, hidden_visibility: str = "after_published", pretty: bool = False) -> str:
    return json_text(results_json(report, hidden_visibility), **json_layout(pretty)) + "\n"
