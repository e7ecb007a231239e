"""The job queue: atomic claims, leases, expiry, exactly one result per job."""
import threading

import pytest
from sqlalchemy import func, select

from grader.service import queue, records
from grader.service.store import User, job_events, jobs, submissions
from tests.service.conftest import SMALL_SET

NOW = 1_000_000.0
RESULT = queue.Result('{"report": true}', 3.0, 20.0, "failed", {"worked-example": 3.0})


@pytest.fixture
def student(store) -> User:
    store.create_token("alice", "student")
    return User(1, "alice", "student")


@pytest.fixture
def submitted(store, student):
    """Submit n files to a fresh problem set; the submissions' ids."""
    summary = {"title": "small", "problems": [], "audit": {}, "check_reference": {"ok": True,
                                                                                  "max_relative_error": 0.0}}
    problem_set_id, _ = records.publish(store, SMALL_SET, summary)

    def submit(n: int = 1) -> list[str]:
        return [records.accept(store, problem_set_id, student, "s.py", b"x = 1\n")["id"] for _ in range(n)]
    return submit


def events(store, event: str) -> int:
    with store.reading() as connection:
        return connection.execute(select(func.count()).select_from(job_events)
                                  .where(job_events.c.event == event)).scalar_one()


def submission(store, submission_id: str):
    with store.reading() as connection:
        return connection.execute(select(submissions).where(submissions.c.id == submission_id)).one()


def test_a_claim_leases_the_oldest_job_and_marks_the_submission_running(store, submitted):
    first, _ = submitted(2)
    claim = queue.claim(store, "w1", now=NOW, lease_seconds=10)
    assert (claim.submission_id, claim.worker, claim.attempt) == (first, "w1", 1)
    row = submission(store, first)
    assert (row.status, row.started_at) == ("running", NOW)


def test_no_job_no_claim(store, submitted):
    assert queue.claim(store, "w1", now=NOW) is None


def test_the_lease_holder_writes_the_result_once(store, submitted):
    [sid] = submitted()
    claim = queue.claim(store, "w1", now=NOW)
    assert queue.complete(store, claim, RESULT, now=NOW + 1) is True
    assert queue.complete(store, claim, RESULT, now=NOW + 2) is False
    row = submission(store, sid)
    assert (row.status, row.score, row.max_score, row.outcome, row.finished_at) == ("graded", 3.0, 20.0, "failed",
                                                                                    NOW + 1)
    assert events(store, "completed") == 1


def test_an_expired_lease_is_reclaimed_and_the_old_holder_cannot_write(store, submitted):
    [sid] = submitted()
    old = queue.claim(store, "w1", now=NOW, lease_seconds=10)
    assert queue.claim(store, "w2", now=NOW + 5, lease_seconds=10) is None        # still leased
    new = queue.claim(store, "w2", now=NOW + 11, lease_seconds=10)
    assert (new.job_id, new.worker, new.attempt) == (old.job_id, "w2", 2)
    assert queue.heartbeat(store, old, now=NOW + 12) is False
    assert queue.complete(store, old, RESULT, now=NOW + 12) is False
    assert queue.complete(store, new, RESULT, now=NOW + 13) is True
    assert submission(store, sid).status == "graded"
    assert (events(store, "expired"), events(store, "completed")) == (1, 1)


def test_a_heartbeat_keeps_the_lease(store, submitted):
    submitted()
    claim = queue.claim(store, "w1", now=NOW, lease_seconds=10)
    assert queue.heartbeat(store, claim, now=NOW + 8, lease_seconds=10) is True
    assert queue.claim(store, "w2", now=NOW + 15, lease_seconds=10) is None
    assert queue.complete(store, claim, RESULT, now=NOW + 16) is True


def test_a_job_whose_worker_dies_twice_fails_to_grade_with_the_reason(store, submitted):
    [sid] = submitted()
    queue.claim(store, "w1", now=NOW, lease_seconds=10)
    queue.claim(store, "w2", now=NOW + 11, lease_seconds=10)
    assert queue.claim(store, "w3", now=NOW + 22, lease_seconds=10) is None
    row = submission(store, sid)
    assert row.status == "failed_to_grade"
    assert row.reason == ("its grading worker stopped 2 times before finishing (the lease expired each time); "
                          "this is not the submission's fault")
    assert events(store, "completed") == 0


def test_a_dead_worker_s_lease_ends_at_once(store, submitted):
    submitted()
    claim = queue.claim(store, "host/41", now=NOW, lease_seconds=30)
    assert queue.expire_worker(store, "host/41", now=NOW + 1) == 1
    assert queue.claim(store, "host/42", now=NOW + 1).job_id == claim.job_id


def test_the_grader_s_failure_ends_the_job_failed_to_grade(store, submitted):
    [sid] = submitted()
    claim = queue.claim(store, "w1", now=NOW)
    assert queue.fail(store, claim, "the grader could not run this submission: no sandbox", now=NOW + 1) is True
    row = submission(store, sid)
    assert (row.status, row.reason) == ("failed_to_grade", "the grader could not run this submission: no sandbox")
    assert queue.claim(store, "w2", now=NOW + 100) is None


def test_a_released_job_is_claimed_again_without_counting_the_attempt(store, submitted):
    submitted()
    claim = queue.claim(store, "w1", now=NOW)
    assert queue.release(store, claim, now=NOW + 1) is True
    assert queue.claim(store, "w2", now=NOW + 2).attempt == 1


def test_concurrent_claims_never_share_a_job(store, submitted):
    submitted(30)
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(worker: str):
        while (claim := queue.claim(store, worker, now=NOW)) is not None:
            with lock:
                claimed.append(claim.job_id)
    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 30
    with store.reading() as connection:
        assert connection.execute(select(func.max(jobs.c.attempts))).scalar_one() == 1
