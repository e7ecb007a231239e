"""Grade a whole class: every submission in a folder (a .py file or a sub-folder each, the
student id being its name), hidden problems included, `jobs` at a time, each in its own
sandbox as usual.

The reference values are computed once, before the worker processes start (they inherit
them); each worker keeps each catalogue mistake's run on each problem for the diagnoses
(grader.diagnosis.MistakeRuns), and forks every sandbox from its own zygote. A worker
grades a submission and writes its reports, OUT_DIR/FORMAT/ID.EXT, each
atomically; then the parent records the result in OUT_DIR/results.sqlite in one
transaction: the scores the gradebook needs and where the reports are (not the reports
themselves, which are only in their files). So a batch killed at any moment and started again grades only the
submissions not yet recorded, and none twice; `regrade` grades recorded ones again on
purpose. OUT_DIR/gradebook.csv is written from the record at the end of every run. With a Dask
scheduler (grader.cluster), workers on other machines grade and this process writes the
reports and the record, the same way.
"""
import contextlib
import csv
import hashlib
import importlib.util
import io
import json
import multiprocessing
import multiprocessing.connection
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path

from grader import loader
from grader.atomic import remove_unfinished, write_atomically
from grader.diagnosis import MistakeRuns
from grader.errors import SubmissionMissing, UsageError
from grader.grading import prepare_exercises
from grader.problem_set import ProblemSet
from grader.process_control import PR_SET_PDEATHSIG, prctl
from grader.reports import EXTENSIONS, render
from grader.results import FAILED_TO_GRADE, Report
from grader.sandbox import Sandbox, sandbox_for
from grader.submissions import class_submissions, grade_path, report_name, uncalled_report
from grader.text_safety import printable, spreadsheet_cell
from grader.uid_pool import UID_POOL, NoSpareUids, release_uids, remove_leftovers_of, spare_uids

STORE = "results.sqlite"
INSTALL_DISTRIBUTED = "pip install 'bptt-grade[distributed]'"
TICK = 1.0          # seconds between redraws of the progress line on a terminal
GRADEBOOK = "gradebook.csv"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    student TEXT PRIMARY KEY, submission TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    status TEXT NOT NULL, problems TEXT NOT NULL, reports TEXT NOT NULL, run INTEGER NOT NULL, graded REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '');
"""
COLUMNS = ("student", "submission", "score", "max_score", "status", "problems", "reports", "run", "graded", "reason")


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
    notebook_cells: str = "definitions"


@dataclass(frozen=True)
class Graded:
    """One submission's result, as recorded."""
    student: str                        # printable (submissions.printable)
    submission: str
    score: float
    max_score: float
    status: str                         # passed | failed | error (could not be imported) | failed_to_grade
    problems: dict[str, float]          # problem id → score, for the problems graded
    reports: dict[str, str]             # format → its report's file, relative to OUT_DIR
    reason: str = ""                    # why it was not graded normally (status error or failed_to_grade)


def shown_id(student: str) -> str:
    """A student's id as the record, the gradebook and the terminal show it (and key it):
    bytes that are not UTF-8 and control characters escaped, on one line."""
    return printable(student, newlines=False)


def submission_status(report: Report) -> str:
    if report.failed_to_grade:
        return FAILED_TO_GRADE
    if report.metadata.get("import_error"):
        return "error"
    return "passed" if report.passed else "failed"


def not_graded_reason(metadata: dict) -> str:
    """Why a submission was not graded normally, for the gradebook, from its report's
    metadata: `failed_to_grade` or `import_error` (it cannot be imported, is not a .py file
    or a notebook, its folder has no entry file…); "" for one whose functions were called."""
    return printable(str(metadata.get("failed_to_grade") or metadata.get("import_error") or ""), newlines=False)


def _make_private(record: Path) -> None:
    """The output folder 0700 and the record 0600 (made so, if they exist): the reports in the
    folder hold every student's expected values. SQLite gives its -wal and -shm files the
    record's mode."""
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
    """The batch's record: a row per graded submission, each written in one transaction.
    Students are keyed by their printable id; a row `failed_to_grade` is graded again."""

    def __init__(self, path: Path, problem_set_digest: str, regrade_all: bool):
        try:
            _make_private(path)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            if "reason" not in {row[1] for row in self.db.execute("PRAGMA table_info(results)")}:    # an older record
                self.db.execute("ALTER TABLE results ADD COLUMN reason TEXT NOT NULL DEFAULT ''")
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
        """Students recorded with a verdict (not failed_to_grade)."""
        return {student for (student,) in self.db.execute("SELECT student FROM results WHERE status != ?",
                                                          (FAILED_TO_GRADE,))}

    def forget(self, students) -> None:
        with self.db:
            self.db.executemany("DELETE FROM results WHERE student = ?", [(s,) for s in students])

    def record(self, g: Graded) -> None:
        with self.db:
            self.db.execute(f"INSERT OR REPLACE INTO results ({', '.join(COLUMNS)}) "
                            f"VALUES ({', '.join('?' * len(COLUMNS))})",
                            (g.student, g.submission, g.score, g.max_score, g.status, json.dumps(g.problems),
                             json.dumps(g.reports), self.run, time.time(), g.reason))

    def results(self) -> dict[str, sqlite3.Row]:
        """The gradebook's columns of every row (not the reports: memory stays flat in the class size)."""
        self.db.row_factory = sqlite3.Row
        return {row["student"]: row for row in self.db.execute(
            "SELECT student, score, max_score, status, problems, reason FROM results")}

    def close(self) -> None:
        self.db.close()


# The worker processes' state, set once by `_start_worker` (inherited through fork).
_worker: dict = {}


def _start_worker(problem_set: ProblemSet, prepared, options: Options, sandbox: Sandbox) -> None:
    """In a new worker: die with the batch (whatever kills it), leave SIGINT and SIGTERM
    to it, and keep what every submission is graded with."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _worker.update(problem_set=problem_set, prepared=prepared, options=options, sandbox=sandbox, runs=MistakeRuns())


def _grade_one(student: str, path: Path) -> Graded:
    """Grade one submission and write its reports. A fault of the grader's own is recorded
    as failed_to_grade (graded again next run), never fatal to the batch. A .py file in
    the class folder is shown to its sandbox alone: the rest of the folder is classmates'."""
    options: Options = _worker["options"]
    problem_set: ProblemSet = _worker["problem_set"]
    report = graded_report(problem_set, path, options, _worker["prepared"], _worker["runs"], _worker["sandbox"])
    if _worker["sandbox"].user in UID_POOL:
        remove_leftovers_of(_worker["sandbox"].user)
    try:
        return write_reports(student, path, report, options)
    except Exception as error:      # e.g. a full disk: recorded without its files
        return graded(student, path, unfinished(problem_set, path, f"its reports could not be written: {error}"), {})


def graded_report(problem_set: ProblemSet, path: Path, options: Options, prepared, runs: MistakeRuns,
                  sandbox: Sandbox) -> Report:
    """The report of the submission at `path`, hidden problems included (a .py file shown
    to its sandbox alone): a fault of the grader's own is failed_to_grade, never raised."""
    try:
        return grade_path(problem_set, path, include_hidden=True, entry=options.entry,
                          limits_override=options.limits_override, prepared=prepared, runs=runs,
                          sandbox=replace(sandbox, alone=path.is_file()), notebook_cells=options.notebook_cells)
    except SubmissionMissing as missing:    # a link to nowhere, a FIFO: what the class folder holds is unusable
        return uncalled_report(problem_set, path, problem_set.selected(True), "error",
                               f"the submission cannot be graded: {missing}")
    except Exception as error:      # a fault of the grader's own: reported, never fatal to the batch
        return unfinished(problem_set, path, f"internal error {type(error).__name__}: {error}")


def unfinished(problem_set: ProblemSet, path: Path, why: str) -> Report:
    """The report of a submission the grader failed to grade, for `why`."""
    return uncalled_report(problem_set, path, problem_set.selected(True), FAILED_TO_GRADE, printable(why))


def write_reports(student: str, path: Path, report: Report, options: Options) -> Graded:
    """Write the student's report in every format; the Graded to record."""
    return graded(student, path, report, write_report_files(student, report_texts(report, options), options))


def report_texts(report: Report, options: Options) -> dict[str, bytes]:
    """The report in each of `options.formats`, by format name (bytes that are not UTF-8 escaped)."""
    return {name: render(name, report, hidden_visibility=options.hidden_visibility).encode(errors="backslashreplace")
            for name in options.formats}


def write_report_files(student: str, texts: dict[str, bytes], options: Options) -> dict[str, str]:
    """OUT_DIR/FORMAT/NAME.EXT for each format's text (named by submissions.report_name), each
    atomically; the files written, relative to OUT_DIR, by format."""
    files = {name: f"{name}/{report_name(student)}{EXTENSIONS[name]}" for name in texts}
    for name, file in files.items():
        write_atomically(options.out_dir / file, texts[name], parents=True)
    return files


def graded(student: str, path: Path, report: Report, reports: dict[str, str]) -> Graded:
    """The Graded to record; `reports` maps each format written to its file (relative to OUT_DIR)."""
    return Graded(shown_id(student), printable(str(path)), report.score, report.max_score, submission_status(report),
                  {p.id: p.score for p in report.problems if p.status != FAILED_TO_GRADE}, reports,
                  not_graded_reason(report.metadata))


def outcome(result: Graded) -> str:
    """What became of one submission, in a few words: "12/14 failed", or "failed_to_grade"."""
    if result.status == FAILED_TO_GRADE:
        return FAILED_TO_GRADE
    return f"{result.score:g}/{result.max_score:g} {result.status}"


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


def gradebook(ids: list[str], students, recorded: dict) -> str:
    """CSV: a row per submission of `students` (student, total, max, a column per problem id
    of `ids`, status, reason); a submission not in `recorded` has empty scores and the status
    "not graded", one the grader failed to grade empty scores where it has none and the
    status failed_to_grade. `reason` says why a submission was not graded normally (its
    recorded reason: status error or failed_to_grade), else is empty. Every cell is a
    spreadsheet_cell: no student id, problem id or reason is read as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")

    def write(cells: list[str]) -> None:
        writer.writerow(map(spreadsheet_cell, cells))

    write(["student", "total", "max", *ids, "status", "reason"])
    for student in map(shown_id, students):
        row = recorded.get(student)
        if row is None:
            write([student, "", "", *[""] * len(ids), "not graded", ""])
            continue
        scores = json.loads(row["problems"])
        total = ["", ""] if row["status"] == FAILED_TO_GRADE else [f"{row['score']:g}", f"{row['max_score']:g}"]
        write([student, *total, *[f"{scores[i]:g}" if i in scores else "" for i in ids], row["status"],
               row["reason"]])
    return out.getvalue()


class Workers:
    """`len(uids)` worker processes forked from the batch, each grading one submission at a
    time (its sandboxes under `uids[i]` when that is not None). A worker that dies is
    replaced, and its submission recorded failed_to_grade; `kill` ends them all at once."""

    def __init__(self, initargs: tuple, uids: Sequence[int | None]):
        self.initargs, self.context, self.uids = initargs, multiprocessing.get_context("fork"), uids
        self.idle = [self._start(uid) for uid in uids]
        self.busy: dict = {}            # connection → (worker, uid, student, path)

    def _start(self, uid: int | None):
        ours, theirs = self.context.Pipe()
        worker = self.context.Process(target=_serve, args=(theirs, self.initargs, uid), daemon=True)
        worker.start()
        theirs.close()
        return worker, ours, uid

    def grade(self, pending: list[tuple[str, Path]], progress: "Progress"):
        """Yield a Graded for each (student, path) of `pending`, as each is done; tell
        `progress` when each starts, and tick it every TICK seconds meanwhile."""
        tasks = iter(pending)
        while True:
            while self.idle and (task := next(tasks, None)) is not None:
                worker, connection, uid = self.idle.pop()
                self.busy[connection] = (worker, uid, *task)
                progress.start(shown_id(task[0]))
                with contextlib.suppress(OSError):    # died while idle: found dead below
                    connection.send(task)
            if not self.busy:
                return
            ready = multiprocessing.connection.wait([*self.busy, *(w.sentinel for w, *_ in self.busy.values())],
                                                    timeout=TICK)
            if not ready:
                progress.tick()
            for connection in [c for c in list(self.busy) if c in ready or self.busy[c][0].sentinel in ready]:
                worker, uid, student, path = self.busy.pop(connection)
                try:
                    yield connection.recv()
                    self.idle.append((worker, connection, uid))
                except (EOFError, OSError):           # the worker died mid-submission
                    worker.join()
                    connection.close()
                    yield write_reports(student, path, unfinished(self.initargs[0], path, "the grading worker "
                                        f"died ({describe_exit(worker.exitcode)})"), self.initargs[2])
                    self.idle.append(self._start(uid))

    def kill(self) -> None:
        """SIGKILL every worker and wait for it: each worker's zygote and sandboxes follow
        (PR_SET_PDEATHSIG at every level below)."""
        for worker, *_ in [*self.idle, *self.busy.values()]:
            worker.kill()
        for worker, *_ in [*self.idle, *self.busy.values()]:
            worker.join()


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}" if -code in signal.valid_signals() else f"signal {-code}"
    return f"exit status {code}"


def _serve(connection, initargs: tuple, uid: int | None) -> None:
    """A worker's life: grade each (student, path) received, send back its Graded."""
    problem_set, prepared, options, sandbox = initargs
    _start_worker(problem_set, prepared, options, sandbox if uid is None else replace(sandbox, user=uid))
    while True:
        try:
            student, path = connection.recv()
        except EOFError:
            return
        connection.send(_grade_one(student, path))


@dataclass(frozen=True)
class Outcome:
    students: int           # in the folder
    graded: int             # in this run
    already: int            # recorded before this run and kept
    failures: dict[str, str]  # student → why the grader failed to grade it (recorded failed_to_grade)
    seconds: float


def run_batch(problem_set_path: str, submissions_dir: str, options: Options, jobs: int | None = None,
              regrade: bool = False, only: list[str] | None = None, scheduler: str | None = None) -> Outcome:
    """Grade every submission in `submissions_dir` not yet recorded in `options.out_dir`
    (with `regrade`, every one again), or only the students `only`: here, in `jobs` worker
    processes, or with `scheduler` on a Dask cluster (grader.cluster: "local" for a
    LocalCluster of `jobs` workers, else a scheduler's address). An interruption
    (KeyboardInterrupt, grader.errors.Terminated, grader.errors.ClusterLost) kills every
    worker, rewrites the gradebook from the record, and propagates."""
    started = time.monotonic()
    if scheduler is not None:
        if importlib.util.find_spec("distributed") is None:
            raise UsageError(f"--scheduler needs Dask distributed: {INSTALL_DISTRIBUTED}")
        from grader.cluster import graded_on_cluster
    problem_set = loader.load(problem_set_path, options.caps)
    students = class_submissions(submissions_dir)
    chosen = list(students) if only is None else only
    unknown = [s for s in chosen if s not in students]
    if unknown:
        raise UsageError(f"no submission in {submissions_dir} for {', '.join(repr(shown_id(s)) for s in unknown)}")
    digest = hashlib.sha256(Path(problem_set_path).read_bytes()).hexdigest()
    # on a cluster, each worker confines its own sandboxes
    sandbox = sandbox_for(problem_set_path, options.isolation, (*options.hide, str(options.out_dir))) \
        if scheduler is None else None
    store = Store(options.out_dir / STORE, digest, regrade_all=regrade and only is None)
    remove_unfinished(options.out_dir)      # reports a batch killed midway was writing
    workers = None
    try:
        if regrade and only is not None:
            store.forget(map(shown_id, chosen))
        recorded = store.graded()
        pending = [(s, students[s]) for s in chosen if shown_id(s) not in recorded]
        failures = {}
        if pending:
            progress = Progress(len(pending))
            if scheduler is not None:
                results = graded_on_cluster(scheduler, problem_set, problem_set_path, digest, options, jobs, pending,
                                            progress)
            else:
                assert sandbox is not None      # a local batch's, made above
                workers = Workers((problem_set, prepare_exercises(problem_set, include_hidden=True), options, sandbox),
                                  worker_uids(sandbox, min(jobs or os.cpu_count() or 1, len(pending))))
                results = workers.grade(pending, progress)
            with closing(results):          # a cluster's client closes however the loop ends
                for result in results:
                    store.record(result)
                    if result.status == FAILED_TO_GRADE:
                        failures[result.student] = result.reason
                    progress.finish(result.student, outcome(result))
    finally:
        if workers is not None:
            workers.kill()
            release_uids(uid for uid in workers.uids if uid is not None)
        try:
            ids = [p.id for p in problem_set.problems]
            write_atomically(options.out_dir / GRADEBOOK, gradebook(ids, students, store.results()))
        finally:
            store.close()
    graded = len(pending) - len(failures)
    return Outcome(len(students), graded, len(set(map(shown_id, chosen)) & recorded), failures,
                   time.monotonic() - started)


def worker_uids(sandbox: Sandbox, jobs: int) -> Sequence[int | None]:
    """The uid each of `jobs` workers' sandboxes runs under (None: the sandbox's own). At
    the rlimits level several at once need a spare uid each; without them, one job."""
    if sandbox.level.private_view or jobs == 1:
        return [None] * jobs
    try:
        return spare_uids(jobs)
    except NoSpareUids as why:
        print("bptt-grade: at the rlimits level submissions graded at once could signal each other unless each "
              f"runs under a uid of its own, {why}: grading one at a time", file=sys.stderr)
        return [None]
