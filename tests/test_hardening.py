"""Issue 11's sandbox and batch half, from the command line: limits per sandbox (IPC,
entry-file detection, printing, memory), privacy of what the sandbox hides, grader faults
(failed_to_grade), student ids of any bytes, the rlimits level's uid pool, and a batch
stopped by SIGTERM or SIGKILL. Each test checks the exact outcome and that no process survives."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import grader.batch
import grader.grading
import grader.runner
import grader.uid_pool
from grader import loader
from grader.cli import main
from grader.reports import FORMATS, render
from grader.results import FAILED_TO_GRADE
from grader.sandbox import LEVELS, Sandbox
from grader.submissions import report_name, uncalled_report
from grader.uid_pool import UID_POOL
from tests import test_hostile
from tests.conftest import EXAMPLES, ROOT, SHIPPED_SET
from tests.test_cli import SMALL_SET
from tests.test_hostile import NAMESPACES, processes_naming
from tests.test_uid_pool import owned_by

grade_attack = test_hostile.grade_attack        # the fixture, shared

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@NAMESPACES
def test_shared_memory_is_bounded_by_the_sandboxs_ipc_namespace(grade_attack):
    graded = grade_attack("shared_memory", "--memory-limit", "256", "--timeout", "20", isolation="namespaces")
    assert (graded.code, graded.first["status"], graded.first["score"]) == (0, "passed", 10)
    assert graded.first["submission_output"] == "detached: 0 MB exist\nattached: 64 MB exist\n"
    assert graded.leftovers == []


def test_a_death_at_the_memory_limit_says_it_ran_out_of_memory(grade_attack):
    graded = grade_attack("out_of_memory_crash", "--memory-limit", "300")
    assert (graded.code, graded.first["status"], graded.first["message"], graded.second["status"]) == (
        1, "error", "the submission ran out of memory during the call (the limit is 300 MB)", "passed")
    assert graded.leftovers == []


def test_the_print_limit_is_per_call(grade_attack):
    graded = grade_attack("prints_every_call")
    assert (graded.code, graded.first["status"], graded.second["status"]) == (0, "passed", "passed")
    assert graded.second["submission_output"].endswith(f"\n[… {(10 << 20) + 1 - 4000} more bytes]\n")


@NAMESPACES
def test_the_sandbox_never_holds_the_hidden_paths_and_a_hard_link_of_one_is_covered(grade_attack, tmp_path):
    roster = tmp_path / "secret-roster-0123abcd"
    roster.write_text("ada bob cy\n")
    graded = grade_attack("searches_its_memory", "--hide", str(roster), isolation="namespaces",
                          before=lambda folder: os.link(roster, folder / "linked.txt"))
    assert (graded.code, graded.first["status"]) == (0, "passed")
    assert graded.first["submission_output"] == "memory 0, command lines 0, linked.txt ''\n"
    assert graded.leftovers == []


def test_entry_file_detection_reads_a_bounded_prefix_and_never_leaves_the_folder(tmp_path, capsys):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "rnn.py").write_text((EXAMPLES / "correct.py").read_text())
    (folder / "student_math.py").write_text((EXAMPLES / "student_math.py").read_text())
    with open(folder / "big.py", "wb") as big:                  # 1.5 GB, sparse, no def backward( in its first MB
        big.truncate(1536 << 20)
    (tmp_path / "elsewhere.py").write_text("def backward(trace):\n    return {}\n")
    (folder / "outside.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = main(["grade", str(tmp_path / "set.yaml"), str(folder), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["score"]) == (0, 14)
    assert report["submission"].endswith("/student/rnn.py")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 << 10    # KB: no whole read


def test_a_sandbox_that_cannot_start_is_failed_to_grade_with_exit_1(tmp_path, capsys, monkeypatch):
    def refuse(self, request, fds):
        raise OSError("the zygote did not answer: Resource temporarily unavailable")

    monkeypatch.setattr(grader.runner.Zygote, "spawn", refuse)
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    code = main(["grade", str(tmp_path / "set.yaml"), str(EXAMPLES / "correct.py"), "--format", "json",
                 "--min-score", "0"])
    report = json.loads(capsys.readouterr().out)
    why = "the submission could not be started in its sandbox (the zygote did not answer: Resource temporarily " \
          "unavailable)"
    assert code == 1
    assert report["metadata"]["failed_to_grade"] == why and "import_error" not in report["metadata"]
    assert [(p["status"], p["score"], p["message"]) for p in report["problems"]] == [
        ("failed_to_grade", 0, f"not graded: {why} (a fault of the grader or host, not of the submission; "
                               "grade it again)")] * 2


def write_folder_submission(folder: Path) -> None:
    folder.mkdir()
    (folder / "rnn.py").write_text((EXAMPLES / "correct.py").read_text())
    (folder / "student_math.py").write_text((EXAMPLES / "student_math.py").read_text())


def test_batch_grades_ids_of_any_bytes_and_length_and_none_affects_another(tmp_path, capsys):
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    cls = tmp_path / "class"
    cls.mkdir()
    long_id, odd_id = "x" * 250, os.fsdecode(b"caf\xe9\x1b[2J")
    for student in ("ada", long_id, odd_id):
        write_folder_submission(cls / student)
    (cls / os.fsdecode(b"n\xffo.py")).write_text("def backward(trace):\n    return {}\n")
    (cls / "ghost.py").symlink_to(tmp_path / "nowhere.py")
    os.mkfifo(cls / "pipe.py")
    assert main(["batch", str(tmp_path / "set.yaml"), str(cls), "-o", str(tmp_path / "out"), "--jobs", "2",
                 "--format", "json", "--format", "text"]) == 0
    rows = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()[1:]
    assert rows == ["ada,14,14,10,4,passed,", "caf\\xe9\\x1b[2J,14,14,10,4,passed,",
                    f"ghost,0,14,0,0,error,the submission cannot be graded: submission {cls / 'ghost.py'} "
                    "does not exist",
                    "n\\xffo,0,14,0,0,failed,",
                    f"pipe,0,14,0,0,error,the submission cannot be graded: submission {cls / 'pipe.py'} "
                    "is not a file or folder", f"{long_id},14,14,10,4,passed,"]
    names = sorted(p.name for p in (tmp_path / "out" / "text").iterdir())
    assert names == sorted(f"{report_name(s)}.txt" for s in ("ada", long_id, odd_id, os.fsdecode(b"n\xffo"), "ghost",
                                                               "pipe"))
    ghost = json.loads((tmp_path / "out" / "json" / "ghost.json").read_text())["problems"][0]["message"]
    assert ghost == f"the submission cannot be graded: submission {cls / 'ghost.py'} does not exist"
    assert report_name(long_id) == "x" * 40 + "~" + report_name(long_id)[-12:]
    assert json.loads((tmp_path / "out" / "json" / f"{report_name(odd_id)}.json").read_text())["score"] == 14


def test_a_worker_that_dies_leaves_its_submission_failed_to_grade_and_the_rest_graded(tmp_path, capsys, monkeypatch):
    graded = grader.batch.grade_path

    def dies_on_bob(problem_set, path, *args, **kwargs):
        if Path(path).name == "bob":
            os.kill(os.getpid(), signal.SIGKILL)
        return graded(problem_set, path, *args, **kwargs)

    monkeypatch.setattr(grader.batch, "grade_path", dies_on_bob)
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    (tmp_path / "class").mkdir()
    for student in ("ada", "bob", "cy"):
        write_folder_submission(tmp_path / "class" / student)
    command = ["batch", str(tmp_path / "set.yaml"), str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--jobs", "2"]
    assert main(command) == 1
    assert capsys.readouterr().err.endswith("bptt-grade: bob failed_to_grade (the grading worker died (killed by "
                                            "SIGKILL)): run batch again to grade it\n")
    rows = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()[1:]
    assert rows == ["ada,14,14,10,4,passed,", "bob,,,,,failed_to_grade,the grading worker died (killed by SIGKILL)",
                    "cy,14,14,10,4,passed,"]
    monkeypatch.undo()
    assert main(command) == 0
    assert "1 graded now, 2 already recorded" in capsys.readouterr().out


def rlimits_batch(tmp_path: Path, attack: str, *options: str, students=("ada", "bob")) -> int:
    """`batch --isolation rlimits --jobs 2` of `students` submitting tests/hostile/ATTACK.py
    (beside an honest correct.py), from a class folder readable by others all the way down
    (as root the rlimits level runs submissions under other uids); its exit code."""
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    cls = Path(tempfile.mkdtemp(prefix=f"bptt-{attack}-"))
    try:
        cls.chmod(0o755)
        for student in students:
            (cls / student).mkdir(mode=0o755)
            shutil.copy(ROOT / "tests" / "hostile" / f"{attack}.py", cls / student / "submission.py")
            for helper in ("correct.py", "student_math.py"):
                shutil.copy(EXAMPLES / helper, cls / student / helper)
            for path in (cls / student).iterdir():
                path.chmod(0o644)
        return main(["batch", str(tmp_path / "set.yaml"), str(cls), "-o", str(tmp_path / "out"), "--jobs", "2",
                     "--isolation", "rlimits", *options])
    finally:
        shutil.rmtree(cls)


def printed_uids(out: Path) -> set[int]:
    """The uids the submissions graded into `out` printed (first problem's output: `uid N`)."""
    return {int(json.loads(path.read_text())["problems"][0]["submission_output"].split()[1])
            for path in (out / "json").iterdir()}


@ROOT_ONLY
def test_rlimits_batch_runs_each_concurrent_sandbox_under_a_uid_of_its_own(tmp_path, capsys):
    assert rlimits_batch(tmp_path, "reports_limits") == 0
    uids = printed_uids(tmp_path / "out")
    assert len(uids) == 2 and uids <= set(UID_POOL)


def batch_process(tmp_path: Path) -> subprocess.Popen:
    """A batch of four submissions that each loop forever (10 s timeout), two at a time,
    returned once a sandbox runs (the batch's own command line names the class folder too)."""
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    (tmp_path / "class").mkdir()
    for student in ("ada", "bob", "cy", "dee"):
        (tmp_path / "class" / f"{student}.py").write_text("def backward(trace):\n    while True:\n        pass\n")
    process = subprocess.Popen([sys.executable, "-m", "grader", "batch", str(tmp_path / "set.yaml"),
                                str(tmp_path / "class"), "-o", str(tmp_path / "out"), "--jobs", "2",
                                "--timeout", "10"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not processes_naming(f"bptt-grade sandbox {tmp_path / 'class'}"):     # a sandbox is running
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    return process


def gone_within(marker: str, seconds: float) -> float:
    """Seconds until no process names `marker`; fails after `seconds`."""
    start = time.monotonic()
    while processes_naming(marker):
        if time.monotonic() - start > seconds:
            for pid in processes_naming(marker):
                os.kill(pid, signal.SIGKILL)
            pytest.fail(f"processes of {marker} outlived the batch")
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.mark.parametrize("signal_number, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signalled_batch_stops_kills_its_tree_and_writes_the_gradebook(tmp_path, signal_number, code):
    process = batch_process(tmp_path)
    process.send_signal(signal_number)
    _, err = process.communicate(timeout=30)
    gone_within(str(tmp_path / "class"), 5)
    assert (process.returncode, err.splitlines()[-1]) == (code, "bptt-grade: interrupted")
    assert (tmp_path / "out" / "gradebook.csv").read_text().splitlines()[1:] == [
        f"{s},,,,,not graded," for s in ("ada", "bob", "cy", "dee")]


def test_nothing_of_a_killed_batch_outlives_the_current_call(tmp_path):
    process = batch_process(tmp_path)
    process.kill()
    process.communicate(timeout=30)
    gone_within(str(tmp_path / "class"), 10)          # the call's timeout; in practice at once


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_says_failed_to_grade(name):
    problem_set = loader.load(SHIPPED_SET)
    report = uncalled_report(problem_set, Path("s.py"), problem_set.selected(True), FAILED_TO_GRADE,
                             "the grading worker died (killed by SIGKILL)")
    text = render(name, report, hidden_visibility="after_published")
    message = "not graded: the grading worker died (killed by SIGKILL) (a fault of the grader or host, not of " \
              "the submission; grade it again)"
    if name == "prairielearn":
        assert json.loads(text)["gradable"] is False and "the grading worker died" in text
    else:
        assert message in text and (name == "json" or "failed_to_grade" in text or 'errors="10"' in text)


def test_scoring_and_diagnosis_start_once_the_submissions_processes_are_gone(tmp_path, monkeypatch):
    seen = []
    scored = grader.grading.problem_result

    def counting(problem, exercise, outcome):
        seen.append(len(processes_naming(str(tmp_path / "student"))))
        return scored(problem, exercise, outcome)

    monkeypatch.setattr(grader.grading, "problem_result", counting)
    write_folder_submission(tmp_path / "student")
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    assert main(["grade", str(tmp_path / "set.yaml"), str(tmp_path / "student"), "--output",
                 str(tmp_path / "report.txt")]) == 0
    assert seen == [0, 0]


@pytest.mark.parametrize("cause, why", [
    ("not root", "which needs root"),
    pytest.param("an unusable lock folder", "and the spare uids' lock folder is unusable ({uids} is not a folder only "
                 "root may write)", marks=ROOT_ONLY),
    pytest.param("no free uid", "and fewer than 2 uids of 0–1 are free", marks=ROOT_ONLY),
])
def test_rlimits_batch_without_spare_uids_grades_one_at_a_time_and_says_why(tmp_path, capsys, monkeypatch,
                                                                            cause, why):
    if cause == "not root":
        monkeypatch.setattr(grader.uid_pool.os, "geteuid", lambda: 1000)
    elif cause == "an unusable lock folder":
        (tmp_path / "uids").mkdir()
        (tmp_path / "uids").chmod(0o777)
        monkeypatch.setattr(grader.uid_pool, "LOCK_DIR", tmp_path / "uids")
    else:
        monkeypatch.setattr(grader.uid_pool, "UID_POOL", range(0, 2))     # root's; daemon's or a process's
    (tmp_path / "set.yaml").write_text(SMALL_SET)
    (tmp_path / "class").mkdir()
    for student in ("ada", "bob"):
        (tmp_path / "class" / f"{student}.py").write_text("def backward(trace):\n    return {}\n")
    assert main(["batch", str(tmp_path / "set.yaml"), str(tmp_path / "class"), "-o", str(tmp_path / "out"),
                 "--jobs", "2", "--isolation", "rlimits"]) == 0
    assert capsys.readouterr().err.startswith(
        "bptt-grade: at the rlimits level submissions graded at once could signal each other unless each runs "
        f"under a uid of its own, {why.format(uids=tmp_path / 'uids')}: grading one at a time\n")


def modes(folder: Path) -> dict[str, tuple]:
    """Each path under `folder` (itself "."), links not followed: its owner, group and mode."""
    status = {str(path.relative_to(folder)): path.lstat() for path in [folder, *folder.rglob("*")]}
    return {path: (s.st_uid, s.st_gid, oct(s.st_mode & 0o7777)) for path, s in status.items()}


def given_folder(tmp_path: Path, user: int | None) -> dict[str, tuple]:
    """modes() of a job's folder (a submission folder, a file, a link) after Sandbox.give
    to a rlimits sandbox running as `user`, made under a umask that lets every uid write."""
    job = tmp_path / "job"
    previous = os.umask(0)
    try:
        (job / "submission").mkdir(parents=True)
        (job / "submission" / "rnn.py").write_text("X = 1\n")
        (job / "submission" / "hostname").symlink_to("/etc/hostname")
    finally:
        os.umask(previous)
    Sandbox(LEVELS["rlimits"], (), (), user).give(job)
    return modes(job)


def test_a_sandbox_under_the_grader_s_own_uid_is_given_its_folder_as_the_grader_s_alone(tmp_path):
    me, link = (os.geteuid(), os.getegid()), Path("/etc/hostname").lstat()
    assert given_folder(tmp_path, None) == {".": (*me, "0o700"), "submission": (*me, "0o700"),
                                             "submission/rnn.py": (*me, "0o600"),
                                             "submission/hostname": (*me, "0o777")}
    assert Path("/etc/hostname").lstat() == link


@ROOT_ONLY
def test_a_sandbox_under_another_uid_is_given_its_folder_to_read_through_its_group_alone(tmp_path):
    uid, link = UID_POOL.start, Path("/etc/hostname").lstat()
    assert given_folder(tmp_path, uid) == {".": (0, uid, "0o750"), "submission": (0, uid, "0o750"),
                                            "submission/rnn.py": (0, uid, "0o640"),
                                            "submission/hostname": (0, 0, "0o777")}
    assert Path("/etc/hostname").lstat() == link


def pool_segments() -> set[int]:
    """The ids of the System V shared-memory segments that uids of the pool own."""
    rows = [row.split() for row in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    return {int(row[1]) for row in rows if int(row[7]) in UID_POOL}


@ROOT_ONLY
def test_rlimits_batch_removes_the_shared_memory_a_submission_left(tmp_path, capsys):
    before = pool_segments()        # left by an earlier run killed on this host, if any
    assert rlimits_batch(tmp_path, "shared_memory", "--timeout", "20") == 0
    assert pool_segments() - before == set()


@ROOT_ONLY
def test_rlimits_batch_removes_the_files_and_ipc_objects_a_submission_left(tmp_path):
    assert rlimits_batch(tmp_path, "leaves_ipc_and_files") == 0
    uids = printed_uids(tmp_path / "out")
    assert len(uids) == 2 and uids <= set(UID_POOL)
    assert owned_by(uids, ["/tmp", "/dev/shm"]) == []
