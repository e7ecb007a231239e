"""What a student may see of a report, for every format but `json` (the instructor's
record): all of a visible problem; of a hidden problem its id, title, score and status,
with a message of the grader's own and nothing else. The submission sees a hidden
problem's trace, so what it printed, raised or named (exception class names included) on
one may carry that trace, and an expected value is the answer."""
from dataclasses import replace

from grader.results import ProblemResult, Report

HIDDEN_MESSAGES = {"passed": "every graded output matches",
                   "failed": "some graded outputs differ from the reference (details of hidden problems are not shown)",
                   "error": "the submission gave no usable result (details of hidden problems are not shown)"}


def student_view(p: ProblemResult) -> ProblemResult:
    """`p`, or for a hidden problem `p` without its message, traceback, printed output and
    diagnosis (its outputs stay, for the score: the formats show none of a hidden problem's)."""
    if p.visibility != "hidden":
        return p
    message = HIDDEN_MESSAGES.get(p.status, "details of hidden problems are not shown")
    return replace(p, message=message, traceback="", submission_output="", diagnosis=())


def student_report(report: Report) -> Report:
    """`report` with every problem as student_view shows it, and no diagnosis across
    problems that names a hidden one."""
    hidden = {p.id for p in report.problems if p.visibility == "hidden"}
    return replace(report, problems=tuple(map(student_view, report.problems)),
                   diagnosis_across_problems=tuple(a for a in report.diagnosis_across_problems
                                                   if not hidden & set(a.problems)))
