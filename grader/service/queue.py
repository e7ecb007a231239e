"""The job queue: the database's `jobs` table is its source of truth.

A job is claimed atomically (SQLite: the claim's transaction is `BEGIN IMMEDIATE`;
PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`) with a lease: the worker, a fresh lease
token and an expiry, which the worker's heartbeat extends. A job whose lease expired is
taken back by the next claim and queued again; one claimed MAX_ATTEMPTS times whose lease
expired each time (its workers died) ends `failed_to_grade` with the reason, as does one
the grader cannot run. A result is written only by the lease holder (the lease token
matches and the job is still running), so once: every write is recorded in `job_events`.

Every function takes `now` (seconds since the epoch) so that tests can move the clock.
"""
import json
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from grader.service.store import Store, job_events, jobs, problem_sets, submissions, uploads, versions

LEASE_SECONDS = 30.0
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Claim:
    """A job held by `worker` until the lease expires."""
    job_id: int
    submission_id: str
    problem_set_id: int
    version: int
    lease_token: str
    worker: str
    attempt: int                    # 1 for the first claim


@dataclass(frozen=True)
class Work:
    """What grading a claimed job needs: the problem set's version and the upload."""
    yaml: str
    upload: bytes
    kind: str                       # py | zip


@dataclass(frozen=True)
class Result:
    """A graded submission, as the worker hands it back."""
    report: str                     # the JSON report, every problem
    score: float
    max_score: float
    outcome: str                    # passed | failed | error
    problem_scores: dict[str, float]


def _event(connection: Connection, job_id: int, event: str, worker: str | None, now: float) -> None:
    connection.execute(insert(job_events).values(job_id=job_id, event=event, worker=worker, at=now))


def enqueue(connection: Connection, submission_id: str, version: int, now: float,
            regrade_id: int | None = None) -> None:
    """Queue a job for the submission (in the caller's transaction)."""
    connection.execute(insert(jobs).values(submission_id=submission_id, version=version, regrade_id=regrade_id,
                                           status="queued", attempts=0, created_at=now))


def _locked(query, store: Store):
    return query if store.sqlite else query.with_for_update(skip_locked=True)


def _fail(connection: Connection, job, reason: str, worker: str | None, now: float) -> None:
    connection.execute(update(jobs).where(jobs.c.id == job.id).values(
        status="failed_to_grade", reason=reason, lease_token=None, finished_at=now))
    if job.regrade_id is None:      # a regrade that fails keeps the grade the submission had
        connection.execute(update(submissions).where(submissions.c.id == job.submission_id).values(
            status="failed_to_grade", reason=reason, finished_at=now))
    _event(connection, job.id, "failed", worker, now)


def reclaim_expired(connection: Connection, store: Store, now: float) -> int:
    """Queue again every running job whose lease expired, or fail it after MAX_ATTEMPTS
    claims; the number of jobs taken back."""
    expired = connection.execute(_locked(select(jobs).where(
        and_(jobs.c.status == "running", jobs.c.lease_expires_at < now)), store)).all()
    for job in expired:
        _event(connection, job.id, "expired", job.worker, now)
        if job.attempts >= MAX_ATTEMPTS:
            _fail(connection, job, f"its grading worker stopped {job.attempts} times before finishing "
                  "(the lease expired each time); this is not the submission's fault", None, now)
        else:
            connection.execute(update(jobs).where(jobs.c.id == job.id).values(
                status="queued", worker=None, lease_token=None, lease_expires_at=None))
    return len(expired)


def claim(store: Store, worker: str, now: float | None = None, lease_seconds: float = LEASE_SECONDS) -> Claim | None:
    """The oldest queued job, leased to `worker`; None when there is none."""
    now = time.time() if now is None else now
    with store.writing() as connection:
        reclaim_expired(connection, store, now)
        job = connection.execute(_locked(select(jobs).where(jobs.c.status == "queued")
                                         .order_by(jobs.c.id).limit(1), store)).first()
        if job is None:
            return None
        lease_token = secrets.token_hex(16)
        connection.execute(update(jobs).where(jobs.c.id == job.id).values(
            status="running", attempts=job.attempts + 1, worker=worker, lease_token=lease_token,
            lease_expires_at=now + lease_seconds, heartbeat_at=now))
        connection.execute(update(submissions).where(
            and_(submissions.c.id == job.submission_id, submissions.c.status == "queued"))
            .values(status="running", started_at=now))
        _event(connection, job.id, "claimed", worker, now)
        problem_set_id = connection.execute(select(submissions.c.problem_set_id)
                                            .where(submissions.c.id == job.submission_id)).scalar_one()
    return Claim(job.id, job.submission_id, problem_set_id, job.version, lease_token, worker, job.attempts + 1)


def _held(c: Claim):
    return and_(jobs.c.id == c.job_id, jobs.c.lease_token == c.lease_token, jobs.c.status == "running")


def work(store: Store, c: Claim) -> Work:
    with store.reading() as connection:
        yaml = connection.execute(select(versions.c.yaml).where(and_(
            versions.c.problem_set_id == c.problem_set_id, versions.c.version == c.version))).scalar_one()
        upload = connection.execute(select(uploads.c.data).where(uploads.c.submission_id == c.submission_id)
                                    ).scalar_one()
        kind = connection.execute(select(submissions.c.kind).where(submissions.c.id == c.submission_id)
                                  ).scalar_one()
    return Work(yaml, bytes(upload), kind)


def heartbeat(store: Store, c: Claim, now: float | None = None, lease_seconds: float = LEASE_SECONDS) -> bool:
    """Extend the lease; False when it was lost (expired and taken back)."""
    now = time.time() if now is None else now
    with store.writing() as connection:
        return connection.execute(update(jobs).where(and_(_held(c), jobs.c.lease_expires_at >= now)).values(
            heartbeat_at=now, lease_expires_at=now + lease_seconds)).rowcount == 1


def complete(store: Store, c: Claim, result: Result, now: float | None = None) -> bool:
    """Write the result if `c` still holds the lease; whether it was written."""
    now = time.time() if now is None else now
    with store.writing() as connection:
        if connection.execute(update(jobs).where(_held(c)).values(
                status="done", lease_token=None, finished_at=now)).rowcount != 1:
            return False
        connection.execute(update(submissions).where(submissions.c.id == c.submission_id).values(
            status="graded", version=c.version, score=result.score, max_score=result.max_score,
            outcome=result.outcome, problem_scores=json.dumps(result.problem_scores), report=result.report,
            reason=None, finished_at=now))
        _event(connection, c.job_id, "completed", c.worker, now)
    return True


def fail(store: Store, c: Claim, reason: str, now: float | None = None) -> bool:
    """End the job `failed_to_grade` with `reason` if `c` still holds the lease."""
    now = time.time() if now is None else now
    with store.writing() as connection:
        job = connection.execute(select(jobs).where(_held(c))).first()
        if job is None:
            return False
        _fail(connection, job, reason, c.worker, now)
    return True


def release(store: Store, c: Claim, now: float | None = None, counted: bool = False) -> bool:
    """Give the job back unfinished: queued again, this claim not counted (a draining
    worker) or `counted` (a fault of the grader: MAX_ATTEMPTS such claims fail the job)."""
    now = time.time() if now is None else now
    with store.writing() as connection:
        released = connection.execute(update(jobs).where(_held(c)).values(
            status="queued", attempts=c.attempt if counted else c.attempt - 1, worker=None, lease_token=None,
            lease_expires_at=None)).rowcount == 1
        if released:
            _event(connection, c.job_id, "released", c.worker, now)
    return released


def expire_worker(store: Store, worker: str, now: float | None = None) -> int:
    """End the leases of a worker known to be dead, so that its jobs are taken back at once."""
    now = time.time() if now is None else now
    with store.writing() as connection:
        return connection.execute(update(jobs).where(and_(jobs.c.worker == worker, jobs.c.status == "running"))
                                  .values(lease_expires_at=now - 1)).rowcount


def has_work(store: Store, now: float | None = None) -> bool:
    """Whether a claim could find a job (a cheap read before the claim's write lock)."""
    now = time.time() if now is None else now
    with store.reading() as connection:
        return connection.execute(select(jobs.c.id).where(or_(
            jobs.c.status == "queued", and_(jobs.c.status == "running", jobs.c.lease_expires_at < now)))
            .limit(1)).first() is not None


def depth(connection: Connection) -> int:
    """Jobs queued or running."""
    return connection.execute(select(func.count()).select_from(jobs)
                              .where(jobs.c.status.in_(("queued", "running")))).scalar_one()


def regrade_progress(connection: Connection, problem_set_id: int) -> dict | None:
    """{"done", "total"} of the problem set's latest regrade, or None if it had none."""
    regrade_id = connection.execute(select(problem_sets.c.regrade_id)
                                    .where(problem_sets.c.id == problem_set_id)).scalar_one()
    if regrade_id is None:
        return None
    by_status = select(jobs.c.status, func.count()).where(jobs.c.regrade_id == regrade_id).group_by(jobs.c.status)
    counts: dict[str, int] = dict(connection.execute(by_status).all())
    return {"done": counts.get("done", 0) + counts.get("failed_to_grade", 0), "total": sum(counts.values())}
