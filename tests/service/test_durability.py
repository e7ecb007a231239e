"""Durability with a real server: SIGKILL of the server under load, a worker killed twice,
SIGTERM draining. Every submission that got a 202 ends graded exactly once, with the score
`bptt-grade grade` gives it."""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from grader import loader
from grader.service.store import Store, job_events, jobs, submissions
from grader.submissions import grade_path
from tests.conftest import EXAMPLES, ROOT
from tests.service.conftest import SMALL_SET, example_zip, problem_set_file

EXAMPLE_NAMES = ["seed_typo_phi_prime_of_h", "correct", "missing_recurrent_term", "nonzero_boundary"]
SLEEPING = b"import time\ndef backward(trace):\n    time.sleep(%d)\n    return {}\n"
WAIT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`bptt-grade serve` in its own process group, on 127.0.0.1; `options` are serve's
    further options (e.g. --scheduler ADDRESS)."""

    def __init__(self, data_dir: Path, database_url: str, workers: int, *options: str):
        self.data_dir, self.database_url, self.workers, self.port = data_dir, database_url, workers, free_port()
        self.options = options
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log = data_dir.parent / "server.log"

    def start(self) -> "Server":
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "grader", "serve", "--data", str(self.data_dir), "--port", str(self.port),
                 "--database", self.database_url, "--workers", str(self.workers), *self.options],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).json()["ok"]:
                    return self
            except (httpx.HTTPError, ValueError):
                pass
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.2)
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def kill_all(self) -> None:
        """SIGKILL the server and everything it started (orphaned workers included)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def servers(tmp_path, database_url):
    started: list[Server] = []

    def start(workers: int = 2, *options: str) -> Server:
        server = Server(tmp_path / "data", database_url, workers, *options).start()
        started.append(server)
        return server
    yield start
    for server in started:
        server.kill_all()


def setup_class(database_url: str, students: int) -> tuple[Store, dict, list[dict]]:
    store = Store.open(database_url)
    instructor = {"Authorization": f"Bearer {store.create_token('ines', 'instructor')}"}
    tokens = [{"Authorization": f"Bearer {store.create_token(f's{i}', 'student')}"} for i in range(students)]
    return store, instructor, tokens


def publish(server: Server, instructor: dict) -> None:
    response = httpx.post(f"{server.url}/api/v1/problem-sets", content=SMALL_SET,
                          headers={**instructor, "Content-Type": "application/yaml"}, timeout=60)
    assert response.status_code == 201, response.text


def wait_until_finished(store: Store, ids: list[str]) -> dict[str, tuple]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with store.reading() as connection:
            rows = {r.id: (r.status, r.score, r.reason) for r in connection.execute(
                select(submissions.c.id, submissions.c.status, submissions.c.score, submissions.c.reason)
                .where(submissions.c.id.in_(ids)))}
        if all(status in ("graded", "failed_to_grade") for status, _, _ in rows.values()):
            return rows
        time.sleep(0.3)
    raise AssertionError(f"not finished in {WAIT_SECONDS} s: {rows}")


def completions(store: Store, ids: list[str]) -> dict[str, int]:
    with store.reading() as connection:
        return dict(connection.execute(
            select(jobs.c.submission_id, func.count()).join(job_events, job_events.c.job_id == jobs.c.id)
            .where(job_events.c.event == "completed").where(jobs.c.submission_id.in_(ids))
            .group_by(jobs.c.submission_id)).all())


def test_sigkill_of_the_server_under_load_loses_no_accepted_submission(tmp_path, database_url, servers):
    store, instructor, students = setup_class(database_url, 8)
    server = servers()
    publish(server, instructor)
    problem_set = loader.load(problem_set_file(tmp_path))
    expected = {name: grade_path(problem_set, EXAMPLES / f"{name}.py", include_hidden=True).score
                for name in EXAMPLE_NAMES}
    uploads = {name: example_zip(name) for name in EXAMPLE_NAMES}
    accepted: dict[str, str] = {}           # submission id → example
    for round_ in range(2):
        for i, student in enumerate(students):
            name = EXAMPLE_NAMES[(i + round_) % len(EXAMPLE_NAMES)]
            response = httpx.post(f"{server.url}/api/v1/problem-sets/1/submissions", headers=student, timeout=30,
                                  files={"file": (f"{name}.zip", uploads[name], "application/zip")})
            assert response.status_code == 202
            accepted[response.json()["id"]] = name
        if round_ == 0:
            os.kill(server.process.pid, signal.SIGKILL)     # the server only: its workers are orphaned
            server.process.wait()
            server = servers()
    rows = wait_until_finished(store, list(accepted))
    assert {sid: rows[sid][:2] for sid in accepted} == {sid: ("graded", expected[name])
                                                        for sid, name in accepted.items()}
    assert completions(store, list(accepted)) == {sid: 1 for sid in accepted}
    store.close()


def running_worker_pid(store: Store, submission_id: str, other_than: int | None = None) -> int:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        with store.reading() as connection:
            worker = connection.execute(select(jobs.c.worker).where(jobs.c.submission_id == submission_id)
                                        .where(jobs.c.status == "running")).scalar()
        if worker is not None and int(worker.rsplit("/", 1)[1]) != other_than:
            return int(worker.rsplit("/", 1)[1])
        time.sleep(0.1)
    raise AssertionError("the job never ran")


@pytest.fixture
def one_worker(database_url, servers):
    """A server with one worker, a problem set and a student: (server, store, submit(name, bytes) -> id)."""
    store, instructor, [student] = setup_class(database_url, 1)
    server = servers(workers=1)
    publish(server, instructor)

    def submit(name: str, data: bytes) -> str:
        response = httpx.post(f"{server.url}/api/v1/problem-sets/1/submissions", headers=student, timeout=30,
                              files={"file": (name, data, "application/octet-stream")})
        assert response.status_code == 202
        return response.json()["id"]
    yield server, store, submit
    store.close()


def test_a_job_whose_worker_is_killed_twice_fails_to_grade_and_the_next_is_graded(one_worker):
    _, store, submit = one_worker
    slow = submit("slow.py", SLEEPING % 8)
    first = running_worker_pid(store, slow)
    os.kill(first, signal.SIGKILL)
    os.kill(running_worker_pid(store, slow, other_than=first), signal.SIGKILL)
    after = submit("seed.zip", example_zip("seed_typo_phi_prime_of_h"))
    rows = wait_until_finished(store, [slow, after])
    assert rows[slow] == ("failed_to_grade", None, "its grading worker stopped 2 times before finishing "
                          "(the lease expired each time); this is not the submission's fault")
    assert rows[after][:2] == ("graded", 10.0)


def test_a_job_whose_worker_is_killed_once_is_graded_by_the_next_worker_once(one_worker):
    _, store, submit = one_worker
    slow = submit("slow.py", SLEEPING % 2)
    os.kill(running_worker_pid(store, slow), signal.SIGKILL)
    assert wait_until_finished(store, [slow])[slow][0] == "graded"
    assert completions(store, [slow]) == {slow: 1}
    with store.reading() as connection:
        assert connection.execute(select(jobs.c.attempts).where(jobs.c.submission_id == slow)).scalar_one() == 2


def test_sigterm_drains_finishing_the_running_job(one_worker):
    server, store, submit = one_worker
    slow = submit("slow.py", SLEEPING % 2)
    running_worker_pid(store, slow)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=60) == -signal.SIGTERM      # uvicorn re-raises it once drained
    with store.reading() as connection:
        status = connection.execute(select(submissions.c.status).where(submissions.c.id == slow)).scalar_one()
    assert status == "graded"
    assert completions(store, [slow]) == {slow: 1}
