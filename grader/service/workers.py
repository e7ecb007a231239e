"""Grading workers: the function that grades one job (the seam a cluster can call), the
loop a worker process runs, and the local pool the server supervises.

`grade_upload(version, upload, kind, workdir)` grades one upload's bytes against one
prepared problem-set version and returns the JSON report; it touches no database. A
version is prepared once per process (`prepare_version`: the loader, then the exercises of
every problem, hidden ones included) and kept for every later job of that version.

A worker process claims a job, heartbeats its lease from a thread while it grades, and
writes the result only while it holds the lease (grader.service.queue). It stops taking
jobs when the pool asks it to drain or its parent is gone, finishing the job it holds.
"""
import io
import json
import multiprocessing
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from grader import loader
from grader.contracts import Exercise
from grader.errors import GraderError
from grader.grading import prepare_exercises
from grader.problem_set import ProblemSet
from grader.reports.json_report import render as render_json
from grader.results import FAILED_TO_GRADE
from grader.sandbox import sandbox_for
from grader.service import queue
from grader.service.store import Store
from grader.submissions import grade_path

MAX_MEMBERS = 1000
MAX_MEMBER_BYTES = 4 * 1024 * 1024
MAX_EXTRACTED_BYTES = 16 * 1024 * 1024
POLL_SECONDS = 0.05


class UnsafeArchive(GraderError):
    """A zip submission that cannot be extracted safely."""


@dataclass(frozen=True)
class PreparedVersion:
    """A problem-set version ready to grade any number of submissions."""
    problem_set: ProblemSet
    exercises: tuple[Exercise, ...]         # every problem's, hidden ones included
    label: str                              # what reports name it by


def prepare_version(data_dir: Path, problem_set_id: int, version: int, yaml_text: str) -> PreparedVersion:
    """Write the version's YAML under `data_dir` (the sandbox hides it from submissions)
    and load it."""
    path = Path(data_dir) / "problem-sets" / f"{problem_set_id}-v{version}.yaml"
    label = f"problem set {problem_set_id} version {version}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(yaml_text, encoding="utf-8")
        os.replace(temporary, path)
    problem_set = loader.load(path)
    return PreparedVersion(problem_set, prepare_exercises(problem_set, include_hidden=True), label)


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse absolute paths, `..`, links, special files, too many or too large members."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise UnsafeArchive(f"the zip holds {len(members)} files; at most {MAX_MEMBERS} are accepted")
    total = 0
    for member in members:
        name = member.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise UnsafeArchive(f"the zip member {name!r} points outside the submission folder")
        file_type = stat.S_IFMT(member.external_attr >> 16)     # 0 when the zip did not record one
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchive(f"the zip member {name!r} is a link or special file; only files and folders "
                                "are accepted")
        if member.file_size > MAX_MEMBER_BYTES:
            raise UnsafeArchive(f"the zip member {name!r} has {member.file_size} bytes; at most "
                                f"{MAX_MEMBER_BYTES} per file are accepted")
        total += member.file_size
        if total > MAX_EXTRACTED_BYTES:
            raise UnsafeArchive(f"the zip expands to more than {MAX_EXTRACTED_BYTES} bytes")


def open_archive(upload: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload))
    except (zipfile.BadZipFile, ValueError) as error:
        raise UnsafeArchive(f"the upload is not a readable zip file ({error})") from None
    check_archive(archive)
    return archive


def extract(upload: bytes, folder: Path) -> None:
    """Extract a checked zip into `folder`, counting the bytes actually written (a member's
    declared size may lie)."""
    written = 0
    with open_archive(upload) as archive:
        for member in archive.infolist():
            target = folder.joinpath(*[p for p in member.filename.replace("\\", "/").split("/") if p])
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(target, "wb") as sink:
                while chunk := source.read(65536):
                    written += len(chunk)
                    if written > MAX_EXTRACTED_BYTES or sink.tell() + len(chunk) > MAX_MEMBER_BYTES:
                        raise UnsafeArchive(f"the zip expands to more than its declared size (at {member.filename!r})")
                    sink.write(chunk)


def zip_of(files: dict[str, bytes]) -> bytes:
    """A zip holding each file at the top level, by name."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def grade_upload(version: PreparedVersion, upload: bytes, kind: str, workdir: Path, name: str = "submission",
                 isolation: str = "auto", hide=()) -> str:
    """The JSON report of the upload (`kind` "py": a Python file; "zip": a folder
    submission) graded against `version`, every problem included. `workdir` is an empty
    folder for the submission's files, given to its sandbox alone (Sandbox.give); `name`
    is what the report calls the submission."""
    if kind == "zip":
        path = workdir / "submission"
        path.mkdir()
        extract(upload, path)
    else:
        path = workdir / "submission.py"
        path.write_bytes(upload)
    sandbox = sandbox_for(version.problem_set.path, isolation, hide)
    sandbox.give(workdir)               # no other worker's sandbox may read it
    report = grade_path(version.problem_set, path, include_hidden=True, prepared=version.exercises, sandbox=sandbox)
    return render_json(replace(report, problem_set=version.label, submission=name))


def result_of(report_json: str) -> queue.Result:
    """What the store keeps beside a JSON report: scores and the gradebook's status."""
    report = json.loads(report_json)
    problems = report["problems"]
    outcome = (FAILED_TO_GRADE if any(p["status"] == FAILED_TO_GRADE for p in problems)
               else "error" if report["metadata"].get("import_error")
               else "passed" if all(p["status"] == "passed" for p in problems) else "failed")
    return queue.Result(report_json, report["score"], report["max_score"], outcome,
                        {p["id"]: p["score"] for p in problems})


def process_worker_id(pid: int) -> str:
    """The worker id of the worker process `pid` on this host."""
    return f"{socket.gethostname()}/{pid}"


def fault(result: queue.Result) -> str:
    """Why a report is failed_to_grade: its metadata's reason, or its first such problem's message."""
    report = json.loads(result.report)
    return report["metadata"].get(FAILED_TO_GRADE) or next(
        p["message"] for p in report["problems"] if p["status"] == FAILED_TO_GRADE)


def grade_work(versions: dict[tuple[int, int], PreparedVersion], data_dir: Path, claim: queue.Claim,
               work: queue.Work, isolation: str = "auto") -> queue.Result:
    """The claimed job's result: its version prepared under `data_dir` once (kept in
    `versions`), its upload graded in a fresh folder outside `data_dir`, which is hidden."""
    key = (claim.problem_set_id, claim.version)
    if key not in versions:
        versions[key] = prepare_version(data_dir, claim.problem_set_id, claim.version, work.yaml)
    workdir = Path(tempfile.mkdtemp(prefix=f"bptt-grade-job-{claim.job_id}-"))
    try:
        return result_of(grade_upload(versions[key], work.upload, work.kind, workdir, claim.submission_id,
                                      isolation, hide=(str(data_dir),)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def settle(store: Store, claim: queue.Claim, result: Callable[[], queue.Result]) -> None:
    """Record what grading the claimed job gave (`result()`, which may raise) while the
    claim holds its lease: graded; a grader's fault tried once more, then failed_to_grade."""
    try:
        graded = result()
    except GraderError as error:
        queue.fail(store, claim, f"the grader could not run this submission: {error}")
    except Exception as error:      # the grader's own fault: the job fails, never the worker
        queue.fail(store, claim, f"internal error of the grader: {type(error).__name__}: {error}")
    else:
        if graded.outcome != FAILED_TO_GRADE:
            queue.complete(store, claim, graded)
        elif claim.attempt < queue.MAX_ATTEMPTS:      # a fault of the grader or host: once more
            queue.release(store, claim, counted=True)
        else:
            queue.fail(store, claim, f"the grader could not grade this submission: {fault(graded)}")


class Worker:
    """Grades claimed jobs; keeps each prepared version it has used."""

    def __init__(self, store: Store, data_dir: Path, worker_id: str | None = None,
                 lease_seconds: float = queue.LEASE_SECONDS, isolation: str = "auto"):
        self.store, self.data_dir = store, Path(data_dir)
        self.id = worker_id or process_worker_id(os.getpid())
        self.lease_seconds, self.isolation = lease_seconds, isolation
        self.versions: dict[tuple[int, int], PreparedVersion] = {}

    def grade(self, claim: queue.Claim) -> queue.Result:
        return grade_work(self.versions, self.data_dir, claim, queue.work(self.store, claim), self.isolation)

    def run_one(self) -> bool:
        """Claim a job and grade it; False when none was queued."""
        claim = queue.claim(self.store, self.id, lease_seconds=self.lease_seconds)
        if claim is None:
            return False
        graded = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(claim, graded), daemon=True)
        beat.start()
        try:
            settle(self.store, claim, lambda: self.grade(claim))
        finally:
            graded.set()
            beat.join()
        return True

    def _heartbeat(self, claim: queue.Claim, graded: threading.Event) -> None:
        while not graded.wait(self.lease_seconds / 3):
            if not queue.heartbeat(self.store, claim, lease_seconds=self.lease_seconds):
                return

    def drain(self) -> int:
        """Grade queued jobs until none is left (in this process); how many."""
        count = 0
        while self.run_one():
            count += 1
        return count


def worker_main(url: str, data_dir: str, stop, lease_seconds: float, isolation: str) -> None:
    """A worker process: claim and grade until `stop` is set or the parent is gone."""
    parent = os.getppid()
    store = Store(url)
    worker = Worker(store, Path(data_dir), lease_seconds=lease_seconds, isolation=isolation)
    try:
        while not stop.is_set() and os.getppid() == parent:
            if not (queue.has_work(store) and worker.run_one()):
                stop.wait(POLL_SECONDS)
    finally:
        store.close()


class WorkerPool:
    """`size` worker processes, each replaced when it dies (its lease ended at once, so its
    job is taken back by the next claim)."""

    def __init__(self, url: str, data_dir: Path, size: int, lease_seconds: float = queue.LEASE_SECONDS,
                 isolation: str = "auto"):
        self.url, self.data_dir, self.size = url, str(data_dir), size
        self.lease_seconds, self.isolation = lease_seconds, isolation
        self.context = multiprocessing.get_context("spawn")
        self.stop_event = self.context.Event()
        self.processes: list = []
        self.store = Store(url)
        self.watching = threading.Event()

    def _spawn(self):
        process = self.context.Process(target=worker_main, name="bptt-grade-worker", daemon=False,
                                       args=(self.url, self.data_dir, self.stop_event, self.lease_seconds,
                                             self.isolation))
        process.start()
        return process

    def start(self) -> None:
        self.processes = [self._spawn() for _ in range(self.size)]
        self.watching.set()
        threading.Thread(target=self._watch, daemon=True, name="bptt-grade-pool").start()

    def alive(self) -> int:
        return sum(p.is_alive() for p in self.processes)

    def _watch(self) -> None:
        while self.watching.is_set() and not self.stop_event.wait(0.2):
            for i, process in enumerate(self.processes):
                if not process.is_alive() and not self.stop_event.is_set():
                    process.join()
                    queue.expire_worker(self.store, process_worker_id(process.pid))
                    self.processes[i] = self._spawn()

    def stop(self, timeout: float = 60.0) -> None:
        """Drain: no new jobs; running ones finish (or, past `timeout`, are killed and taken back)."""
        self.stop_event.set()
        self.watching.clear()
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
                queue.expire_worker(self.store, process_worker_id(process.pid))
        self.store.close()
