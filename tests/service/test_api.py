"""The API under the ASGI test client: every endpoint and every error status, over SQLite
and PostgreSQL. Nothing grades in the background (0 workers): `drain` grades the queue."""
import csv
import io
import json
import os
import zipfile

import pytest
from fastapi.testclient import TestClient

from grader import loader
from grader.errors import ProblemSetError
from grader.service.app import Settings, create_app
from grader.service.queue import Claim, Work
from grader.service.workers import Worker, grade_work
from grader.submissions import grade_path
from tests.conftest import EXAMPLES
from tests.service.conftest import SMALL_SET, example_zip, problem_set_file

YAML = {"Content-Type": "application/yaml"}


class Service:
    """The app with an instructor and two students."""

    def __init__(self, client: TestClient, data_dir):
        self.client, self.data_dir = client, data_dir
        self.store = client.app.state.services["store"]
        self.instructor = self.auth(self.store.create_token("ines", "instructor"))
        self.alice = self.auth(self.store.create_token("alice", "student"))
        self.bob = self.auth(self.store.create_token("bob", "student"))

    @staticmethod
    def auth(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def publish(self, text: str = SMALL_SET) -> dict:
        response = self.client.post("/api/v1/problem-sets", content=text, headers={**self.instructor, **YAML})
        assert response.status_code == 201, response.text
        return response.json()

    def submit(self, who: dict, files, problem_set_id: int = 1, **headers):
        return self.client.post(f"/api/v1/problem-sets/{problem_set_id}/submissions", files=files,
                                headers={**who, **headers})

    def drain(self) -> int:
        return Worker(self.store, self.data_dir).drain()


def make_service(tmp_path, database_url, **settings):
    data_dir = tmp_path / "data"
    app = create_app(Settings(data_dir, database_url, workers=0, **settings))
    return TestClient(app), data_dir


@pytest.fixture
def service(tmp_path, database_url):
    client, data_dir = make_service(tmp_path, database_url, max_upload_kb=64)
    with client:
        yield Service(client, data_dir)


SEED_TYPO = {"file": ("seed.zip", example_zip("seed_typo_phi_prime_of_h"), "application/zip")}


def test_publishing_returns_the_problems_audit_and_reference_check(service):
    body = service.publish()
    assert (body["id"], body["version"], body["title"]) == (1, 1, "Small <b>BPTT</b> set")
    assert body["problems"][2] == {"id": "secret-problem", "title": "the hidden one", "points": 6.0,
                                   "visibility": "hidden", "T": 5}
    assert body["check_reference"]["ok"] is True
    assert body["audit"]["problems"]["worked-example"]["output_derivative_uses_phi"]["detects"] is True


def test_publishing_a_multipart_file(service):
    response = service.client.post("/api/v1/problem-sets", files={"file": ("set.yaml", SMALL_SET.encode())},
                                   headers=service.instructor)
    assert (response.status_code, response.json()["title"]) == (201, "Small <b>BPTT</b> set")


def test_an_invalid_problem_set_is_422_with_the_validator_s_line_column_path_and_message(service, tmp_path):
    text = SMALL_SET.replace("phi: sin", "phi: sine")
    with pytest.raises(ProblemSetError) as expected:
        loader.load(problem_set_file(tmp_path, text))
    response = service.client.post("/api/v1/problem-sets", content=text, headers={**service.instructor, **YAML})
    assert response.status_code == 422
    assert (expected.value.line, expected.value.column) == (25, 18)
    assert response.json() == {"detail": "the problem set is not valid", "errors": [{
        "line": 25, "column": 18, "path": "problems[2].model.phi", "message": expected.value.message}]}


def test_every_error_of_an_invalid_problem_set_is_listed_by_position(service):
    text = SMALL_SET.replace("phi: sin", "phi: sine").replace("points: 4", "points: -4")
    response = service.client.post("/api/v1/problem-sets", content=text, headers={**service.instructor, **YAML})
    assert response.status_code == 422
    assert [(e["line"], e["path"]) for e in response.json()["errors"]] == [(15, "problems[1].points"),
                                                                          (25, "problems[2].model.phi")]


def test_an_unknown_body_type_is_415(service):
    response = service.client.post("/api/v1/problem-sets", content=b"{}",
                                   headers={**service.instructor, "Content-Type": "application/json"})
    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/api/v1/problem-sets", "/api/v1/problem-sets/1/submissions"])
def test_a_malformed_multipart_body_is_422(service, path):
    # The body schemathesis sent the running server: a boundary, then no part headers.
    service.publish()
    body = b"--xyz\r\n[None, [True, None]]--xyz--\r\n"
    response = service.client.post(path, content=body, headers={
        **service.instructor, "Content-Type": "multipart/form-data; boundary=xyz"})
    assert (response.status_code, response.json()) == (
        422, {"detail": "the multipart body is malformed: Invalid multipart data."})


def test_no_token_is_401_and_a_student_cannot_publish(service):
    assert service.client.get("/api/v1/problem-sets").status_code == 401
    assert service.client.get("/api/v1/problem-sets", headers=service.auth("not-a-token")).status_code == 401
    response = service.client.post("/api/v1/problem-sets", content=SMALL_SET, headers={**service.alice, **YAML})
    assert (response.status_code, response.json()) == (403, {"detail": "only an instructor may do this"})


def test_a_student_sees_visible_problems_only(service):
    service.publish()
    body = service.client.get("/api/v1/problem-sets/1", headers=service.alice).json()
    assert body == {"id": 1, "version": 1, "title": "Small <b>BPTT</b> set", "problems": [
        {"id": "worked-example", "title": "tanh state, identity output", "points": 10.0, "visibility": "visible",
         "T": 4},
        {"id": "single-step", "title": "T = 1", "points": 4.0, "visibility": "visible", "T": 1},
        {"id": "relu-state", "title": "relu state, where phi' is theta' (the seed's typo passes)", "points": 10.0,
         "visibility": "visible", "T": 8}]}
    assert service.client.get("/api/v1/problem-sets", headers=service.alice).json() == [body]


def test_an_instructor_sees_every_problem_the_audit_and_the_check(service):
    service.publish()
    body = service.client.get("/api/v1/problem-sets/1", headers=service.instructor).json()
    assert [p["id"] for p in body["problems"]] == ["worked-example", "single-step", "secret-problem", "relu-state"]
    assert body["check_reference"]["ok"] is True and "audit" in body and "regrade" not in body


def test_an_unknown_problem_set_is_404(service):
    assert service.client.get("/api/v1/problem-sets/7", headers=service.alice).status_code == 404
    assert service.submit(service.alice, SEED_TYPO, problem_set_id=7).status_code == 404
    response = service.client.put("/api/v1/problem-sets/7", content=SMALL_SET, headers={**service.instructor, **YAML})
    assert response.status_code == 404


def test_a_submission_is_accepted_queued_then_graded_as_bptt_grade_grades_it(service, tmp_path):
    service.publish()
    response = service.submit(service.alice, SEED_TYPO)
    assert response.status_code == 202
    accepted = response.json()
    assert accepted == {"id": accepted["id"], "status": "queued",
                        "report_url": f"/api/v1/submissions/{accepted['id']}"}
    queued = service.client.get(accepted["report_url"], headers=service.alice).json()
    assert (queued["status"], queued["score"], queued["report"], queued["student"]) == ("queued", None, None, "alice")
    assert service.drain() == 1
    graded = service.client.get(accepted["report_url"], headers=service.instructor).json()
    expected = grade_path(loader.load(problem_set_file(tmp_path)), EXAMPLES / "seed_typo_phi_prime_of_h.py",
                          include_hidden=True)
    assert (graded["status"], graded["score"], graded["max_score"]) == ("graded", expected.score, expected.max_score)
    assert graded["report"]["problems"][0]["outputs"]["dL_ds"]["first_divergence"] == {"t": 4, "order": "backward"}
    assert graded["started_at"] is not None and graded["finished_at"] is not None


def test_several_python_files_are_one_folder_submission(service):
    service.publish()
    files = [("file", (f"{n}.py", (EXAMPLES / f"{n}.py").read_bytes(), "text/x-python"))
             for n in ("seed_typo_phi_prime_of_h", "student_math")]
    accepted = service.submit(service.alice, files).json()
    service.drain()
    assert service.client.get(accepted["report_url"], headers=service.alice).json()["score"] == 10.0


def test_a_student_s_report_hides_the_hidden_problem_s_data(service):
    service.publish()
    url = service.submit(service.alice, SEED_TYPO).json()["report_url"]
    service.drain()
    problems = service.client.get(url, headers=service.alice).json()["report"]["problems"]
    assert problems[2] == {"id": "secret-problem", "visibility": "hidden", "status": "failed", "score": 0.0,
                           "max_score": 6.0}
    assert "outputs" in problems[0]
    full = service.client.get(url, headers=service.instructor).json()["report"]["problems"][2]
    assert full["outputs"]["dL_ds"]["expected"] is not None


def test_a_student_cannot_read_another_student_s_submission(service):
    service.publish()
    url = service.submit(service.alice, SEED_TYPO).json()["report_url"]
    assert service.client.get(url, headers=service.bob).status_code == 404
    assert service.client.get("/api/v1/submissions/0123", headers=service.alice).status_code == 404


def test_the_same_idempotency_key_returns_the_same_submission(service):
    service.publish()
    first = service.submit(service.alice, SEED_TYPO, **{"Idempotency-Key": "k1"})
    again = service.submit(service.alice, SEED_TYPO, **{"Idempotency-Key": "k1"})
    other = service.submit(service.alice, SEED_TYPO, **{"Idempotency-Key": "k2"})
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert service.drain() == 2


def test_an_upload_over_the_limit_is_413(service):
    service.publish()
    response = service.submit(service.alice, {"file": ("big.py", b"#" * (65 * 1024), "text/x-python")})
    assert (response.status_code, response.json()) == (413, {"detail": "the upload is larger than 64 KiB"})
    response = service.submit(service.alice, {"file": ("huge.py", b"#" * (200 * 1024), "text/x-python")})
    assert response.status_code == 413


def test_submissions_over_the_rate_limit_are_429_with_retry_after(tmp_path, database_url):
    client, data_dir = make_service(tmp_path, database_url, rate_limit=2)
    with client:
        service = Service(client, data_dir)
        service.publish()
        assert [service.submit(service.alice, SEED_TYPO).status_code for _ in range(2)] == [202, 202]
        refused = service.submit(service.alice, SEED_TYPO)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert service.submit(service.bob, SEED_TYPO).status_code == 202


def zip_with(name: str, data: bytes = b"x = 1\n", link: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo(name)
        if link:
            info.external_attr = 0o120777 << 16
        archive.writestr(info, data)
    return out.getvalue()


@pytest.mark.parametrize("archive, message", [
    (zip_with("../evil.py"), "the zip member '../evil.py' points outside the submission folder"),
    (zip_with("/etc/evil.py"), "the zip member '/etc/evil.py' points outside the submission folder"),
    (zip_with("link.py", b"/etc/passwd", link=True),
     "the zip member 'link.py' is a link or special file; only files and folders are accepted"),
    (b"PK not a zip", "the upload is not a readable zip file (File is not a zip file)"),
])
def test_an_unsafe_zip_is_422(service, archive, message):
    service.publish()
    response = service.submit(service.alice, {"file": ("s.zip", archive, "application/zip")})
    assert (response.status_code, response.json()) == (422, {"detail": message})


def test_a_zip_bomb_is_422(service):
    service.publish()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.py", b"0" * (5 * 1024 * 1024))
    response = service.submit(service.alice, {"file": ("s.zip", out.getvalue(), "application/zip")})
    assert (response.status_code, response.json()["detail"]) == (
        422, "the zip member 'bomb.py' has 5242880 bytes; at most 4194304 per file are accepted")


def test_a_file_that_is_not_python_or_zip_is_422(service):
    service.publish()
    response = service.submit(service.alice, {"file": ("notes.txt", b"hello", "text/plain")})
    assert response.status_code == 422
    assert service.client.post("/api/v1/problem-sets/1/submissions", data={"x": "1"},
                               headers=service.alice).status_code == 422


def gradebook_rows(service, policy: str) -> list[list[str]]:
    response = service.client.get(f"/api/v1/problem-sets/1/gradebook.csv?policy={policy}",
                                  headers=service.instructor)
    assert (response.status_code, response.headers["content-type"]) == (200, "text/csv; charset=utf-8")
    return list(csv.reader(io.StringIO(response.text)))


def test_the_gradebook_has_batch_s_columns_and_the_latest_or_best_submission(service):
    service.publish()
    service.submit(service.alice, SEED_TYPO)
    service.drain()
    service.submit(service.alice, {"file": ("broken.py", b"import nothing_here\n", "text/x-python")})
    service.submit(service.bob, SEED_TYPO)
    header = ["student", "total", "max", "worked-example", "single-step", "secret-problem", "relu-state", "status",
              "reason"]
    assert gradebook_rows(service, "best") == [header, ["alice", "10", "30", "0", "0", "0", "10", "failed", ""],
                                               ["bob", "", "", "", "", "", "", "not graded", ""]]
    service.drain()
    assert gradebook_rows(service, "latest") == [
        header, ["alice", "0", "30", "0", "0", "0", "0", "error",
                 "the submission raised ModuleNotFoundError while importing: No module named 'nothing_here'"],
        ["bob", "10", "30", "0", "0", "0", "10", "failed", ""]]
    assert gradebook_rows(service, "best")[1] == ["alice", "10", "30", "0", "0", "0", "10", "failed", ""]
    assert service.client.get("/api/v1/problem-sets/1/gradebook.csv", headers=service.alice).status_code == 403
    assert service.client.get("/api/v1/problem-sets/1/gradebook.csv?policy=worst",
                              headers=service.instructor).status_code == 422


def test_a_new_version_keeps_graded_submissions_on_theirs_and_regrade_moves_them(service):
    service.publish()
    url = service.submit(service.alice, SEED_TYPO).json()["report_url"]
    service.drain()
    head, relu = SMALL_SET.split("  - id: relu-state")
    relu_worth_11 = head + "  - id: relu-state" + relu.replace("points: 10", "points: 11").replace("dL_ds: 6",
                                                                                                  "dL_ds: 7")
    response = service.client.put("/api/v1/problem-sets/1", content=relu_worth_11,
                                  headers={**service.instructor, **YAML})
    assert (response.status_code, response.json()["version"]) == (200, 2)
    assert service.client.get(url, headers=service.alice).json()["version"] == 1
    regrade = service.client.post("/api/v1/problem-sets/1/regrade", headers=service.instructor)
    assert (regrade.status_code, regrade.json()) == (202, {"queued": 1})
    progress = service.client.get("/api/v1/problem-sets/1", headers=service.instructor).json()["regrade"]
    assert progress == {"done": 0, "total": 1}
    service.drain()
    assert service.client.get("/api/v1/problem-sets/1", headers=service.instructor).json()["regrade"] == \
        {"done": 1, "total": 1}
    graded = service.client.get(url, headers=service.alice).json()
    assert (graded["version"], graded["score"], graded["max_score"]) == (2, 11.0, 31.0)
    assert service.client.post("/api/v1/problem-sets/1/regrade", headers=service.alice).status_code == 403


def test_healthz_reports_the_database_workers_and_queue_depth(service):
    service.publish()
    service.submit(service.alice, SEED_TYPO)
    response = service.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True, "database": True,
                                                             "workers": {"alive": 0, "total": 0},
                                                             "queue_depth": 1})


def test_metrics_count_submissions_by_status_queue_depth_and_latency(service):
    service.publish()
    service.submit(service.alice, SEED_TYPO)
    service.drain()
    service.submit(service.alice, SEED_TYPO)
    text = service.client.get("/metrics").text
    for line in ('bptt_grade_submissions{status="graded"} 1.0', 'bptt_grade_submissions{status="queued"} 1.0',
                 "bptt_grade_queue_depth 1.0", "bptt_grade_grading_seconds_count 1.0",
                 'bptt_grade_grading_seconds_bucket{le="+Inf"} 1.0'):
        assert line in text.splitlines()


def test_the_openapi_document_names_every_endpoint(service):
    paths = service.client.get("/openapi.json").json()["paths"]
    assert sorted(paths) == ["/api/v1/problem-sets", "/api/v1/problem-sets/{problem_set_id}",
                             "/api/v1/problem-sets/{problem_set_id}/gradebook.csv",
                             "/api/v1/problem-sets/{problem_set_id}/regrade",
                             "/api/v1/problem-sets/{problem_set_id}/submissions",
                             "/api/v1/submissions/{submission_id}", "/healthz", "/metrics"]
    assert service.client.get("/docs").status_code == 200


FAULTY_REPORT = json.dumps({
    "problem_set": "small", "submission": "s", "score": 0.0, "max_score": 30.0, "diagnosis_across_problems": [],
    "metadata": {"failed_to_grade": "the submission could not be started in its sandbox (fork failed)"},
    "problems": [{"id": "worked-example", "visibility": "visible", "status": "failed_to_grade", "score": 0.0,
                  "max_score": 10.0, "message": "the submission could not be started in its sandbox (fork failed)"}]})


def test_a_report_the_grader_failed_to_make_is_tried_again_then_fails_to_grade(service, monkeypatch):
    monkeypatch.setattr("grader.service.workers.grade_upload", lambda *args, **kwargs: FAULTY_REPORT)
    service.publish()
    url = service.submit(service.alice, SEED_TYPO).json()["report_url"]
    assert service.drain() == 2
    body = service.client.get(url, headers=service.alice).json()
    assert (body["status"], body["score"], body["report"]) == ("failed_to_grade", None, None)
    assert body["reason"] == ("the grader could not grade this submission: "
                              "the submission could not be started in its sandbox (fork failed)")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the rlimits level then grades under another uid")
def test_a_job_is_graded_at_the_rlimits_level_as_root_where_the_sandbox_s_uid_reads_the_upload(tmp_path):
    claim = Claim(1, "s1", 1, 1, "lease", "worker", 1)
    result = grade_work({}, tmp_path / "data", claim, Work(SMALL_SET, example_zip("correct"), "zip"), "rlimits")
    assert (result.outcome, result.score, json.loads(result.report)["metadata"]["isolation"]) == (
        "passed", 30.0, "rlimits")
