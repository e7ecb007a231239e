"""The zygote (grader/zygote.py) forks each sandbox instead of starting an interpreter:
the reports must be exactly those of a fresh interpreter, at every isolation level."""
import shutil
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from grader import loader, sandbox
from grader.errors import SandboxUnavailable
from grader.grading import grade
from grader.reports.json_report import report_json
from grader.runner import Zygote
from grader.sandbox import sandbox_for
from tests.conftest import EXAMPLES, ROOT, SHIPPED_SET
from tests.test_hostile import LEVELS

HOSTILE = ROOT / "tests" / "hostile"
SUBMISSIONS = [EXAMPLES / "correct.py", EXAMPLES / "seed_typo_phi_prime_of_h.py", HOSTILE / "raises.py",
               HOSTILE / "os_exit.py", HOSTILE / "syntax_error.py", HOSTILE / "wrong_shapes.py"]
LIST_GRADER_MODULES = """\
import sys
print(sorted(m for m in sys.modules if m.split(".")[0] in ("grader", "reference", "yaml", "jsonschema")))
from correct import backward
"""


def readable_copy(source: Path, name: str = "submission.py") -> Path:
    """`source` in a fresh folder others may read (at the rlimits level as root it runs as
    nobody), beside the examples it may import."""
    folder = Path(tempfile.mkdtemp(prefix="bptt-zygote-"))
    folder.chmod(0o755)
    shutil.copy(source, folder / name)
    for helper in ("correct.py", "student_math.py"):
        shutil.copy(EXAMPLES / helper, folder / helper)
    for path in folder.iterdir():
        path.chmod(path.stat().st_mode | stat.S_IROTH)
    return folder / name


def comparable(report) -> dict:
    document = report_json(report)
    del document["metadata"]["execution_time"]
    return document


@pytest.mark.parametrize("isolation", LEVELS)
@pytest.mark.parametrize("source", SUBMISSIONS, ids=lambda p: p.stem)
def test_zygote_and_fresh_interpreter_give_identical_reports(source, isolation):
    shipped = loader.load(SHIPPED_SET)
    submission = readable_copy(source)
    try:
        reports = [grade(shipped, submission, include_hidden=True, isolation=isolation, start=start,
                         limits_override={"timeout": 10})
                   for start in ("zygote", "fresh")]
    finally:
        shutil.rmtree(submission.parent)
    assert comparable(reports[0]) == comparable(reports[1])


@pytest.mark.parametrize("isolation", LEVELS)
def test_a_forked_submission_finds_nothing_of_the_grader_imported(isolation, write_submission):
    shipped = loader.load(SHIPPED_SET)
    submission = readable_copy(write_submission(LIST_GRADER_MODULES))
    try:
        report = grade(shipped, submission, isolation=isolation)
    finally:
        shutil.rmtree(submission.parent)
    assert report.problems[0].submission_output == "[]\n"
    assert report.passed


def test_a_dead_zygote_is_replaced_and_grading_goes_on():
    shipped = loader.load(SHIPPED_SET)
    grade(shipped, EXAMPLES / "correct.py")
    dead = Zygote.shared()
    dead.popen.kill()
    dead.popen.wait()
    assert grade(shipped, EXAMPLES / "correct.py").passed
    assert Zygote.shared().popen.pid != dead.popen.pid


def test_the_zygotes_trial_run_and_a_fresh_interpreters_agree_on_this_host():
    assert sandbox.unavailable("namespaces", "zygote") == sandbox.unavailable("namespaces", "fresh")


@pytest.fixture
def zygote_trying(monkeypatch):
    """Start a new zygote, the first of this process again, whose trial runs see `level` as
    the namespaces level; every zygote started meanwhile is stopped after."""
    monkeypatch.setattr(Zygote, "_running", {})
    monkeypatch.setattr(Zygote, "trials", None)

    def start(level: sandbox.Level) -> Zygote:
        monkeypatch.setitem(sandbox.LEVELS, "namespaces", level)
        sandbox.unavailable.cache_clear()
        return Zygote.shared()
    yield start
    for zygote in list(Zygote._running.values()):
        zygote.stop()
    sandbox.unavailable.cache_clear()


def test_a_level_whose_trial_fails_in_the_zygote_is_unavailable_for_the_trials_reason(zygote_trying):
    zygote_trying(replace(sandbox.LEVELS["namespaces"], namespaces=("no-such-namespace",)))
    assert sandbox.unavailable("namespaces") == "the sandbox could not be started: 'no-such-namespace'"
    assert sandbox.choose("auto").name == "rlimits"


def test_only_the_first_zygote_of_a_process_makes_trial_runs(zygote_trying):
    first = zygote_trying(sandbox.LEVELS["namespaces"])
    assert set(first.trial_outcomes()) == {"namespaces"}
    Zygote.trial_run("namespaces")
    first.stop()
    assert Zygote.shared().trial_outcomes() == {}


def test_a_zygote_that_cannot_make_its_trial_run_stops_grading_rather_than_lower_isolation(zygote_trying,
                                                                                           monkeypatch):
    def no_answer(zygote):
        zygote.stop()
        raise OSError("the zygote did not answer: [Errno 11] Resource temporarily unavailable")
    monkeypatch.setattr(Zygote, "trial_outcomes", no_answer)
    with pytest.raises(SandboxUnavailable) as refused:
        sandbox_for(SHIPPED_SET)
    assert str(refused.value) == ("the isolation trial run could not be made: "
                                  "the zygote did not answer: [Errno 11] Resource temporarily unavailable")
