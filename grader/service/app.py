"""The ASGI app: the JSON API under /api/v1, /healthz, /metrics and the pages
(grader.service.pages). `create_app(settings)` opens (and migrates) the store on start
and runs `settings.workers` grading worker processes; with 0 workers nothing grades until
a test drains the queue itself.

Authentication: `Authorization: Bearer TOKEN`, or the session cookie the login page sets.
"""
import math
import time
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as FastApiPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from pydantic import BaseModel
from sqlalchemy import and_, func, select, text
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.loader import MAX_FILE_BYTES
from grader.service import queue, records
from grader.service.records import Refusal
from grader.service.store import Store, User, database_url, jobs
from grader.service.workers import WorkerPool

SESSION_COOKIE = "bptt_session"
MULTIPART_OVERHEAD = 16 * 1024          # bytes a multipart body may add around its file
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("bptt-grade-data")
    database: str | None = None                 # a SQLAlchemy URL; default SQLite under data_dir
    workers: int = 1
    max_upload_kb: int = 1024
    rate_limit: int | None = None               # submissions per minute per token
    policy: str = "latest"                      # the gradebook's default
    lease_seconds: float = queue.LEASE_SECONDS
    isolation: str = "auto"
    scheduler: str | None = None                # a Dask scheduler's address or "local": jobs graded there

    @property
    def url(self) -> str:
        return database_url(self.data_dir, self.database)


class RateLimiter:
    """At most `per_minute` events per key in any 60 s."""

    def __init__(self, per_minute: int | None):
        self.per_minute = per_minute
        self.events: dict[Any, deque] = defaultdict(deque)

    def retry_after(self, key, now: float | None = None) -> int | None:
        """None when the event is allowed (and counted), else whole seconds to wait."""
        if self.per_minute is None:
            return None
        now = time.monotonic() if now is None else now
        events = self.events[key]
        while events and events[0] <= now - 60:
            events.popleft()
        if len(events) >= self.per_minute:
            return max(1, math.ceil(events[0] + 60 - now))
        events.append(now)
        return None


class BodyLimit:
    """ASGI middleware: a request body longer than its route's limit gets 413 before it is
    read whole (by Content-Length, else while it streams in)."""

    def __init__(self, app, limit_of):
        self.app, self.limit_of = app, limit_of

    async def __call__(self, scope, receive, send):
        limit = self.limit_of(scope) if scope["type"] == "http" else None
        if limit is None:
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _too_large(limit, send)
        seen, started = 0, False

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _too_large(limit, send)


class _TooLarge(Exception):
    pass


async def _too_large(limit: int, send) -> None:
    response = JSONResponse({"detail": f"the request is larger than {limit // 1024} KiB"}, status_code=413)
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


# response bodies (the OpenAPI schema)

class ProblemOut(BaseModel):
    id: str
    title: str
    points: float
    visibility: str
    T: int


class CheckReference(BaseModel):
    ok: bool
    max_relative_error: float


class Progress(BaseModel):
    done: int
    total: int


class ProblemSetOut(BaseModel):
    id: int
    version: int
    title: str
    problems: list[ProblemOut]
    audit: dict | None = None                   # instructors only
    check_reference: CheckReference | None = None
    regrade: Progress | None = None


class YamlError(BaseModel):
    line: int | None
    column: int | None
    path: str | None
    message: str


class Detail(BaseModel):
    detail: str


class Unprocessable(BaseModel):
    """422: a problem set's validation errors, a refused upload, or a malformed request."""
    errors: list[YamlError] | None = None       # a problem set's (as `bptt-grade validate`)
    detail: str | list[dict] | None = None


class Accepted(BaseModel):
    id: str
    status: Literal["queued", "running", "graded", "failed_to_grade"]
    report_url: str


class SubmissionOut(BaseModel):
    id: str
    problem_set: int
    version: int
    student: str
    status: Literal["queued", "running", "graded", "failed_to_grade"]
    score: float | None
    max_score: float | None
    report: dict | None
    reason: str | None                          # why it failed to grade
    submitted_at: str
    started_at: str | None
    finished_at: str | None


class Queued(BaseModel):
    queued: int


class Workers(BaseModel):
    alive: int
    total: int


class DaskCluster(BaseModel):
    """`serve --scheduler`'s cluster: its scheduler's address, whether the service reaches
    it, how many workers it has, and how many grade at each sandbox level."""
    scheduler: str
    connected: bool
    workers: int
    sandbox_levels: dict[str, int]


class Health(BaseModel):
    """ok (200) when the database answers and every grading worker runs: with --scheduler,
    when the scheduler is reached and has a worker; else 503. The API accepts and queues
    submissions either way."""
    ok: bool
    database: bool
    workers: Workers
    queue_depth: int | None
    dask: DaskCluster | None = None             # only with --scheduler


ProblemSetId = Annotated[int, FastApiPath(ge=1, le=2**31 - 1)]
SubmissionId = Annotated[str, FastApiPath(max_length=64)]
Responses = dict[int | str, dict[str, Any]]
FILE_FORM = {"schema": {"type": "object", "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}}}}
REFUSALS: Responses = {401: {"model": Detail}, 403: {"model": Detail}, 404: {"model": Detail}}


class Metrics:
    """Prometheus collector read from the store at each scrape, so every process's work counts."""

    def __init__(self, store: Store):
        self.store = store

    def collect(self):
        with self.store.reading() as connection:
            counts = records.status_counts(connection)
            depth = queue.depth(connection)
            latency = func.coalesce(jobs.c.finished_at - jobs.c.created_at, 0.0)
            done = and_(jobs.c.status == "done")
            buckets = [(str(b), connection.execute(select(func.count()).where(and_(done, latency <= b))).scalar_one())
                       for b in LATENCY_BUCKETS]
            total, seconds = connection.execute(select(func.count(), func.coalesce(func.sum(latency), 0.0))
                                                .where(done)).one()
        submissions = GaugeMetricFamily("bptt_grade_submissions", "Submissions by status", labels=["status"])
        for status in ("queued", "running", "graded", "failed_to_grade"):
            submissions.add_metric([status], counts.get(status, 0))
        yield submissions
        yield GaugeMetricFamily("bptt_grade_queue_depth", "Jobs queued or running", value=depth)
        histogram = HistogramMetricFamily("bptt_grade_grading_seconds", "Queued to graded, per job")
        histogram.add_metric([], buckets + [("+Inf", total)], float(seconds))
        yield histogram


def create_app(settings: Settings) -> FastAPI:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = Store.open(settings.url)
        pool = WorkerPool(settings.url, settings.data_dir, settings.workers, settings.lease_seconds,
                          settings.isolation) if settings.workers and not settings.scheduler else None
        dispatcher = None
        if settings.scheduler:
            from grader.service.dispatch import Dispatcher
            dispatcher = Dispatcher(settings.url, settings.scheduler, settings.workers, settings.lease_seconds,
                                    settings.isolation)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(Metrics(store))
        state.update(store=store, pool=pool, dispatcher=dispatcher, registry=registry, secret=store.secret())
        for grading in (pool, dispatcher):
            if grading:
                grading.start()
        try:
            yield
        finally:
            for grading in (pool, dispatcher):
                if grading:
                    await run_in_threadpool(grading.stop)
            store.close()

    app = FastAPI(title="bptt-grade", version="1", lifespan=lifespan,
                  description="Grade backpropagation-through-time submissions: per-timestep reports.")
    app.state.settings, app.state.services = settings, state
    submission_limit = settings.max_upload_kb * 1024
    limiter = RateLimiter(settings.rate_limit)

    def limit_of(scope) -> int | None:
        if scope["method"] not in ("POST", "PUT"):
            return None
        path = scope["path"]
        if path.endswith("/submissions") or path.endswith("/upload"):
            return submission_limit + MULTIPART_OVERHEAD
        return MAX_FILE_BYTES + MULTIPART_OVERHEAD
    app.add_middleware(BodyLimit, limit_of=limit_of)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        """Starlette's own errors; a 405's Allow names every method of the path (Starlette
        names only the first route's)."""
        headers = dict(error.headers or {})
        if error.status_code == 405:
            path = request.scope["path"]
            routes = [r for r in app.router.routes
                      if (pattern := getattr(r, "path_regex", None)) and pattern.match(path)]
            headers["Allow"] = ", ".join(sorted({m for r in routes for m in getattr(r, "methods", None) or ()}))
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal):
        """JSON for the API; on a page, the error page (grader.service.pages)."""
        path = request.url.path
        if not (path.startswith("/api/") or path in ("/healthz", "/metrics")):
            return state["refused_page"](request, refusal)
        return JSONResponse(refusal.body, status_code=refusal.status, headers=refusal.headers)

    def store() -> Store:
        return state["store"]

    def user(request: Request) -> User:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(SESSION_COOKIE)
        found = store().token_user(token) if token else None
        if found is None:
            raise Refusal(401, {"detail": "a valid token is needed: Authorization: Bearer TOKEN"},
                          {"WWW-Authenticate": "Bearer"})
        return found

    UserDep = Annotated[User, Depends(user)]

    def instructor(who: UserDep) -> User:
        if not who.instructor:
            raise Refusal.message(403, "only an instructor may do this")
        return who

    InstructorDep = Annotated[User, Depends(instructor)]

    async def multipart_form(request: Request):
        """The request's form; a body that is not valid multipart is a 422, not Starlette's bare 400."""
        try:
            return await request.form()
        except StarletteHTTPException as error:
            raise Refusal.message(422, f"the multipart body is malformed: {error.detail}") from None

    async def yaml_body(request: Request) -> bytes:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            form = await multipart_form(request)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise Refusal.message(422, "the multipart body needs a `file` part holding the YAML")
            return await upload.read()
        if kind in YAML_TYPES:
            return await request.body()
        raise Refusal.message(415, "send the YAML as application/yaml, or as the `file` of a multipart form")

    yaml_request = {"requestBody": {"required": True, "content": {"application/yaml": {"schema": {"type": "string"}},
                                                                  "multipart/form-data": FILE_FORM}}}
    yaml_responses: Responses = {**REFUSALS, 413: {"model": Detail}, 415: {"model": Detail},
                                 422: {"model": Unprocessable}}

    async def publish(request: Request, problem_set_id: ProblemSetId | None) -> dict:
        body = await yaml_body(request)
        summary = await run_in_threadpool(records.analyse, body)
        new_id, version = await run_in_threadpool(records.publish, store(), body.decode("utf-8"), summary,
                                                  problem_set_id)
        return {"id": new_id, "version": version, **summary}

    @app.post("/api/v1/problem-sets", status_code=201, response_model=ProblemSetOut,
              response_model_exclude_none=True, responses=yaml_responses, openapi_extra=yaml_request)
    async def create_problem_set(request: Request, _: InstructorDep):
        return await publish(request, None)

    @app.put("/api/v1/problem-sets/{problem_set_id}", response_model=ProblemSetOut,
             response_model_exclude_none=True, responses=yaml_responses, openapi_extra=yaml_request)
    async def new_version(problem_set_id: ProblemSetId, request: Request, _: InstructorDep):
        return await publish(request, problem_set_id)

    @app.get("/api/v1/problem-sets", response_model=list[ProblemSetOut], response_model_exclude_none=True,
             responses=REFUSALS)
    def list_problem_sets(who: UserDep):
        return records.problem_set_list(store(), who)

    @app.get("/api/v1/problem-sets/{problem_set_id}", response_model=ProblemSetOut,
             response_model_exclude_none=True, responses=REFUSALS)
    def get_problem_set(problem_set_id: ProblemSetId, who: UserDep):
        return records.problem_set_view(store(), problem_set_id, who)

    async def upload(request: Request) -> tuple[str, bytes]:
        """(file name, bytes) of the form's `file`; several .py files (a module and its helpers)
        are zipped into one folder submission."""
        form = await multipart_form(request)
        files = [f for f in form.getlist("file") if not isinstance(f, str)]
        if not files:
            raise Refusal.message(422, "the multipart body needs a `file` part: your .py file or .zip folder")
        uploaded = {}
        for file in files:
            uploaded[file.filename or ""] = await file.read(submission_limit + 1)
        if sum(map(len, uploaded.values())) > submission_limit:
            raise Refusal.message(413, f"the upload is larger than {settings.max_upload_kb} KiB")
        if len(uploaded) == 1:
            return next(iter(uploaded.items()))
        return records.files_as_zip(uploaded)

    def submit(request_user: User, problem_set_id: ProblemSetId, filename: str, data: bytes, key: str | None) -> dict:
        wait = limiter.retry_after(request_user.token_id)
        if wait is not None:
            raise Refusal(429, {"detail": f"at most {settings.rate_limit} submissions a minute; "
                                          f"try again in {wait} s"}, {"Retry-After": str(wait)})
        return records.accept(store(), problem_set_id, request_user, filename, data, key)
    state["submit"], state["upload"] = submit, upload

    @app.post("/api/v1/problem-sets/{problem_set_id}/submissions", status_code=202, response_model=Accepted,
              responses={**REFUSALS, 413: {"model": Detail}, 422: {"model": Unprocessable}, 429: {"model": Detail}},
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": FILE_FORM}}})
    async def create_submission(problem_set_id: ProblemSetId, request: Request, who: UserDep,
                                idempotency_key: str | None = Header(None, max_length=200)):
        filename, data = await upload(request)
        return await run_in_threadpool(submit, who, problem_set_id, filename, data, idempotency_key)

    @app.get("/api/v1/submissions/{submission_id}", response_model=SubmissionOut, responses=REFUSALS)
    def get_submission(submission_id: SubmissionId, who: UserDep):
        return records.submission_view(store(), submission_id, who)

    @app.get("/api/v1/problem-sets/{problem_set_id}/gradebook.csv",
             responses={**REFUSALS, 200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
    def get_gradebook(problem_set_id: ProblemSetId, _: InstructorDep,
                      policy: Literal["latest", "best"] | None = Query(None)):
        text_csv = records.gradebook_csv(store(), problem_set_id, policy or settings.policy)
        return Response(text_csv, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="gradebook-{problem_set_id}.csv"'})

    @app.post("/api/v1/problem-sets/{problem_set_id}/regrade", status_code=202, response_model=Queued,
              responses=REFUSALS)
    def post_regrade(problem_set_id: ProblemSetId, _: InstructorDep):
        return {"queued": records.regrade(store(), problem_set_id)}

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health}})
    def healthz():
        pool = state.get("pool")
        workers = {"alive": pool.alive() if pool else 0, "total": pool.size if pool else 0}
        try:
            with store().reading() as connection:
                connection.execute(text("SELECT 1"))
                depth = queue.depth(connection)
            database = True
        except Exception:           # any failure to reach the database is "not healthy", never a 500
            database, depth = False, None
        ok = database and workers["alive"] == workers["total"]
        body = {"ok": ok, "database": database, "workers": workers, "queue_depth": depth}
        dispatcher = state.get("dispatcher")
        if dispatcher:
            body["dask"] = dispatcher.health()
            body["ok"] = ok = ok and body["dask"]["connected"] and body["dask"]["workers"] > 0
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics():
        return Response(generate_latest(state["registry"]), media_type=CONTENT_TYPE_LATEST)

    from grader.service.pages import add_pages
    add_pages(app, settings, state)
    return app
