"""A short Markdown report, for a CI job summary ($GITHUB_STEP_SUMMARY) or a pull-request
comment: the score, a table with a row per problem, and for each problem that did not
pass its feedback folded in a <details> block. Text is escaped for Markdown and HTML
(grader/text_safety.py), and a hidden problem shows only its score and status
(grader/reports/student_view.py)."""
from grader.reports.feedback import divergence_summary, problem_feedback
from grader.reports.registry import register
from grader.reports.student_view import student_report
from grader.results import ProblemResult, Report
from grader.text_safety import html_text, markdown_block, markdown_inline


def problem_markdown(p: ProblemResult) -> str:
    """The problem's feedback, and what the submission printed, as code blocks."""
    parts = [markdown_block(problem_feedback(p))]
    if p.submission_output:
        parts += ["What the submission printed (the start):", markdown_block(p.submission_output)]
    return "\n\n".join(parts)


def _row(p: ProblemResult) -> str:
    return (f"| {markdown_inline(p.id)} | {p.score:g}/{p.max_score:g} | {p.status} | "
            f"{markdown_inline(divergence_summary(p)) or '—'} |")


@register("markdown", extension=".md")
def render(report: Report) -> str:
    report = student_report(report)
    passed = sum(p.status == "passed" for p in report.problems)
    lines = [f"### bptt-grade: {report.score:g}/{report.max_score:g}", "",
             f"{markdown_inline(report.submission)} against {markdown_inline(report.problem_set)}: "
             f"{passed} of {len(report.problems)} problems pass.", "",
             "| problem | score | status | first divergence (BPTT order) |", "| --- | ---: | --- | --- |",
             *map(_row, report.problems)]
    for p in report.problems:
        if p.status != "passed":     # the <summary> line is an HTML block: HTML escaping is what holds there
            lines += ["", f"<details><summary><code>{html_text(p.id)}</code>: {html_text(p.message)}</summary>", "",
                      problem_markdown(p), "", "</details>"]
    return "\n".join(lines) + "\n"
