"""A short Markdown report, for a CI job summary ($GITHUB_STEP_SUMMARY) or a pull-request
comment: the score, a table with a row per problem, and for each problem that did not
pass its feedback folded in a <details> block. Text from the submission is escaped."""
import html
import re

from grader.reports.feedback import divergence_summary, problem_feedback
from grader.reports.registry import register
from grader.results import ProblemResult, Report


def fenced(text: str, info: str = "text") -> str:
    """`text` in a code block whose fence is longer than any run of backticks inside it."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}{info}\n{text}\n{fence}"


def problem_markdown(p: ProblemResult) -> str:
    """The problem's feedback, and what the submission printed, as code blocks."""
    parts = [fenced(problem_feedback(p))]
    if p.submission_output:
        parts += ["What the submission printed (the start):", fenced(p.submission_output)]
    return "\n\n".join(parts)


def _row(p: ProblemResult) -> str:
    return f"| `{p.id}` | {p.score:g}/{p.max_score:g} | {p.status} | {divergence_summary(p) or '—'} |"


@register("markdown", extension=".md")
def render(report: Report) -> str:
    passed = sum(p.status == "passed" for p in report.problems)
    lines = [f"### bptt-grade: {report.score:g}/{report.max_score:g}", "",
             f"`{html.escape(report.submission)}` against `{html.escape(report.problem_set)}`: "
             f"{passed} of {len(report.problems)} problems pass.", "",
             "| problem | score | status | first divergence (BPTT order) |", "| --- | ---: | --- | --- |",
             *map(_row, report.problems)]
    for p in report.problems:
        if p.status != "passed":
            lines += ["", f"<details><summary><code>{p.id}</code>: {html.escape(p.message)}</summary>", "",
                      problem_markdown(p), "", "</details>"]
    return "\n".join(lines) + "\n"
