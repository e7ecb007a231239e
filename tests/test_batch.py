"""Grading a whole class: the gradebook, the per-student reports, the record that makes a
batch resumable, and a 200-submission batch killed halfway and restarted."""
import contextlib
import csv
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

import grader.batch
import grader.grading
from grader import loader
from grader.batch import Progress
from grader.cli import main
from grader.submissions import grade_path
from tests.conftest import EXAMPLES

SET = """\
schema_version: 1
title: a small class
problems:
  - id: four-steps
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}
  - id: hidden-six
    points: 4
    visibility: hidden
    model: {phi: sin, theta: tanh, loss: mean_squared_error}
    params: {w: 0.5, v: 1.0}
    data: {x: [1.0, 2.0, 0.5, -0.3, 0.1, 0.7], y: [0.0, 1.0, 0.5, 0.2, -0.4, 0.3]}
    grade: {dL_ds: 4}
"""

# kind → (how many, the submission: a file's source, or an example for a folder with its helper)
HOSTILE = {
    "raises": "def backward(trace):\n    raise ValueError('no')\n",
    "crashes": "import os\ndef backward(trace):\n    os._exit(3)\n",
    "killed": "import os, signal\ndef backward(trace):\n    os.kill(os.getpid(), signal.SIGKILL)\n",
    "hangs": "def backward(trace):\n    while trace['T'] == 4:\n        pass\n    return {}\n",
    "syntax-error": "def backward(trace:\n",
}
CLASS = {"correct": 72, "missing_recurrent_term": 15, "seed_typo_phi_prime_of_h": 15, "dw_uses_h_t": 15,
         "truncated_recursion": 15, "nonzero_boundary": 15, "raises": 15, "crashes": 12, "killed": 8,
         "hangs": 4, "syntax-error": 8, "no-entry-file": 6}
TIMEOUT = "1"       # seconds per call: the hanging submissions cost one each


def write_submission(folder: Path, kind: str, student: str) -> None:
    if kind in HOSTILE:
        (folder / f"{student}.py").write_text(HOSTILE[kind])
        return
    (folder / student).mkdir()
    if kind != "no-entry-file":
        shutil.copy(EXAMPLES / f"{kind}.py", folder / student / "rnn.py")
        shutil.copy(EXAMPLES / "student_math.py", folder / student)


@pytest.fixture
def small_class(tmp_path):
    """Four submissions and the problem set."""
    (tmp_path / "set.yaml").write_text(SET)
    (tmp_path / "class").mkdir()
    for student, kind in [("ada", "correct"), ("bob", "missing_recurrent_term"), ("cy", "raises"),
                          ("dee", "no-entry-file")]:
        write_submission(tmp_path / "class", kind, student)
    return tmp_path


def batch(folder: Path, *options: str) -> int:
    return main(["batch", str(folder / "set.yaml"), str(folder / "class"), "-o", str(folder / "out"),
                 "--jobs", "2", *options])


def gradebook(folder: Path) -> list[dict]:
    with open(folder / "out" / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


def recorded(folder: Path, out: str = "out") -> dict[str, tuple]:
    """student → (run, graded at) in the record of the batch into `folder / out`."""
    with closing(sqlite3.connect(f"file:{folder / out / 'results.sqlite'}?mode=ro", uri=True)) as db:
        return {s: (run, at) for s, run, at in db.execute("SELECT student, run, graded FROM results")}


def test_gradebook_has_a_row_per_submission_and_a_column_per_problem(small_class):
    assert batch(small_class) == 0
    assert (small_class / "out" / "gradebook.csv").read_text() == (
        "student,total,max,four-steps,hidden-six,status,reason\n"
        "ada,14,14,10,4,passed,\n"
        "bob,0,14,0,0,failed,\n"
        "cy,0,14,0,0,failed,\n"
        "dee,0,14,0,0,error,the submission cannot be graded: no file in the submission matches '*.py'\n")


def test_a_record_from_before_the_reason_column_gains_it(small_class):
    assert batch(small_class) == 0
    with closing(sqlite3.connect(small_class / "out" / "results.sqlite")) as db:
        db.execute("ALTER TABLE results DROP COLUMN reason")
    assert batch(small_class) == 0
    assert [row["reason"] for row in gradebook(small_class)] == ["", "", "", ""]
    assert batch(small_class, "--regrade", "--only", "dee") == 0
    assert gradebook(small_class)[3]["reason"] == (
        "the submission cannot be graded: no file in the submission matches '*.py'")


def test_summary_line_counts_graded_and_recorded(small_class, capsys):
    batch(small_class)
    batch(small_class)
    out = capsys.readouterr().out.splitlines()
    gradebook = small_class / "out" / "gradebook.csv"
    assert out[0].startswith(f"{gradebook}: 4 submissions; 4 graded now, 0 already recorded (")
    assert out[1].startswith(f"{gradebook}: 4 submissions; 0 graded now, 4 already recorded (")


def test_a_report_per_student_in_each_requested_format(small_class):
    assert batch(small_class, "--format", "gradescope", "--format", "markdown") == 0
    schema = json.loads(resources.files("grader").joinpath("schemas/gradescope.schema.json").read_text())
    results = json.loads((small_class / "out" / "gradescope" / "bob.json").read_text())
    jsonschema.validate(results, schema)
    assert results["tests"][0]["extra_data"]["first_divergence"] == {"dL_ds": {"t": 3, "order": "backward"}}
    assert sorted(p.name for p in (small_class / "out" / "markdown").iterdir()) == [
        "ada.md", "bob.md", "cy.md", "dee.md"]


def test_a_second_run_grades_nothing_already_recorded(small_class):
    batch(small_class)
    first = recorded(small_class)
    assert batch(small_class) == 0
    assert recorded(small_class) == first


def test_a_rerun_removes_what_writers_killed_midway_left_and_nothing_else(small_class):
    """A batch SIGKILLed while writing a report leaves its temporary `.NAME.HEX12`; the next run removes it."""
    assert batch(small_class) == 0
    unfinished = [small_class / "out" / "json" / ".ada.json.0123456789ab",
                  small_class / "out" / ".gradebook.csv.abcdefabcdef"]
    kept = [small_class / "out" / "json" / ".ada.json.notrandomhex1", small_class / "out" / "notes.txt"]
    for path in unfinished + kept:
        path.write_text("{")
    assert batch(small_class) == 0
    assert [path.exists() for path in unfinished + kept] == [False, False, True, True]
    assert sorted(p.name for p in (small_class / "out" / "json").iterdir()) == [
        ".ada.json.notrandomhex1", "ada.json", "bob.json", "cy.json", "dee.json"]


def test_regrade_only_grades_the_named_students_again(small_class):
    batch(small_class)
    first = recorded(small_class)
    assert batch(small_class, "--regrade", "--only", "bob") == 0
    again = recorded(small_class)
    assert {s for s in again if again[s] != first[s]} == {"bob"} and again["bob"][0] == 2


def test_regrade_grades_everyone_again(small_class):
    batch(small_class)
    assert batch(small_class, "--regrade") == 0
    assert {run for run, _ in recorded(small_class).values()} == {2}


def test_a_new_student_is_graded_on_the_next_run(small_class):
    batch(small_class)
    write_submission(small_class / "class", "correct", "eve")
    batch(small_class)
    assert {s: run for s, (run, _) in recorded(small_class).items()} == {"ada": 1, "bob": 1, "cy": 1, "dee": 1,
                                                                         "eve": 2}


def test_a_changed_problem_set_is_not_mixed_into_the_record(small_class, capsys):
    batch(small_class)
    (small_class / "set.yaml").write_text(SET.replace("points: 4", "points: 5").replace("dL_ds: 4", "dL_ds: 5"))
    assert batch(small_class) == 2
    assert capsys.readouterr().err.endswith("records grades against another version of the problem set: "
                                            "grade into another folder, or pass --regrade to grade everyone again\n")


def test_only_an_unknown_student_exits_2(small_class, capsys):
    assert batch(small_class, "--only", "zed") == 2
    assert capsys.readouterr().err == f"bptt-grade: no submission in {small_class / 'class'} for 'zed'\n"


def test_two_submissions_of_one_student_exit_2(small_class, capsys):
    write_submission(small_class / "class", "raises", "ada")
    assert batch(small_class) == 2
    assert capsys.readouterr().err == ("bptt-grade: two submissions for student 'ada': ada and ada.py; keep one\n")


def test_reference_values_are_computed_once_per_batch(small_class, monkeypatch):
    calls = []
    once = grader.batch.prepare_exercises

    def counted(*args, **kwargs):
        calls.append(args)
        return once(*args, **kwargs)

    def never(*args, **kwargs):
        raise AssertionError("a worker computed the reference values again")

    monkeypatch.setattr(grader.batch, "prepare_exercises", counted)
    monkeypatch.setattr(grader.grading, "prepare_exercises", never)
    assert batch(small_class) == 0
    assert len(calls) == 1 and len(recorded(small_class)) == 4


def test_a_fault_grading_one_submission_is_failed_to_grade_and_graded_on_the_next_run(small_class, monkeypatch, capsys):
    graded = grader.batch.grade_path

    def faulty(problem_set, path, *args, **kwargs):
        if Path(path).name == "bob":
            raise RuntimeError("boom")
        return graded(problem_set, path, *args, **kwargs)

    monkeypatch.setattr(grader.batch, "grade_path", faulty)
    assert batch(small_class) == 1
    assert capsys.readouterr().err.endswith("bptt-grade: bob failed_to_grade (internal error RuntimeError: boom): "
                                            "run batch again to grade it\n")
    assert [row["status"] for row in gradebook(small_class)] == ["passed", "failed_to_grade", "failed", "error"]
    assert [gradebook(small_class)[1][column] for column in ("total", "max", "four-steps", "reason")] == [
        "", "", "", "internal error RuntimeError: boom"]
    monkeypatch.undo()
    assert batch(small_class) == 0                  # graded again without --regrade
    assert [row["status"] for row in gradebook(small_class)] == ["passed", "failed", "failed", "error"]


class Clock:
    """A clock the test sets: `now` seconds."""
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_progress_is_a_line_per_finished_submission():
    stream, clock = io.StringIO(), Clock()
    progress = Progress(2, stream=stream, clock=clock)
    progress.start("alice")
    progress.start("bob")
    clock.now = 2.5
    progress.tick()
    progress.finish("bob", "14/14 passed")
    clock.now = 99.0
    progress.finish("alice", "not graded: internal error RuntimeError: boom")
    assert stream.getvalue() == ("bptt-grade batch: 1/2 bob: 14/14 passed (2.5 s)\n"
                                 "bptt-grade batch: 2/2 alice: not graded: internal error RuntimeError: boom "
                                 "(99.0 s)\n")


def test_on_a_terminal_progress_names_what_runs_longest_and_for_how_long():
    stream, clock = Terminal(), Clock()
    progress = Progress(3, stream=stream, clock=clock)
    progress.start("alice")
    clock.now = 4.0
    progress.start("bob")
    progress.finish("bob", "0/14 failed")
    clock.now = 12.0
    stream.truncate(0)
    stream.seek(0)
    progress.tick()
    assert stream.getvalue() == f"\r[{'#' * 10:<30}] 1/3  0.1/s  ETA 24 s  grading alice (12 s)\x1b[K"


def test_on_a_terminal_progress_counts_the_others_running_and_ends_the_line():
    stream, clock = Terminal(), Clock()
    progress = Progress(3, stream=stream, clock=clock)
    for student in ("alice", "bob", "cy"):
        progress.start(student)
    assert stream.getvalue().endswith("0/3  0.0/s  ETA ?  grading alice (0 s) and 2 more\x1b[K")
    clock.now = 2.0
    progress.finish("alice", "14/14 passed")
    assert stream.getvalue().endswith("1/3  0.5/s  ETA 4 s  grading bob (2 s) and 1 more\x1b[K")
    progress.finish("bob", "14/14 passed")
    progress.finish("cy", "14/14 passed")
    assert stream.getvalue().endswith(f"\r[{'#' * 30}] 3/3  1.5/s  ETA 0 s\x1b[K\n")


def test_a_batch_off_a_terminal_logs_each_finished_submission(small_class, capsys):
    assert batch(small_class) == 0
    lines = [re.sub(r"\(\d+\.\d s\)$", "(… s)", line) for line in capsys.readouterr().err.splitlines()]
    assert [line.split()[2] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert sorted(line.split(" ", 3)[3] for line in lines) == [
        "ada: 14/14 passed (… s)", "bob: 0/14 failed (… s)", "cy: 0/14 failed (… s)", "dee: 0/14 error (… s)"]


def recorded_so_far(folder: Path, out: str = "out") -> int:
    """How many submissions a running batch has recorded (0 before its record exists)."""
    try:
        return len(recorded(folder, out))
    except sqlite3.OperationalError:     # no file yet, or no tables in it yet
        return 0


def leftover_processes(folder: Path) -> list[int]:
    """Processes whose working folder is inside `folder`: submissions' sandboxes."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_leftover_processes(folder: Path) -> None:
    """SIGKILL every process of `leftover_processes`; one that ended meanwhile is no fault."""
    for pid in leftover_processes(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_batch_of_200_killed_halfway_and_restarted_grades_each_submission_once(tmp_path):
    (tmp_path / "set.yaml").write_text(SET)
    (tmp_path / "class").mkdir()
    kinds = {}
    for kind, count in CLASS.items():
        for i in range(count):
            kinds[f"{kind}-{i:02d}"] = kind
            write_submission(tmp_path / "class", kind, f"{kind}-{i:02d}")
    assert len(kinds) == 200
    command = [sys.executable, "-m", "grader", "batch", str(tmp_path / "set.yaml"), str(tmp_path / "class"),
               "-o", str(tmp_path / "out"), "--jobs", "2", "--timeout", TIMEOUT]

    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while recorded_so_far(tmp_path) < 100:
            assert first.poll() is None, "the batch finished before it could be killed"
            time.sleep(0.02)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        kill_leftover_processes(tmp_path)
    before = recorded(tmp_path)
    assert 100 <= len(before) < 200

    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"200 submissions; {200 - len(before)} graded now, {len(before)} already recorded" in second.stdout
    after = recorded(tmp_path)
    assert {s: after[s] for s in before} == before
    assert sorted(after) == sorted(kinds) and {after[s][0] for s in after if s not in before} == {2}
    assert sorted(p.stem for p in (tmp_path / "out" / "json").iterdir()) == sorted(kinds)

    loaded = loader.load(tmp_path / "set.yaml")
    alone = {}
    for kind in CLASS:
        report = grade_path(loaded, tmp_path / "class" / f"{kind}-00{'.py' if kind in HOSTILE else ''}",
                            include_hidden=True, limits_override={"timeout": float(TIMEOUT)})
        alone[kind] = [f"{report.score:g}", *(f"{p.score:g}" for p in report.problems)]
    rows = gradebook(tmp_path)
    assert len(rows) == 200
    assert {row["student"]: [row["total"], row["four-steps"], row["hidden-six"]] for row in rows} == {
        student: alone[kind] for student, kind in kinds.items()}
    assert leftover_processes(tmp_path) == []
