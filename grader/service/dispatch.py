"""The service's jobs graded as Dask tasks: `bptt-grade serve --scheduler ADDRESS`.

The database stays the source of truth. A dispatcher thread in the server claims jobs
with the queue's leases (grader.service.queue), at most TASKS_PER_THREAD per worker
thread of the cluster, and submits each as a task carrying its version's YAML and its
upload (`grade_job`: grader.service.workers.grade_work on a Dask worker, which prepares
each version once). It heartbeats the leases of its tasks and records each result as
the local workers do (`settle`: only the lease holder writes, so once). A task Dask gives
up on (every worker running it died, distributed.scheduler.allowed-failures + 1 times) is
failed_to_grade.

When the scheduler is lost, the jobs of its tasks are given back to the queue (queued
again, the claim not counted), the API keeps accepting submissions, and the dispatcher
connects again every RETRY_SECONDS; if the server itself dies, its leases expire and are
taken back by the next claim.

`Dispatcher.health()` is what /healthz says of the cluster: the scheduler's address,
whether it is reached, its workers and the sandbox level each grades at.
"""
import functools
import logging
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

from distributed import Client, Future, wait
from distributed.client import FuturesCancelledError
from distributed.scheduler import KilledWorker

from grader.cluster import TASKS_PER_THREAD, connected, level_used, own_uid, sandbox_levels, workers_died
from grader.errors import GraderError, UsageError
from grader.service import queue
from grader.service.store import Store
from grader.service.workers import PreparedVersion, grade_work, process_worker_id, settle

POLL_SECONDS = 0.2
RETRY_SECONDS = 2.0
CONNECT_SECONDS = 5.0

log = logging.getLogger("bptt-grade.dispatch")

# On a Dask worker: each version it has prepared, under its own folder.
_versions: dict[tuple[int, int], PreparedVersion] = {}
_data_dir: list[Path] = []


def grade_job(claim: queue.Claim, work: queue.Work, isolation: str) -> queue.Result:
    """On a Dask worker: the claimed job's result (grader.service.workers.grade_work), its
    sandboxes under the worker's own uid at the rlimits level (cluster.own_uid)."""
    if not _data_dir:
        _data_dir.append(Path(tempfile.mkdtemp(prefix="bptt-grade-service-")))
    with own_uid(isolation):
        return grade_work(_versions, _data_dir[0], claim, work, isolation)


def task_result(future: Future) -> queue.Result:
    """A completed task's result; a GraderError when the scheduler gave up on it (every
    worker grading it died: distributed.scheduler.allowed-failures + 1 tries)."""
    try:
        return future.result()
    except KilledWorker as error:
        raise GraderError(workers_died(error)) from None


class SchedulerLost(Exception):
    """The Dask scheduler went away while the dispatcher used it."""


class Dispatcher:
    """Grades the queue's jobs on the Dask cluster of `address` ("local": a LocalCluster of
    `jobs` workers) from a thread, until stopped."""

    def __init__(self, url: str, address: str, jobs: int | None = None,
                 lease_seconds: float = queue.LEASE_SECONDS, isolation: str = "auto"):
        self.store, self.address, self.jobs = Store(url), address, jobs
        self.lease_seconds, self.isolation = lease_seconds, isolation
        self.id = f"{process_worker_id(os.getpid())} dask {address}"
        self.stop_event = threading.Event()
        self.connected = threading.Event()          # set while a scheduler is reached
        self.levels: dict[str, str] = {}            # worker address → the sandbox level it grades at
        self.thread = threading.Thread(target=self._run, daemon=True, name="bptt-grade-dispatcher")

    def start(self) -> None:
        self.thread.start()

    def health(self) -> dict:
        """/healthz's `dask`: {"scheduler": ADDRESS, "connected": bool, "workers": N,
        "sandbox_levels": {level: workers grading at it}} ("unavailable": workers that
        cannot provide the service's isolation level)."""
        levels = list(self.levels.values())
        return {"scheduler": self.address, "connected": self.connected.is_set(), "workers": len(levels),
                "sandbox_levels": {level: levels.count(level) for level in sorted(set(levels))}}

    def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming; the jobs of running tasks are given back to the queue."""
        self.stop_event.set()
        self.thread.join(timeout)
        self.store.close()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with connected(self.address, self.jobs, CONNECT_SECONDS) as client:
                    self.connected.set()
                    self._dispatch(client)
            except (UsageError, SchedulerLost, OSError, TimeoutError) as error:
                log.warning("bptt-grade serve: the Dask scheduler at %s: %s; trying again", self.address, error)
            except Exception:           # e.g. the database unreachable: the thread lives on, and tries again
                log.exception("bptt-grade serve: dispatching to %s failed; trying again", self.address)
            finally:
                self.connected.clear()
                self.levels = {}
            self.stop_event.wait(RETRY_SECONDS)

    def _dispatch(self, client: Client) -> None:
        """Claim, submit, heartbeat and record until stopped; SchedulerLost when the scheduler goes."""
        running: dict[Future, queue.Claim] = {}
        beaten = time.monotonic()
        try:
            while not self.stop_event.is_set():
                if client.status != "running":
                    raise SchedulerLost(f"the client is {client.status}")
                threads = client.nthreads()
                if threads.keys() != self.levels.keys():        # a worker joined or left
                    self.levels = self._levels(client)
                window = TASKS_PER_THREAD * max(sum(threads.values()), 1)
                while len(running) < window and queue.has_work(self.store):
                    claim = queue.claim(self.store, self.id, lease_seconds=self.lease_seconds)
                    if claim is None:
                        break
                    running[client.submit(grade_job, claim, queue.work(self.store, claim), self.isolation,
                                          pure=False, key=f"bptt-grade job {claim.job_id} {uuid.uuid4().hex}")] = claim
                done = self._completed(list(running))
                for future in done:
                    if future.cancelled():
                        raise SchedulerLost("its tasks were cancelled")
                    settle(self.store, running.pop(future), functools.partial(task_result, future))
                if time.monotonic() - beaten > self.lease_seconds / 3:
                    beaten = time.monotonic()
                    for future, claim in list(running.items()):
                        if not queue.heartbeat(self.store, claim, lease_seconds=self.lease_seconds):
                            future.cancel()         # taken back: another claim grades it
                            del running[future]
        finally:
            for claim in running.values():          # queued again, to be graded when a scheduler is back
                queue.release(self.store, claim)

    def _levels(self, client: Client) -> dict[str, str]:
        """Each worker's sandbox level (cluster.level_used); a worker that cannot say is "unknown"."""
        found = client.run(sandbox_levels, on_error="return")
        return {worker: level_used(levels, self.isolation) if isinstance(levels, dict) else "unknown"
                for worker, levels in found.items()}

    def _completed(self, futures: list[Future]) -> set[Future]:
        if not futures:
            self.stop_event.wait(POLL_SECONDS)
            return set()
        try:
            return wait(futures, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return set()
        except FuturesCancelledError:
            raise SchedulerLost("its tasks were cancelled") from None
