"""What the API and the pages both do with the store: publish problem sets, accept
submissions, and show each user what their role may see.

A student sees the visible problems of a problem set and nothing of its hidden ones but
their id, status and score in their own reports; never the YAML, other students'
submissions, or tokens. Every refusal is a `Refusal` with its HTTP status.
"""
import json
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from grader import audit as audits
from grader import loader
from grader.batch import gradebook, not_graded_reason
from grader.errors import ProblemSetError
from grader.reference_check import check_problem
from grader.service import queue
from grader.service.store import Store, User, problem_sets, regrades, submissions, uploads, versions
from grader.service.workers import UnsafeArchive, open_archive, zip_of

POLICIES = ("latest", "best")
KINDS = {".py": "py", ".zip": "zip"}
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")
HIDDEN_PROBLEM_FIELDS = ("id", "visibility", "status", "score", "max_score")


@dataclass
class Refusal(Exception):
    """A request that cannot be served: its status and JSON body."""
    status: int
    body: dict
    headers: dict = field(default_factory=dict)

    @classmethod
    def message(cls, status: int, text: str, **headers) -> "Refusal":
        return cls(status, {"detail": text}, headers)


def iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


# problem sets

def analyse(yaml_bytes: bytes) -> dict:
    """Validate (as `bptt-grade validate`), audit and reference-check a problem set's YAML:
    its summary, or a Refusal 422 {"errors": [{"line", "column", "path", "message"}]}."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "problem_set.yaml"
        path.write_bytes(yaml_bytes)
        try:
            problem_set = loader.load(path)
        except ProblemSetError as error:        # one, or every one (ProblemSetErrors)
            errors = [{"line": e.line, "column": e.column, "path": e.field, "message": e.message}
                      for e in getattr(error, "errors", (error,))]
            raise Refusal(422, {"detail": "the problem set is not valid", "errors": errors}) from None
        audit = audits.audit(problem_set)
    checks = [c for problem in problem_set.problems for c in check_problem(problem)]
    audit_json = audits.audit_json(audit)
    audit_json["problem_set"] = problem_set.title
    return {"title": problem_set.title,
            "problems": [{"id": p.id, "title": p.title, "points": p.points, "visibility": p.visibility, "T": p.T}
                         for p in problem_set.problems],
            "audit": audit_json,
            "check_reference": {"ok": all(c.agrees for c in checks),
                                "max_relative_error": max((c.relative_error for c in checks), default=0.0)}}


def publish(store: Store, yaml_text: str, summary: dict, problem_set_id: int | None = None) -> tuple[int, int]:
    """Store an analysed problem set as a new one, or as the next version of
    `problem_set_id` (404 if there is none): (id, version)."""
    now = time.time()
    with store.writing() as connection:
        if problem_set_id is None:
            problem_set_id = connection.execute(insert(problem_sets).values(
                title=summary["title"], version=1, created_at=now)).inserted_primary_key[0]
            version = 1
        else:
            current = connection.execute(select(problem_sets.c.version)
                                         .where(problem_sets.c.id == problem_set_id)).scalar()
            if current is None:
                raise Refusal.message(404, f"no problem set {problem_set_id}")
            version = current + 1
            connection.execute(update(problem_sets).where(problem_sets.c.id == problem_set_id)
                               .values(version=version, title=summary["title"]))
        connection.execute(insert(versions).values(problem_set_id=problem_set_id, version=version, yaml=yaml_text,
                                                   summary=json.dumps(summary), created_at=now))
    return problem_set_id, version


def _summary(connection, problem_set_id: int) -> tuple[int, dict]:
    row = connection.execute(select(problem_sets.c.version, versions.c.summary).join(versions, and_(
        versions.c.problem_set_id == problem_sets.c.id, versions.c.version == problem_sets.c.version))
        .where(problem_sets.c.id == problem_set_id)).first()
    if row is None:
        raise Refusal.message(404, f"no problem set {problem_set_id}")
    return row.version, json.loads(row.summary)


def problem_set_view(store: Store, problem_set_id: int, user: User) -> dict:
    """The problem set as `user` may see it; an instructor also gets the audit, the
    reference check and the latest regrade's progress."""
    with store.reading() as connection:
        version, summary = _summary(connection, problem_set_id)
        view = {"id": problem_set_id, "version": version, "title": summary["title"]}
        if not user.instructor:
            return {**view, "problems": [p for p in summary["problems"] if p["visibility"] != "hidden"]}
        return {**view, "problems": summary["problems"], "audit": summary["audit"],
                "check_reference": summary["check_reference"],
                "regrade": queue.regrade_progress(connection, problem_set_id)}


def problem_set_list(store: Store, user: User) -> list[dict]:
    with store.reading() as connection:
        ids = connection.execute(select(problem_sets.c.id).order_by(problem_sets.c.id)).scalars().all()
    return [problem_set_view(store, i, user) for i in ids]


def version_yaml(store: Store, problem_set_id: int, version: int) -> str:
    with store.reading() as connection:
        return connection.execute(select(versions.c.yaml).where(and_(
            versions.c.problem_set_id == problem_set_id, versions.c.version == version))).scalar_one()


# submissions

def upload_kind(filename: str, data: bytes) -> str:
    """"py" or "zip" by the file's name; a zip is checked here, so an unsafe one is refused
    at once (422), not graded."""
    kind = KINDS.get(Path(filename or "").suffix.lower())
    if kind is None:
        raise Refusal.message(422, "submit a Python file (.py) or a zip of your submission folder (.zip)")
    if kind == "zip":
        try:
            open_archive(data).close()
        except UnsafeArchive as error:
            raise Refusal.message(422, str(error)) from None
    return kind


def files_as_zip(files: dict[str, bytes]) -> tuple[str, bytes]:
    """Several uploaded Python files as one folder submission: ("submission.zip", its bytes)."""
    names = [Path(name).name for name in files]
    bad = [n for n in names if not MODULE_NAME.fullmatch(n)]
    if bad or len(set(names)) != len(names):
        raise Refusal.message(422, "several files are accepted only as distinct Python modules "
                              f"(name.py){': not ' + ', '.join(map(repr, bad)) if bad else ''}")
    return "submission.zip", zip_of(dict(zip(names, files.values(), strict=True)))


def accept(store: Store, problem_set_id: int, user: User, filename: str, data: bytes,
           idempotency_key: str | None = None) -> dict:
    """Store the upload and its row and queue its job, in one transaction: the 202 body.
    The same Idempotency-Key returns the submission it made first."""
    kind = upload_kind(filename, data)
    if idempotency_key is not None and (known := _by_key(store, problem_set_id, user, idempotency_key)):
        return known
    submission_id, now = secrets.token_hex(16), time.time()
    try:
        with store.writing() as connection:
            version = connection.execute(select(problem_sets.c.version)
                                         .where(problem_sets.c.id == problem_set_id)).scalar()
            if version is None:
                raise Refusal.message(404, f"no problem set {problem_set_id}")
            connection.execute(insert(submissions).values(
                id=submission_id, problem_set_id=problem_set_id, version=version, token_id=user.token_id,
                student=user.name, status="queued", filename=Path(filename).name[:200], kind=kind,
                idempotency_key=idempotency_key, submitted_at=now))
            connection.execute(insert(uploads).values(submission_id=submission_id, data=data))
            queue.enqueue(connection, submission_id, version, now)
    except IntegrityError:          # the same key, at the same moment, from another request
        known = _by_key(store, problem_set_id, user, idempotency_key) if idempotency_key else None
        if known is None:
            raise
        return known
    return accepted(submission_id, "queued")


def accepted(submission_id: str, status: str) -> dict:
    return {"id": submission_id, "status": status, "report_url": f"/api/v1/submissions/{submission_id}"}


def _by_key(store: Store, problem_set_id: int, user: User, key: str) -> dict | None:
    with store.reading() as connection:
        row = connection.execute(select(submissions.c.id, submissions.c.status).where(and_(
            submissions.c.token_id == user.token_id, submissions.c.problem_set_id == problem_set_id,
            submissions.c.idempotency_key == key))).first()
    return None if row is None else accepted(row.id, row.status)


def student_report(report: dict) -> dict:
    """The report without hidden problems' data: of those, only id, visibility, status and score."""
    hidden = {p["id"] for p in report["problems"] if p["visibility"] == "hidden"}
    return {**report,
            "problems": [{k: p[k] for k in HIDDEN_PROBLEM_FIELDS} if p["id"] in hidden else p
                         for p in report["problems"]],
            "diagnosis_across_problems": [
                {**a, "problems": [i for i in a["problems"] if i not in hidden]}
                for a in report["diagnosis_across_problems"] if set(a["problems"]) - hidden]}


def submission_view(store: Store, submission_id: str, user: User) -> dict:
    """The submission with its report, in the student's view for a student; 404 for a
    student who is not its author (whether or not it exists)."""
    with store.reading() as connection:
        row = connection.execute(select(submissions).where(submissions.c.id == submission_id)).first()
    if row is None or not (user.instructor or row.token_id == user.token_id):
        raise Refusal.message(404, f"no submission {submission_id}")
    report = None if row.report is None else json.loads(row.report)
    if report is not None and not user.instructor:
        report = student_report(report)
    return {"id": row.id, "problem_set": row.problem_set_id, "version": row.version, "student": row.student,
            "status": row.status, "score": row.score, "max_score": row.max_score, "report": report,
            "reason": row.reason, "filename": row.filename, "submitted_at": iso(row.submitted_at),
            "started_at": iso(row.started_at), "finished_at": iso(row.finished_at)}


def submission_list(store: Store, problem_set_id: int, user: User) -> list[dict]:
    """The problem set's submissions, newest first: a student's own, or everyone's."""
    query = select(submissions.c.id, submissions.c.student, submissions.c.status, submissions.c.score,
                   submissions.c.max_score, submissions.c.filename, submissions.c.submitted_at).where(
        submissions.c.problem_set_id == problem_set_id).order_by(submissions.c.submitted_at.desc())
    if not user.instructor:
        query = query.where(submissions.c.token_id == user.token_id)
    with store.reading() as connection:
        return [{**row._asdict(), "submitted_at": iso(row.submitted_at)} for row in connection.execute(query)]


def gradebook_csv(store: Store, problem_set_id: int, policy: str) -> str:
    """batch's gradebook: a row per student with their latest (or best) graded submission."""
    with store.reading() as connection:
        _, summary = _summary(connection, problem_set_id)
        rows = connection.execute(select(submissions.c.student, submissions.c.status, submissions.c.score,
                                         submissions.c.max_score, submissions.c.outcome,
                                         submissions.c.problem_scores, submissions.c.report,
                                         submissions.c.submitted_at)
                                  .where(submissions.c.problem_set_id == problem_set_id)
                                  .order_by(submissions.c.student, submissions.c.submitted_at)).all()
    chosen: dict[str, dict] = {}
    students: dict[str, None] = {}
    for row in rows:
        students[row.student] = None
        if row.status != "graded":
            continue
        kept = chosen.get(row.student)
        if kept is None or policy == "latest" or row.score > kept["score"]:
            chosen[row.student] = {"score": row.score, "max_score": row.max_score, "status": row.outcome,
                                   "problems": row.problem_scores,
                                   "reason": not_graded_reason(json.loads(row.report or "{}").get("metadata", {}))}
    return gradebook([p["id"] for p in summary["problems"]], students, chosen)


def regrade(store: Store, problem_set_id: int) -> int:
    """Queue every submission of the problem set again, against its current version."""
    now = time.time()
    with store.writing() as connection:
        version = connection.execute(select(problem_sets.c.version)
                                     .where(problem_sets.c.id == problem_set_id)).scalar()
        if version is None:
            raise Refusal.message(404, f"no problem set {problem_set_id}")
        ids = connection.execute(select(submissions.c.id).where(submissions.c.problem_set_id == problem_set_id)
                                 .order_by(submissions.c.submitted_at)).scalars().all()
        regrade_id = connection.execute(insert(regrades).values(
            problem_set_id=problem_set_id, version=version, total=len(ids), created_at=now)).inserted_primary_key[0]
        for submission_id in ids:
            queue.enqueue(connection, submission_id, version, now, regrade_id)
        connection.execute(update(problem_sets).where(problem_sets.c.id == problem_set_id)
                           .values(regrade_id=regrade_id))
    return len(ids)


def status_counts(connection) -> dict[str, int]:
    return dict(connection.execute(select(submissions.c.status, func.count()).group_by(submissions.c.status)).all())
