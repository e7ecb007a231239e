"""Grade on a Dask distributed cluster: `bptt-grade batch … --scheduler ADDRESS`.

ADDRESS is a running scheduler's (`tcp://HOST:PORT`, or `tls://HOST:PORT` with Dask's
security configuration: distributed.comm.tls.*) or "local", an in-process LocalCluster of
`--jobs` worker processes. No file system is shared: a task carries one submission's
bytes (a file, or a folder zipped: `Packed`) and the problem set's content hash (SHA-256
of its file). The problem set itself reaches each worker once, in a worker plugin
(`ProblemSetPlugin`), which also prepares its exercises and a MistakeRuns on the worker
and starts the worker's sandbox zygote, once; `grade_packed` grades a submission there and
returns the record's row (its JSON report included) and each report format's text.
A task carries a chunk of submissions (`grade_chunk`; `chunk_size` says how many: up to
MAX_CHUNK while a chunk takes under TASK_SECONDS, single ones for the last of the class),
so Dask's own cost per task (≈ 5 ms of CPU in the client, the scheduler and the worker) is
shared. This process writes the reports and records each result as its chunk completes, in
the same record as a local batch, so a batch on a cluster is resumable in the same way.
At the rlimits level (as root) each worker's sandboxes run under a spare uid of its own
(`own_uid`, grader.uid_pool), as a local batch's workers' do; each folder a task unpacks
into is given to its sandbox alone (grader.sandbox.Sandbox.give).

Faults: Dask runs the task of a worker that died again elsewhere; a chunk whose workers die
every time (distributed.scheduler.allowed-failures, the scheduler's configuration) is sent
again one submission per task, and a submission whose workers die every time alone is
recorded failed_to_grade (graded again by the next run); a lost scheduler stops the batch
(ClusterLost, exit 1), and running it again grades the rest.
"""
import collections
import contextlib
import io
import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import dask.config
from distributed import Client, Future, LocalCluster, get_worker, wait
from distributed.client import FutureCancelledError, FuturesCancelledError
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.scheduler import KilledWorker

from grader import loader
from grader.batch import (
    TICK,
    Graded,
    Options,
    Progress,
    graded,
    graded_report,
    report_texts,
    shown_id,
    unfinished,
    write_report_files,
    write_reports,
)
from grader.diagnosis import MistakeRuns
from grader.errors import ClusterLost, GraderError, SandboxUnavailable, UsageError
from grader.grading import prepare_exercises
from grader.problem_set import ProblemSet
from grader.results import Report
from grader.runner import Zygote
from grader.sandbox import LEVELS, choose, sandbox_for, unavailable, use_own_uid
from grader.uid_pool import NoSpareUids, remove_leftovers_of, spare_uids

LOCAL = "local"
SCHEMES = ("tcp://", "tls://")
CONNECT_SECONDS = 30.0
WORKER_WAIT_SECONDS = 60.0
MAX_PACKED_BYTES = 64 << 20         # a submission's bytes sent to a worker, zipped or not
STARTED = "bptt-grade started"      # the event topic on which a worker says a student is graded: [id, seconds so far]
TASKS_PER_THREAD = 4                # tasks in flight per worker thread: each worker always has the next one
MAX_CHUNK = 8                       # submissions in one task at most
TASK_SECONDS = 1.0                  # a chunk's grading time at most, from the rate so far: a lost worker loses little
CHUNKS_AHEAD = 2                    # chunks each thread still has to take at least: the tail stays balanced
# Dask's own periodic work that a grading worker does not need, off or slowed for a
# LocalCluster (README, "Grading on a cluster", for `dask worker`): the statistical profiler
# (every 10 ms), the event loops' health check (every 20 ms) and the system monitor (every
# 0.5 s); with no memory limit, the nanny's memory monitor (every 0.1 s) too. And glibc's
# heap left as it is by default: Dask's nanny starts each worker with MALLOC_TRIM_THRESHOLD_
# = 64 KiB, which returns memory to the system after every numpy array freed (and turns off
# glibc's adaptive mmap threshold): ≈ 2 ms more CPU for each submission graded.
QUIET_WORKERS = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                 "distributed.admin.system-monitor.interval": "2s",
                 "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


@dataclass(frozen=True)
class Packed:
    """A submission as bytes for a worker: a file's content, or a folder zipped (its
    regular files; symbolic links are not sent)."""
    name: str           # the file's or the folder's name
    folder: bool
    content: bytes


def pack(path: Path) -> Packed:
    """`path` (a file or a folder) as a Packed; a UsageError when larger than MAX_PACKED_BYTES."""
    if path.is_dir():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(path.rglob("*")):
                if file.is_file() and not file.is_symlink():
                    archive.write(file, file.relative_to(path).as_posix())
        packed = Packed(path.name, True, buffer.getvalue())
    else:
        packed = Packed(path.name, False, path.read_bytes())
    if len(packed.content) > MAX_PACKED_BYTES:
        raise UsageError(f"the submission is {len(packed.content) >> 20} MB packed: at most "
                         f"{MAX_PACKED_BYTES >> 20} MB is sent to a worker")
    return packed


def unpack(packed: Packed, into: Path) -> Path:
    """Write `packed` into the folder `into`; its path there."""
    target = into / packed.name
    if packed.folder:
        with zipfile.ZipFile(io.BytesIO(packed.content)) as archive:
            if sum(member.file_size for member in archive.infolist()) > MAX_PACKED_BYTES:
                raise UsageError(f"the submission unpacks to more than {MAX_PACKED_BYTES >> 20} MB")
            target.mkdir()                      # an empty folder has no member
            archive.extractall(target)          # member names made relative and free of '..'
    else:
        target.write_bytes(packed.content)
    return target


@dataclass(frozen=True)
class Prepared:
    """A problem set on a worker, ready to grade any number of submissions against."""
    problem_set: ProblemSet     # its path the client's, for the reports
    exercises: tuple
    runs: MistakeRuns
    file: Path                  # the worker's copy, hidden from submissions


# On a worker: each problem set sent to it by content hash, and the plugins holding it;
# each grading thread's folder, in which it unpacks one submission at a time, and what it
# grades (student, since when: time.monotonic()); the folder of the submissions graded, to
# remove (no sandbox's); the threads removing them and announcing long gradings.
_prepared: dict[str, Prepared] = {}
_holders: dict[str, set[str]] = {}
_scratch: dict[int, Path] = {}
_grading: dict[int, tuple[str, float]] = {}
_trash: list[Path] = []
_discarded: queue.SimpleQueue = queue.SimpleQueue()
_helpers: list[threading.Thread] = []


class ProblemSetPlugin(WorkerPlugin):
    """Sends a problem set's file to every worker of the cluster, present and future, once;
    each worker prepares it (exercises, MistakeRuns) and starts its sandbox zygote."""

    def __init__(self, digest: str, path: str, content: bytes, caps: loader.SizeCaps):
        self.name = f"bptt-grade problem set {digest[:16]} {uuid.uuid4().hex[:8]}"
        self.digest, self.path, self.content, self.caps = digest, path, content, caps

    def setup(self, worker=None) -> None:
        _holders.setdefault(self.digest, set()).add(self.name)
        if not _helpers:
            announcing = (worker or get_worker(), threading.Event())        # never stopped: it is the worker's
            _helpers.extend([threading.Thread(target=remove_discarded, daemon=True, name="bptt-grade remover"),
                             threading.Thread(target=announce_long_gradings, args=announcing, daemon=True,
                                              name="bptt-grade announcer")])
            for thread in _helpers:
                thread.start()
        if self.digest not in _prepared:
            folder = Path(tempfile.mkdtemp(prefix="bptt-grade-problem-set-"))
            file = folder / Path(self.path).name
            file.write_bytes(self.content)
            problem_set = replace(loader.load(file, self.caps), path=self.path)
            _prepared[self.digest] = Prepared(problem_set, prepare_exercises(problem_set, include_hidden=True),
                                              MistakeRuns(), file)
        Zygote.shared()

    def teardown(self, worker=None) -> None:
        holders = _holders.get(self.digest, set())
        holders.discard(self.name)
        if not holders and self.digest in _prepared:
            shutil.rmtree(_prepared.pop(self.digest).file.parent, ignore_errors=True)
        if not _prepared:           # no batch uses this worker
            for folder in [*_scratch.values(), *_trash]:
                shutil.rmtree(folder, ignore_errors=True)
            _scratch.clear()
            _trash.clear()


def scratch_folder() -> Path:
    """On a worker: this thread's folder to unpack submissions in, made once, as the sandbox
    and its tracebacks name it."""
    folder = _scratch.get(threading.get_ident())
    if folder is None:
        folder = Path(os.path.realpath(tempfile.mkdtemp(prefix="bptt-grade-submission-")))
        _scratch[threading.get_ident()] = folder
    return folder


def discard(path: Path) -> None:
    """On a worker: remove the file or folder at `path`, if any, off the grading thread: it
    is moved at once into a folder no sandbox is given and removed by `remove_discarded`
    (removing a folder waits ≈ 2 ms for the disk of this project's machine, ext4 with
    online discard)."""
    if not _trash:
        _trash.append(Path(tempfile.mkdtemp(prefix="bptt-grade-discarded-")))
    discarded = _trash[0] / uuid.uuid4().hex
    try:
        path.rename(discarded)
    except FileNotFoundError:
        return
    except OSError:                 # e.g. not on one file system: removed here and now
        remove(path)
    else:
        _discarded.put(discarded)


def announce_long_gradings(worker, stop: threading.Event) -> None:
    """On a worker, in a thread of its own until `stop` is set: log a STARTED event, once,
    for each submission graded for TICK seconds or more (the batch's progress shows the
    longest one running). An event for every submission would cost ≈ 1.5 ms of CPU each in
    the worker, the scheduler and the batch."""
    announced: set[tuple[str, float]] = set()
    while not stop.wait(TICK):
        now, grading = time.monotonic(), set(_grading.values())
        for student, since in grading - announced:
            if now - since >= TICK:
                worker.log_event(STARTED, [student, now - since])
                announced.add((student, since))
        announced &= grading


def remove_discarded() -> None:
    """On a worker, in a thread of its own: remove each file or folder `discard` moved."""
    while True:
        remove(_discarded.get())


def remove(path: Path) -> None:
    """Remove the file or folder at `path`, if any."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# On a worker: the spare uid its sandboxes run under at the rlimits level, claimed on its
# first such task and held until it exits (None: none could be claimed).
_claimed: list[int | None] = []


def no_uid_of_its_own(why: NoSpareUids) -> str:
    """Why a worker's sandboxes at the rlimits level share a uid with other workers'."""
    return (f"bptt-grade worker {os.getpid()}: at the rlimits level this worker's sandboxes run under the same uid "
            f"as the other workers' on this host unless each has a spare uid of its own, {why}: a submission "
            "could signal another's; run one worker per host, or use the namespaces level")


@contextlib.contextmanager
def own_uid(isolation: str) -> Iterator[None]:
    """On a worker, around a task graded at `isolation`: at the rlimits level, its
    sandboxes run under a spare uid of the worker's own (grader.uid_pool; claimed on its
    first such task and held until it exits, so several workers on one host never share
    one), and what they leave under it (processes, IPC objects, files in the temporary
    folders) is removed after each task. Without one, stderr says why, once."""
    try:
        rlimits = not choose(isolation).private_view
    except SandboxUnavailable:      # the task says so itself
        rlimits = False
    if rlimits and not _claimed:
        try:
            [spare] = spare_uids(1)
        except NoSpareUids as why:
            _claimed.append(None)
            print(no_uid_of_its_own(why), file=sys.stderr, flush=True)
        else:
            _claimed.append(spare)
            use_own_uid(spare)
    uid = _claimed[0] if rlimits else None
    try:
        yield
    finally:
        if uid is not None:
            remove_leftovers_of(uid)


def sandbox_levels() -> dict:
    """On a worker: the level "auto" gives there, and why each level cannot run there
    (None where it can)."""
    return {"auto": choose().name, "unavailable": {name: unavailable(name) for name in LEVELS}}


def grade_packed(digest: str, student: str, submission: str, packed: Packed,
                 options: Options) -> tuple[Graded, dict[str, bytes], float]:
    """On a worker: grade `packed` against the problem set of content hash `digest` (sent
    by ProblemSetPlugin), hidden problems included, in a sandbox confined as
    `options.isolation` and `options.hide` say there; the record's row (its JSON report
    included), each of `options.formats`' text, and the seconds it took. `submission` is its
    path where the batch found it, which the row and the reports name. A fault is
    failed_to_grade."""
    started = time.monotonic()
    _grading[threading.get_ident()] = (student, started)
    try:
        graded_row, texts = graded_packed(digest, student, Path(submission), packed, options)
    finally:
        del _grading[threading.get_ident()]
    return graded_row, texts, time.monotonic() - started


def graded_packed(digest: str, student: str, path: Path, packed: Packed,
                  options: Options) -> tuple[Graded, dict[str, bytes]]:
    """grade_packed's row and texts."""
    prepared = _prepared.get(digest)
    if prepared is None:
        raise LookupError("the problem set did not reach the worker that took it")
    folder = scratch_folder()
    with own_uid(options.isolation):
        try:
            unpacked = unpack(packed, folder)
            sandbox = sandbox_for(prepared.file, options.isolation, options.hide)
            sandbox.give(folder)            # no other worker's sandbox may read it
        except (OSError, GraderError) as error:
            report = unfinished(prepared.problem_set, path, f"the worker could not take it: {error}")
        else:
            report = relocated(graded_report(prepared.problem_set, unpacked, options, prepared.exercises,
                                             prepared.runs, sandbox), str(folder), str(path.parent))
        finally:
            discard(folder / packed.name)
    return graded(student, path, report, {}), report_texts(report, options)


def grade_chunk(digest: str, chunk: list[tuple[str, str, Packed]],
                options: Options) -> list[tuple[Graded, dict[str, bytes], float]]:
    """On a worker: grade_packed of each (student, submission, packed) of `chunk`, in turn."""
    return [grade_packed(digest, student, submission, packed, options) for student, submission, packed in chunk]


def chunk_size(waiting: int, threads: int, seconds_each: float | None) -> int:
    """How many of the `waiting` submissions the next task takes, on a cluster of `threads`
    worker threads that grade one in `seconds_each` seconds (None before any is back):
    1 until then, else at most MAX_CHUNK and TASK_SECONDS' worth, and a CHUNKS_AHEAD-th
    of each thread's share of what waits (so the last are sent one by one)."""
    if seconds_each is None:
        return 1
    by_time = int(TASK_SECONDS / seconds_each) if seconds_each > 0 else MAX_CHUNK
    return max(1, min(MAX_CHUNK, by_time, waiting // (CHUNKS_AHEAD * threads)))


def relocated(report: Report, here: str, there: str) -> Report:
    """`report` of a submission unpacked in the folder `here` as if graded where the batch
    found it, in the folder `there`: its path, its messages, tracebacks and metadata."""
    def moved(text: str) -> str:
        return text.replace(here, there)
    problems = tuple(replace(p, message=moved(p.message), traceback=moved(p.traceback)) for p in report.problems)
    metadata = {key: moved(value) if isinstance(value, str) else value for key, value in report.metadata.items()}
    return replace(report, submission=moved(report.submission), problems=problems, metadata=metadata)


def check_address(address: str) -> None:
    """A UsageError unless `address` is a scheduler's (tcp:// or tls://) or "local"."""
    if address != LOCAL and not address.startswith(SCHEMES):
        raise UsageError(f"--scheduler {address!r} is not a Dask scheduler's address "
                         f"(tcp://HOST:PORT or tls://HOST:PORT) nor {LOCAL!r}")


@contextlib.contextmanager
def connected(address: str, jobs: int | None, timeout: float = CONNECT_SECONDS) -> Iterator[Client]:
    """A Dask client of the scheduler at `address` (given up after `timeout` seconds), or
    of a LocalCluster of `jobs` worker processes (default: one per core) for "local";
    Dask's own log quiet but for errors (its connection errors are reported as this
    module's)."""
    check_address(address)
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        with contextlib.ExitStack() as stack:
            if address == LOCAL:
                stack.enter_context(dask.config.set(QUIET_WORKERS))
                cluster = stack.enter_context(LocalCluster(
                    n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True, host="127.0.0.1",
                    memory_limit=0, dashboard_address=None, silence_logs=logging.ERROR))
                client = stack.enter_context(Client(cluster))
            else:
                try:
                    client = stack.enter_context(Client(address, timeout=timeout))
                except (OSError, TimeoutError, TypeError) as error:     # TypeError: tls:// without its configuration
                    raise UsageError(f"cannot reach the Dask scheduler at {address}: {error}") from None
            yield client
    finally:
        quiet.setLevel(level)


def check_workers(client: Client, address: str, isolation: str) -> dict[str, str]:
    """Each worker's sandbox level (worker address → level name), once at least one worker
    has joined; a SandboxUnavailable when a worker cannot provide the level `isolation`
    names."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        raise UsageError(f"no worker joined the Dask scheduler at {address} in {WORKER_WAIT_SECONDS:.0f} s: "
                         f"start some with `dask worker {address}`") from None
    try:
        levels = client.run(sandbox_levels)
    except Exception as error:          # e.g. a worker without the grader installed
        raise UsageError(f"the workers of {address} cannot run the grader ({type(error).__name__}: {error}): "
                         "install the same version of bptt-grade on each") from None
    for worker, level in sorted(levels.items()):
        if isolation != "auto" and level["unavailable"][isolation]:
            raise SandboxUnavailable(f"isolation level {isolation!r} is not available on worker {worker}: "
                                     f"{level['unavailable'][isolation]}")
    return {worker: level_used(level, isolation) for worker, level in levels.items()}


def level_used(levels: dict, isolation: str) -> str:
    """The sandbox level a worker whose `sandbox_levels()` are `levels` grades at when
    `isolation` is asked for: "unavailable" when it cannot provide that level."""
    if isolation == "auto":
        return levels["auto"]
    return "unavailable" if levels["unavailable"][isolation] else isolation


def describe_levels(levels: dict[str, str]) -> str:
    """"2 workers, sandbox namespaces" or "3 workers, sandbox namespaces on 2, rlimits on 1"."""
    counts = {level: list(levels.values()).count(level) for level in sorted(set(levels.values()))}
    if len(counts) == 1:
        return f"{len(levels)} worker{'s' * (len(levels) != 1)}, sandbox {next(iter(counts))}"
    return f"{len(levels)} workers, sandbox " + ", ".join(f"{level} on {n}" for level, n in counts.items())


def graded_on_cluster(address: str, problem_set: ProblemSet, problem_set_path: str, digest: str, options: Options,
                      jobs: int | None, pending: list[tuple[str, Path]],
                      progress: Progress) -> Generator[Graded, None, None]:
    """Grade `pending` (student, path) on the cluster of `address` against `problem_set`
    (its file at `problem_set_path`, content hash `digest`), yielding the Graded to record
    of each as it completes, its reports written; `progress` is told as a worker starts
    each, and ticked every TICK seconds. Raises ClusterLost when the scheduler goes away."""
    with connected(address, jobs) as client:
        levels = check_workers(client, address, options.isolation)
        print(f"bptt-grade batch: grading on {address}: {describe_levels(levels)}", file=sys.stderr)
        plugin = ProblemSetPlugin(digest, problem_set_path, Path(problem_set_path).read_bytes(), options.caps)
        client.register_plugin(plugin)
        try:
            yield from graded_by(client, address, problem_set, digest, options, pending, progress)
        finally:
            if client.status == "running":     # the workers forget the problem set
                client.unregister_worker_plugin(plugin.name)


def graded_by(client: Client, address: str, problem_set: ProblemSet, digest: str, options: Options,
              pending: list[tuple[str, Path]], progress: Progress) -> Generator[Graded, None, None]:
    """graded_on_cluster's results, once the problem set is on the workers. At most
    TASKS_PER_THREAD tasks per worker thread are in flight, each a chunk (chunk_size): the
    scheduler's load stays flat in the class size."""
    threads = max(sum(client.nthreads().values()), 1)
    waiting = collections.deque(pending)
    alone: collections.deque[tuple[str, Path]] = collections.deque()    # sent one per task
    running: dict[Future, list[tuple[str, Path]]] = {}
    started, done_count = time.monotonic(), 0
    starts: queue.SimpleQueue = queue.SimpleQueue()
    client.subscribe_topic(STARTED, lambda event: starts.put((shown_id(event[1][0]), time.monotonic() - event[1][1])))
    try:
        while True:
            while len(running) < TASKS_PER_THREAD * threads and (alone or waiting):
                seconds_each = (time.monotonic() - started) * threads / done_count if done_count else None
                size = 1 if alone else min(chunk_size(len(waiting), threads, seconds_each), len(waiting))
                sent = []
                for student, path in [alone.popleft()] if alone else [waiting.popleft() for _ in range(size)]:
                    try:
                        sent.append((student, path, pack(path)))
                    except (OSError, UsageError) as error:
                        yield write_reports(student, path, unfinished(problem_set, path, str(error)), options)
                if sent:
                    running[client.submit(grade_chunk, digest, [(s, str(p), packed) for s, p, packed in sent],
                                          options, pure=False, key=task_key(sent))] = [(s, p) for s, p, _ in sent]
            if not running:
                return
            try:
                done = wait(list(running), timeout=TICK, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            except FuturesCancelledError:       # the scheduler is gone: `received` says so
                done = {future for future in running if future.cancelled()}
            while not starts.empty():
                progress.start(*starts.get())
            if not done:
                progress.tick()
            for future in done:
                chunk = running.pop(future)
                if len(chunk) > 1 and future.status == "error" and isinstance(future.exception(), KilledWorker):
                    alone.extend(chunk)         # each alone: only one that kills its workers is given up
                    continue
                done_count += len(chunk)
                for result, seconds in received(future, chunk, problem_set, address, options):
                    if seconds is not None and result.student not in progress.running:
                        progress.start(result.student, time.monotonic() - seconds)     # how long it took
                    yield result
    finally:
        client.unsubscribe_topic(STARTED)


def task_key(chunk: list) -> str:
    """A task's key: its first student's id and how many more, unique."""
    more = f" and {len(chunk) - 1} more" if len(chunk) > 1 else ""
    return f"bptt-grade {shown_id(chunk[0][0])}{more} {uuid.uuid4().hex}"


def workers_died(error: KilledWorker) -> str:
    """Why a task the scheduler gave up on is failed_to_grade."""
    return (f"every worker grading it died ({error.allowed_failures + 1} tries, the scheduler's "
            "distributed.scheduler.allowed-failures + 1)")


def received(future, chunk: list[tuple[str, Path]], problem_set: ProblemSet, address: str,
             options: Options) -> list[tuple[Graded, float | None]]:
    """The Graded to record of each (student, path) of a completed task's `chunk`, its
    reports written, and the seconds a worker took to grade it (None when unknown);
    failed_to_grade when its workers died, or when it or a report failed."""
    def failed(why: str) -> list[tuple[Graded, float | None]]:
        return [(write_reports(student, path, unfinished(problem_set, path, why), options), None)
                for student, path in chunk]
    try:
        results = future.result()
    except KilledWorker as error:
        return failed(workers_died(error))
    except FutureCancelledError as error:
        raise ClusterLost(f"lost the Dask scheduler at {address} ({error.reason}): what was graded is recorded; "
                          "run the same command again to grade the rest") from None
    except Exception as error:          # e.g. a worker without the grader installed
        return failed(f"internal error {type(error).__name__}: {error}")
    return [(with_files(student, path, graded_row, texts, problem_set, options), seconds)
            for (student, path), (graded_row, texts, seconds) in zip(chunk, results, strict=True)]


def with_files(student: str, path: Path, graded_row: Graded, texts: dict[str, bytes], problem_set: ProblemSet,
               options: Options) -> Graded:
    """`graded_row` with its reports `texts` written; failed_to_grade when they cannot be."""
    try:
        files = write_report_files(student, texts, options)
    except Exception as error:          # e.g. a full disk: recorded without its files
        return graded(student, path, unfinished(problem_set, path, f"its reports could not be written: {error}"), {})
    return replace(graded_row, reports=files)
