"""`serve --scheduler`: the service's jobs graded as Dask tasks on `dask scheduler` and
`dask worker` processes on 127.0.0.1 (started and stopped by each test); a scheduler
killed and started again while submissions keep coming; a real `serve` grading 100
submissions while one of two workers is SIGKILLed."""
import contextlib
import importlib.util
import json
import signal
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from grader import loader, sandbox  # noqa: E402
from grader.cli import main  # noqa: E402
from grader.cluster import pack  # noqa: E402
from grader.service.app import Settings, create_app  # noqa: E402
from grader.service.store import job_events, jobs, submissions  # noqa: E402
from grader.service.workers import zip_of  # noqa: E402
from grader.submissions import grade_path  # noqa: E402
from grader.uid_pool import UID_POOL  # noqa: E402
from tests import test_cluster  # noqa: E402
from tests.conftest import EXAMPLES  # noqa: E402
from tests.service import test_durability  # noqa: E402
from tests.service.conftest import SMALL_SET, example_zip, problem_set_file  # noqa: E402
from tests.service.test_api import Service  # noqa: E402
from tests.service.test_durability import setup_class  # noqa: E402
from tests.test_batch import SET  # noqa: E402

clusters = test_cluster.clusters      # the fixture: dask scheduler and workers on 127.0.0.1
servers = test_durability.servers     # the fixture: `bptt-grade serve` processes on 127.0.0.1
traversable_tmp = test_cluster.traversable_tmp
HOSTILE = test_cluster.HOSTILE_FILES
GRADED_WITHIN = 45.0


def on_cluster(tmp_path, address: str, isolation: str = "auto") -> TestClient:
    app = create_app(Settings(tmp_path / "data", f"sqlite:///{tmp_path / 'service.sqlite'}", workers=1,
                              lease_seconds=3.0, isolation=isolation, scheduler=address))
    return TestClient(app)


def wait_until_settled(service: Service, urls: list[str]) -> list[dict]:
    deadline = time.monotonic() + GRADED_WITHIN
    while True:
        bodies = [service.client.get(url, headers=service.instructor).json() for url in urls]
        if all(body["status"] in ("graded", "failed_to_grade") for body in bodies) or time.monotonic() > deadline:
            return bodies
        time.sleep(0.2)


def completions(service: Service) -> list[int]:
    """Each job's count of `completed` events, by job id."""
    with service.store.reading() as connection:
        counted = dict(connection.execute(select(job_events.c.job_id, func.count()).where(
            job_events.c.event == "completed").group_by(job_events.c.job_id)).all())
        return [counted.get(job_id, 0) for job_id in connection.execute(select(jobs.c.id).order_by(jobs.c.id))
                .scalars()]


def submit_examples(service: Service, names: list[str]) -> list[str]:
    urls = []
    for i, name in enumerate(names):
        who = service.alice if i % 2 == 0 else service.bob
        response = service.submit(who, {"file": (f"{name}.zip", example_zip(name), "application/zip")})
        assert response.status_code == 202
        urls.append(response.json()["report_url"])
    return urls


def expected_score(tmp_path, name: str) -> float:
    return grade_path(loader.load(problem_set_file(tmp_path)), EXAMPLES / f"{name}.py", include_hidden=True).score


def test_submissions_are_graded_on_the_cluster_as_bptt_grade_grades_them(tmp_path, clusters):
    cluster = clusters(workers=2)
    names = ["correct", "seed_typo_phi_prime_of_h", "missing_recurrent_term", "correct"]
    with on_cluster(tmp_path, cluster.address) as client:
        service = Service(client, tmp_path / "data")
        service.publish()
        bodies = wait_until_settled(service, submit_examples(service, names))
        assert [(b["status"], b["score"]) for b in bodies] == [("graded", expected_score(tmp_path, n)) for n in names]
        assert completions(service) == [1, 1, 1, 1]


def test_a_local_cluster_grades_them_too(tmp_path):
    names = ["correct", "seed_typo_phi_prime_of_h"]
    with on_cluster(tmp_path, "local") as client:
        service = Service(client, tmp_path / "data")
        service.publish()
        bodies = wait_until_settled(service, submit_examples(service, names))
        assert [(b["status"], b["score"]) for b in bodies] == [("graded", expected_score(tmp_path, n)) for n in names]


def test_submissions_accepted_while_the_scheduler_is_gone_are_graded_once_when_it_is_back(tmp_path, clusters):
    cluster = clusters(workers=1)
    names = ["correct", "seed_typo_phi_prime_of_h", "dw_uses_h_t", "missing_recurrent_term"]
    with on_cluster(tmp_path, cluster.address) as client:
        service = Service(client, tmp_path / "data")
        service.publish()
        dispatcher = client.app.state.services["dispatcher"]
        first = submit_examples(service, names[:2])
        while client.get(first[0], headers=service.alice).json()["status"] == "queued":
            time.sleep(0.02)
        cluster.stop()                                          # mid-task, most likely
        deadline = time.monotonic() + GRADED_WITHIN
        while dispatcher.connected.is_set() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not dispatcher.connected.is_set()
        later = submit_examples(service, names[2:])             # accepted: 202
        assert {client.get(url, headers=service.instructor).json()["status"] for url in later} == {"queued"}
        cluster.restart()
        bodies = wait_until_settled(service, first + later)
        assert [(b["status"], b["score"]) for b in bodies] == [("graded", expected_score(tmp_path, n)) for n in names]
        assert completions(service) == [1, 1, 1, 1]


def health_once(client: TestClient, connected: bool) -> tuple[int, dict]:
    """/healthz once the dispatcher's connection to the scheduler is `connected` (and, when
    it is, every worker's level is known)."""
    deadline = time.monotonic() + GRADED_WITHIN
    while True:
        response = client.get("/healthz")
        dask = response.json()["dask"]
        if (dask["connected"] == connected and (dask["workers"] > 0) == connected) or time.monotonic() > deadline:
            return response.status_code, response.json()


def test_healthz_reports_the_cluster_and_503_while_the_scheduler_is_gone(tmp_path, clusters):
    cluster = clusters(workers=2)
    level = sandbox.choose().name                   # the workers run on this host
    with on_cluster(tmp_path, cluster.address) as client:
        service = Service(client, tmp_path / "data")
        service.publish()
        assert health_once(client, connected=True) == (200, {
            "ok": True, "database": True, "workers": {"alive": 0, "total": 0}, "queue_depth": 0,
            "dask": {"scheduler": cluster.address, "connected": True, "workers": 2, "sandbox_levels": {level: 2}}})
        cluster.stop()
        [url] = submit_examples(service, ["correct"])         # accepted, and queued
        assert health_once(client, connected=False) == (503, {
            "ok": False, "database": True, "workers": {"alive": 0, "total": 0}, "queue_depth": 1,
            "dask": {"scheduler": cluster.address, "connected": False, "workers": 0, "sandbox_levels": {}}})
        cluster.restart()
        assert health_once(client, connected=True)[0] == 200
        [body] = wait_until_settled(service, [url])
        assert (body["status"], body["score"]) == ("graded", expected_score(tmp_path, "correct"))


def hostile_upload(attack: str) -> dict:
    """The upload of a zip holding tests/hostile/ATTACK.py as submission.py, beside an honest correct.py."""
    return {"file": (f"{attack}.zip", zip_of({"submission.py": (HOSTILE / f"{attack}.py").read_bytes(),
                                              **{f"{name}.py": (EXAMPLES / f"{name}.py").read_bytes()
                                                 for name in ("correct", "student_math")}}), "application/zip")}


@test_cluster.ROOT_ONLY
def test_at_the_rlimits_level_each_worker_grades_jobs_under_a_uid_of_its_own(tmp_path, clusters,
                                                                            traversable_tmp):
    cluster = clusters(workers=2, env={"TMPDIR": str(traversable_tmp)})
    upload = hostile_upload("reports_limits")
    with on_cluster(tmp_path, cluster.address, isolation="rlimits") as client:
        service = Service(client, tmp_path / "data")
        service.publish()
        bodies = wait_until_settled(service, [service.submit(service.alice, upload).json()["report_url"]
                                              for _ in range(8)])
    assert {(b["status"], b["score"]) for b in bodies} == {("graded", 30.0)}
    uids = {int(b["report"]["problems"][0]["submission_output"].split()[1]) for b in bodies}
    assert len(uids) == 2 and uids <= set(UID_POOL)
    assert sorted(uid for [uid] in test_cluster.claimed_uids(cluster.address).values()) == sorted(uids)


@test_cluster.ROOT_ONLY
def test_at_the_rlimits_level_a_job_reads_its_own_upload_and_not_that_of_one_graded_at_once_on_another_worker(
        tmp_path, clusters, traversable_tmp):
    (traversable_tmp / "rendezvous").mkdir()
    (traversable_tmp / "rendezvous").chmod(0o1777)
    cluster = clusters(workers=2, env={"TMPDIR": str(traversable_tmp)})
    patient = SMALL_SET.replace("    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}\n",
                                "    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}\n    limits: {timeout: 60}\n", 1)
    with on_cluster(tmp_path, cluster.address, isolation="rlimits") as client:
        service = Service(client, tmp_path / "data")
        service.publish(patient)
        bodies = wait_until_settled(service, [service.submit(who, hostile_upload("spies_on_a_classmate")).json()
                                              ["report_url"] for who in (service.alice, service.bob)])
    assert [(b["status"], b["report"]["problems"][0]["message"], b["report"]["problems"][0]["submission_output"])
            for b in bodies] == [("graded", "every graded output matches", test_cluster.SPY_OUTPUT)] * 2
    uids = test_cluster.classmates_tried(traversable_tmp / "rendezvous")
    assert len(uids) == 2 and uids <= set(UID_POOL)


def test_a_submission_whose_worker_dies_every_time_is_failed_to_grade_and_the_others_graded(tmp_path, clusters):
    cluster = clusters(workers=2, env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                                       "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"})
    with distributed.Client(cluster.address) as dask:
        dask.register_plugin(test_cluster.KillsItsWorker("job 2 "))      # its tasks' keys: "bptt-grade job 2 …"
    names = ["correct", "correct", "seed_typo_phi_prime_of_h"]
    with on_cluster(tmp_path, cluster.address) as client:
        service = Service(client, tmp_path / "data")
        service.publish()
        bodies = wait_until_settled(service, submit_examples(service, names))
    assert [(b["status"], b["score"]) for b in bodies] == [
        ("graded", expected_score(tmp_path, "correct")), ("failed_to_grade", None),
        ("graded", expected_score(tmp_path, "seed_typo_phi_prime_of_h"))]
    assert bodies[1]["reason"] == ("the grader could not run this submission: every worker grading it died "
                                   "(2 tries, the scheduler's distributed.scheduler.allowed-failures + 1)")


def test_serve_scheduler_without_dask_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name == "distributed" else real(name, *args))
    assert main(["serve", "--data", str(tmp_path / "data"), "--scheduler", "local"]) == 2
    assert capsys.readouterr().err == ("bptt-grade: --scheduler needs Dask distributed: "
                                       "pip install 'bptt-grade[distributed]'\n")


def test_serve_with_a_scheduler_address_without_a_scheme_exits_2(tmp_path, capsys):
    assert main(["serve", "--data", str(tmp_path / "data"), "--scheduler", "127.0.0.1:8786"]) == 2
    assert capsys.readouterr().err == ("bptt-grade: --scheduler '127.0.0.1:8786' is not a Dask scheduler's address "
                                       "(tcp://HOST:PORT or tls://HOST:PORT) nor 'local'\n")


def upload_of(path: Path) -> tuple[str, bytes]:
    """(file name, bytes) to upload the class folder's submission at `path`: a .py file as
    itself, a folder zipped as a cluster's task carries it."""
    packed = pack(path)
    return f"{packed.name}.zip" if packed.folder else packed.name, packed.content


def verdict(status: str, score: float | None, max_score: float | None, report: dict) -> tuple:
    """What must agree between the service and a local batch: the gradebook's status, the
    scores, and each problem's status and score."""
    return status, score, max_score, [(p["id"], p["status"], p["score"]) for p in report["problems"]]


def graded_so_far(store, ids: list[str]) -> int:
    with store.reading() as connection:
        return connection.execute(select(func.count()).where(submissions.c.id.in_(ids)).where(
            submissions.c.status == "graded")).scalar_one()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_100_submissions_with_a_worker_killed_midway_are_each_graded_once_as_a_local_batch_grades_them(
        tmp_path, database_url, clusters, servers):
    timed_set = SET + f"limits: {{timeout: {test_cluster.TIMEOUT}}}\n"     # the batch test's --timeout
    (tmp_path / "set.yaml").write_text(timed_set)
    kinds = test_cluster.write_class(tmp_path / "class", test_cluster.CLASS)
    main(["batch", str(tmp_path / "set.yaml"), str(tmp_path / "class"), "-o", str(tmp_path / "here"), "--jobs", "2"])
    outcomes = test_cluster.statuses(tmp_path / "here")
    here = {}
    for student in kinds:
        report = json.loads((tmp_path / "here" / "json" / f"{student}.json").read_text())
        here[student] = verdict(outcomes[student], report["score"], report["max_score"], report)
    cluster = clusters(workers=2)
    store, instructor, [token] = setup_class(database_url, 1)
    with contextlib.closing(store):
        server = servers(1, "--scheduler", cluster.address)
        response = httpx.post(f"{server.url}/api/v1/problem-sets", content=timed_set, timeout=60,
                              headers={**instructor, "Content-Type": "application/yaml"})
        assert response.status_code == 201, response.text
        submit_url = f"{server.url}/api/v1/problem-sets/{response.json()['id']}/submissions"
        sent = {}                   # submission id → student
        for student in kinds:
            name, data = upload_of(next((tmp_path / "class").glob(f"{student}*")))
            response = httpx.post(submit_url, headers=token, timeout=30,
                                  files={"file": (name, data, "application/octet-stream")})
            assert response.status_code == 202, response.text
            sent[response.json()["id"]] = student
        ids = list(sent)
        deadline = time.monotonic() + test_durability.WAIT_SECONDS
        while (graded_when_killed := graded_so_far(store, ids)) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        test_cluster.Cluster.kill(cluster.workers[0])
        rows = test_durability.wait_until_finished(store, ids)
        with store.reading() as connection:
            there = {sent[r.id]: verdict(r.outcome, r.score, r.max_score, json.loads(r.report))
                     for r in connection.execute(select(submissions).where(submissions.c.id.in_(ids)))}
            jobs_per_submission = dict(connection.execute(select(jobs.c.submission_id, func.count()).where(
                jobs.c.submission_id.in_(ids)).group_by(jobs.c.submission_id)).all())
        completed = test_durability.completions(store, ids)
    assert 30 <= graded_when_killed < 100
    assert cluster.workers[0].returncode == -signal.SIGKILL
    assert {status for status, _, _ in rows.values()} == {"graded"}
    assert jobs_per_submission == completed == {sid: 1 for sid in ids}
    assert sorted(there) == sorted(kinds)
    assert {s for s in kinds if there[s] != here[s]} == set()
