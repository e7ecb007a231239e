"""The pytest plugin (entry point `pytest11`: bptt_grade). With

    pytest --bptt-problem-set problem_sets/X.yaml --bptt-submission my_rnn.py

the problem set is collected like a test file: each visible problem is a test item,
`X.yaml::PROBLEM_ID`, that fails unless every graded output passes, and its failure
message is the text report's divergence table (and diagnosis). Hidden problems are
neither run nor named. The submission is graded once, in its sandbox as `check` does,
when the first item runs. Without the options the plugin does nothing and imports
nothing beyond pytest.
"""
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from grader.problem_set import ProblemSet

PROBLEM_SET: "pytest.StashKey[ProblemSet]" = pytest.StashKey()     # the loaded problem set, when the options are given


def pytest_addoption(parser):
    group = parser.getgroup("bptt-grade", "grade a BPTT submission on a problem set's visible problems")
    group.addoption("--bptt-problem-set", metavar="PROBLEM_SET", help="the problem set (YAML)")
    group.addoption("--bptt-submission", metavar="SUBMISSION", help="the submission: a Python file or a folder")


def pytest_configure(config):
    """Load the problem set, and collect it even when it lies outside the paths given."""
    problem_set_path, submission = config.getoption("bptt_problem_set"), config.getoption("bptt_submission")
    if problem_set_path is None and submission is None:
        return
    if problem_set_path is None or submission is None:
        raise pytest.UsageError("--bptt-problem-set and --bptt-submission go together: give both")
    from grader import loader
    from grader.errors import GraderError
    try:
        config.stash[PROBLEM_SET] = loader.load(problem_set_path)
    except GraderError as error:
        raise pytest.UsageError(str(error)) from None
    if not Path(submission).exists():
        raise pytest.UsageError(f"--bptt-submission {submission} does not exist")
    path = Path(problem_set_path).resolve()
    given = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    if not any(path == root or path.is_relative_to(root) for root in given):
        config.args.append(str(path))


def pytest_collect_file(file_path, parent):
    problem_set = parent.config.stash.get(PROBLEM_SET, None)
    if problem_set is not None and file_path == Path(problem_set.path).resolve():
        return ProblemSetFile.from_parent(parent, path=file_path)
    return None


class ProblemSetFile(pytest.File):
    """The problem set: it grades the submission once, on the visible problems."""
    _report = None

    def collect(self):
        for problem in self.config.stash[PROBLEM_SET].selected(include_hidden=False):
            yield ProblemItem.from_parent(self, name=problem.id)

    def report(self):
        if self._report is None:
            from grader.submissions import grade_path
            self._report = grade_path(self.config.stash[PROBLEM_SET], self.config.getoption("bptt_submission"))
        return self._report


class ProblemNotPassed(Exception):
    """A problem whose graded outputs did not all pass; args[0] is its ProblemResult."""


class ProblemItem(pytest.Item):
    def runtest(self):
        result = next(p for p in self.parent.report().problems if p.id == self.name)
        if result.status != "passed":
            raise ProblemNotPassed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ProblemNotPassed):
            from grader.reports.feedback import problem_feedback
            return problem_feedback(excinfo.value.args[0])
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"
