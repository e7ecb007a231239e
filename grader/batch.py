"""Grade a whole class: every submission in a folder (a .py file or a sub-folder each, the
student id being its name), hidden problems included, `jobs` at a time, each in its own
sandbox as usual.

The reference values are computed once, before the worker processes start (they inherit
them); each worker keeps each catalogue mistake's run on each problem for the diagnoses
(grader.diagnosis.MistakeRuns), and forks every sandbox from its own zygote. A worker
grades a submission and writes its reports, OUT_DIR/FORMAT/ID.EXT, each
atomically; then the parent records the result in OUT_DIR/results.sqlite in one
transaction. So a batch killed at any moment and started again grades only the
submissions not yet recorded, and none twice; `regrade` grades recorded ones again on
purpose. OUT_DIR/gradebook.csv is written from the record at the end of every run.
"""
import csv
import hashlib
import io
import json
import multiprocessing
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from grader import loader
from grader.atomic import write_atomically
from grader.diagnosis import MistakeRuns
from grader.errors import GraderError, UsageError
from grader.grading import prepare_exercises
from grader.problem_set import ProblemSet
from grader.reports import EXTENSIONS, render
from grader.reports.json_report import render as render_json
from grader.results import Report
from grader.submissions import class_submissions, grade_path
from grader.text_safety import printable, spreadsheet_cell

STORE = "results.sqlite"
TICK = 1.0          # seconds between redraws of the progress line on a terminal
GRADEBOOK = "gradebook.csv"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    student TEXT PRIMARY KEY, submission TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    status TEXT NOT NULL, problems TEXT NOT NULL, report TEXT NOT NULL, run INTEGER NOT NULL, graded REAL NOT NULL);
"""


@dataclass(frozen=True)
class Options:
    out_dir: Path
    formats: tuple[str, ...] = ("json",)
    entry: str | None = None
    limits_override: dict | None = None
    hidden_visibility: str = "after_published"
    isolation: str = "auto"
    hide: tuple[str, ...] = ()
    caps: loader.SizeCaps = loader.SizeCaps()


@dataclass(frozen=True)
class Graded:
    """One submission's result, as recorded."""
    student: str
    submission: str
    score: float
    max_score: float
    status: str                         # passed | failed | error (could not be imported)
    problems: dict[str, float]          # problem id → score
    report: str                         # the JSON report


def submission_status(report: Report) -> str:
    if report.metadata.get("import_error"):
        return "error"
    return "passed" if report.passed else "failed"


def _make_private(record: Path) -> None:
    """The output folder 0700 and the record 0600 (made so, if they exist): the record holds
    every student's expected values. SQLite gives its -wal and -shm files the record's mode."""
    folder = record.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)
    fd = os.open(record, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class Store:
    """The batch's record: a row per graded submission, each written in one transaction."""

    def __init__(self, path: Path, problem_set_digest: str, regrade_all: bool):
        try:
            _make_private(path)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise UsageError(f"cannot use {path} as the batch's record: {error}") from None
        recorded = self.db.execute("SELECT value FROM meta WHERE key = 'problem_set'").fetchone()
        if recorded and recorded[0] != problem_set_digest and not regrade_all:
            raise UsageError(f"{path} records grades against another version of the problem set: "
                             "grade into another folder, or pass --regrade to grade everyone again")
        with self.db:
            if regrade_all:
                self.db.execute("DELETE FROM results")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('problem_set', ?)", (problem_set_digest,))
            self.run = self.db.execute("INSERT INTO runs (started) VALUES (?)", (time.time(),)).lastrowid

    def graded(self) -> set[str]:
        return {student for (student,) in self.db.execute("SELECT student FROM results")}

    def forget(self, students) -> None:
        with self.db:
            self.db.executemany("DELETE FROM results WHERE student = ?", [(s,) for s in students])

    def record(self, g: Graded) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (g.student, g.submission, g.score, g.max_score, g.status, json.dumps(g.problems),
                             g.report, self.run, time.time()))

    def results(self) -> dict[str, sqlite3.Row]:
        """The gradebook's columns of every row (not the reports: memory stays flat in the class size)."""
        self.db.row_factory = sqlite3.Row
        return {row["student"]: row for row in self.db.execute(
            "SELECT student, score, max_score, status, problems FROM results")}

    def close(self) -> None:
        self.db.close()


# The worker processes' state, set once by `_start_worker` (inherited through fork).
_worker: dict = {}


def _start_worker(problem_set: ProblemSet, prepared, options: Options, starts) -> None:
    """`starts` is a SimpleQueue on which each worker puts (student, time.monotonic()) as it
    starts grading one (the monotonic clock is the system's, the same in every process)."""
    _worker.update(problem_set=problem_set, prepared=prepared, options=options, runs=MistakeRuns(), starts=starts)


def _grade_one(task: tuple[str, Path]) -> Graded | tuple[str, str]:
    """Grade one submission and write its reports: a Graded, or (student, why not), which
    is not recorded, so that the next run tries again. Nothing stops the other submissions."""
    student, path = task
    options: Options = _worker["options"]
    _worker["starts"].put((student, time.monotonic()))  # in the pipe now, so read before this result is
    try:
        classmates = [str(p) for p in path.parent.iterdir() if p != path]     # else `from bob import backward`
        report = grade_path(_worker["problem_set"], path, include_hidden=True, entry=options.entry,
                            limits_override=options.limits_override, prepared=_worker["prepared"],
                            runs=_worker["runs"], isolation=options.isolation,
                            hide=(*options.hide, *classmates, str(options.out_dir)))
        recorded = render_json(report)          # the record's copy, and the json format's file
        for name in options.formats:
            text = recorded if name == "json" else render(name, report, hidden_visibility=options.hidden_visibility)
            write_atomically(options.out_dir / name / f"{student}{EXTENSIONS[name]}", text, parents=True)
    except GraderError as error:
        return student, str(error)
    except Exception as error:      # a fault of the grader's own: reported, never fatal to the batch
        return student, f"internal error {type(error).__name__}: {error}"
    return Graded(student, str(path), report.score, report.max_score, submission_status(report),
                  {p.id: p.score for p in report.problems}, recorded)


def outcome(result: "Graded | tuple[str, str]") -> str:
    """What became of one submission, in a few words: "12/14 failed", or "not graded: why"."""
    if isinstance(result, Graded):
        return f"{result.score:g}/{result.max_score:g} {result.status}"
    return f"not graded: {result[1]}"


class Progress:
    """What the batch is doing, on stderr. On a terminal, one line redrawn as submissions
    start and finish (and by `tick`, every TICK seconds): a bar, counts, rate, time left,
    and the submission running longest, for how long ("grading alice (12 s)"). Elsewhere
    (a log file, CI) a line per finished submission: its count, id, outcome and seconds. Ids
    and outcomes are shown printable (grader/text_safety.py): a file name is no escape sequence."""

    BAR_WIDTH = 30

    def __init__(self, total: int, stream=None, clock=time.monotonic):
        stream = sys.stderr if stream is None else stream
        self.total, self.done, self.stream, self.clock = total, 0, stream, clock
        self.started = clock()
        self.running: dict[str, float] = {}     # student → when grading started (clock seconds)
        self.terminal = stream.isatty()

    def start(self, student: str, at: float | None = None) -> None:
        """`student` started grading `at` (clock seconds; default now)."""
        self.running[student] = self.clock() if at is None else at
        self.tick()

    def finish(self, student: str, what: str) -> None:
        """`student` is done; `what` became of it (see `outcome`)."""
        started = self.running.pop(student, None)
        self.done += 1
        if self.terminal:
            self.tick()
            if self.done == self.total:
                self.stream.write("\n")
        else:
            took = "" if started is None else f" ({self.clock() - started:.1f} s)"
            shown = f"{printable(student, newlines=False)}: {printable(what, newlines=False)}"
            self.stream.write(f"bptt-grade batch: {self.done}/{self.total} {shown}{took}\n")
        self.stream.flush()

    def tick(self) -> None:
        """Redraw the terminal's line (nothing elsewhere)."""
        if not self.terminal:
            return
        now = self.clock()
        rate = self.done / max(now - self.started, 1e-9)
        left = f"ETA {(self.total - self.done) / rate:.0f} s" if self.done else "ETA ?"
        bar = "#" * round(self.BAR_WIDTH * self.done / self.total)
        line = f"\r[{bar:<{self.BAR_WIDTH}}] {self.done}/{self.total}  {rate:.1f}/s  {left}"
        if self.running:
            student, started = min(self.running.items(), key=lambda item: item[1])
            others = len(self.running) - 1
            line += (f"  grading {printable(student, newlines=False)} ({now - started:.0f} s)"
                     + (f" and {others} more" if others else ""))
        self.stream.write(line + "\x1b[K")      # erase what a longer line left
        self.stream.flush()


def gradebook(problem_set: ProblemSet, students: dict[str, Path], recorded: dict) -> str:
    """CSV: a row per submission (student, total, max, a column per problem, status);
    a submission not recorded yet has empty scores and the status "not graded". Every cell
    is a spreadsheet_cell: no student id or problem id is read as a formula."""
    ids = [p.id for p in problem_set.problems]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def write(cells: list[str]) -> None:
        writer.writerow(map(spreadsheet_cell, cells))

    write(["student", "total", "max", *ids, "status"])
    for student in students:
        row = recorded.get(student)
        if row is None:
            write([student, "", "", *[""] * len(ids), "not graded"])
            continue
        scores = json.loads(row["problems"])
        write([student, f"{row['score']:g}", f"{row['max_score']:g}",
               *[f"{scores[i]:g}" if i in scores else "" for i in ids], row["status"]])
    return out.getvalue()


@dataclass(frozen=True)
class Outcome:
    students: int           # in the folder
    graded: int             # in this run
    already: int            # recorded before this run and kept
    failures: dict[str, str]  # student → why it could not be graded (not recorded)
    seconds: float


def run_batch(problem_set_path: str, submissions_dir: str, options: Options, jobs: int | None = None,
              regrade: bool = False, only: list[str] | None = None) -> Outcome:
    """Grade every submission in `submissions_dir` not yet recorded in `options.out_dir`
    (with `regrade`, every one again), or only the students `only`."""
    started = time.monotonic()
    problem_set = loader.load(problem_set_path, options.caps)
    students = class_submissions(submissions_dir)
    chosen = list(students) if only is None else only
    unknown = [s for s in chosen if s not in students]
    if unknown:
        raise UsageError(f"no submission in {submissions_dir} for {', '.join(map(repr, unknown))}")
    digest = hashlib.sha256(Path(problem_set_path).read_bytes()).hexdigest()
    store = Store(options.out_dir / STORE, digest, regrade_all=regrade and only is None)
    try:
        if regrade and only is not None:
            store.forget(chosen)
        recorded = store.graded()
        pending = [(s, students[s]) for s in chosen if s not in recorded]
        failures = {}
        if pending:
            prepared = prepare_exercises(problem_set, include_hidden=True)
            progress = Progress(len(pending))
            context = multiprocessing.get_context("fork")
            starts = context.SimpleQueue()
            with context.Pool(min(jobs or os.cpu_count() or 1, len(pending)), initializer=_start_worker,
                              initargs=(problem_set, prepared, options, starts)) as pool:
                results = pool.imap_unordered(_grade_one, pending)
                while True:
                    try:
                        result = results.next(timeout=TICK)
                    except multiprocessing.TimeoutError:
                        result = None
                    except StopIteration:
                        break
                    while not starts.empty():
                        progress.start(*starts.get())
                    if result is None:
                        progress.tick()
                        continue
                    if isinstance(result, Graded):
                        store.record(result)
                        student = result.student
                    else:
                        student, why = result
                        failures[student] = why
                    progress.finish(student, outcome(result))
        write_atomically(options.out_dir / GRADEBOOK, gradebook(problem_set, students, store.results()))
    finally:
        store.close()
    graded = len(pending) - len(failures)
    return Outcome(len(students), graded, len(set(chosen) & recorded), failures, time.monotonic() - started)

