"""Server-rendered pages (Jinja2, autoescaped; usable without JavaScript).

Logging in turns a token into an HttpOnly, SameSite=Strict session cookie; every form
carries a CSRF token, an HMAC of the session under the server's secret (the login form's
is a double-submit cookie, as there is no session yet).
"""
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from grader import contracts
from grader.service import records
from grader.service.plots import error_series, svg
from grader.service.records import Refusal
from grader.service.store import User, token_hash
from grader.service.workers import prepare_version
from grader.text_safety import printable

LOGIN_CSRF_COOKIE = "bptt_login_csrf"
FINISHED = ("graded", "failed_to_grade")

class LoginNeeded(Exception):
    """A page asked for without a session: the browser goes to the login page."""


def shown(value):
    """Every text a page shows is printable (no control or bidirectional-override characters,
    valid Unicode) before autoescaping; markup the code built (the plots) is kept."""
    return printable(value) if isinstance(value, str) and not isinstance(value, Markup) else value


templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), finalize=shown,
                        autoescape=select_autoescape(default=True, default_for_string=True))


def add_pages(app: FastAPI, settings, state: dict) -> None:
    from grader.service.app import SESSION_COOKIE

    def csrf_of(token: str) -> str:
        return hmac.new(state["secret"], token_hash(token).encode(), hashlib.sha256).hexdigest()

    def session(request: Request) -> tuple[User, str] | None:
        token = request.cookies.get(SESSION_COOKIE)
        found = state["store"].token_user(token) if token else None
        return None if found is None or token is None else (found, csrf_of(token))

    def page(name: str, code: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), status_code=code)

    def refused_page(request: Request, refusal: Refusal) -> HTMLResponse:
        """A refusal on a page: the error page, as the signed-in user sees it."""
        user, csrf = session(request) or (None, "")
        message = refusal.body.get("detail") or "; ".join(e["message"] for e in refusal.body.get("errors", []))
        return page("error.html", refusal.status, status=refusal.status, message=message, user=user, csrf=csrf)
    state["refused_page"] = refused_page

    @app.exception_handler(LoginNeeded)
    async def to_login(request: Request, _: LoginNeeded):
        return RedirectResponse("/login", status_code=303)

    def signed_in(request: Request) -> tuple[User, str]:
        """(the user, their CSRF token); a page without a session redirects to the login."""
        found = session(request)
        if found is None:
            raise LoginNeeded
        return found

    def instructor(found: Annotated[tuple[User, str], Depends(signed_in)]) -> tuple[User, str]:
        if not found[0].instructor:
            raise Refusal.message(403, "only an instructor may do this")
        return found

    Session = Annotated[tuple[User, str], Depends(signed_in)]
    InstructorSession = Annotated[tuple[User, str], Depends(instructor)]

    async def checked_form(request: Request, csrf: str | None):
        """The form; 403 unless its CSRF token is `csrf`."""
        form = await request.form()
        given = form.get("csrf")
        if not (isinstance(given, str) and csrf is not None and hmac.compare_digest(given, csrf)):
            raise Refusal.message(403, "the form's CSRF token is wrong; reload the page and try again")
        return form

    def logged_in(token: str, request: Request) -> RedirectResponse:
        """Secure cookies behind HTTPS (a reverse proxy that says so); on plain http://127.0.0.1
        a Secure cookie would never come back."""
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    def login_form(code: int, message: str = "") -> HTMLResponse:
        csrf = secrets.token_hex(16)
        response = page("login.html", code, csrf=csrf, user=None, message=message)
        response.set_cookie(LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/")
        return response

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, token: str | None = None):
        if token and state["store"].token_user(token):
            return logged_in(token, request)
        return login_form(401, "That token is not valid.") if token else login_form(200)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        try:
            form = await checked_form(request, request.cookies.get(LOGIN_CSRF_COOKIE))
        except Refusal:
            return login_form(403, "The form expired; try again.")
        token = form.get("token")
        if not isinstance(token, str) or not state["store"].token_user(token):
            return login_form(401, "That token is not valid.")
        return logged_in(token, request)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, found: Session):
        await checked_form(request, found[1])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/", include_in_schema=False)
    def home(found: Session):
        user, csrf = found
        return page("home.html", user=user, csrf=csrf,
                    problem_sets=records.problem_set_list(state["store"], user))

    @app.get("/problem-sets/{problem_set_id}", include_in_schema=False)
    def problem_set_page(problem_set_id: int, found: Session):
        user, csrf = found
        return page("problem_set.html", user=user, csrf=csrf,
                    ps=records.problem_set_view(state["store"], problem_set_id, user),
                    submissions=records.submission_list(state["store"], problem_set_id, user))

    @app.post("/problem-sets/{problem_set_id}/upload", include_in_schema=False)
    async def upload_page(problem_set_id: int, request: Request, found: Session):
        user, csrf = found
        await checked_form(request, csrf)
        filename, data = await state["upload"](request)
        accepted = await run_in_threadpool(state["submit"], user, problem_set_id, filename, data, None)
        return RedirectResponse(f"/submissions/{accepted['id']}", status_code=303)

    @app.post("/problem-sets/{problem_set_id}/regrade", include_in_schema=False)
    async def regrade_page(problem_set_id: int, request: Request, found: InstructorSession):
        await checked_form(request, found[1])
        records.regrade(state["store"], problem_set_id)
        return RedirectResponse(f"/problem-sets/{problem_set_id}", status_code=303)

    @app.get("/submissions/{submission_id}", include_in_schema=False)
    def submission_page(submission_id: str, found: Session):
        user, csrf = found
        view = records.submission_view(state["store"], submission_id, user)
        return page("submission.html", user=user, csrf=csrf, s=view, finished=view["status"] in FINISHED,
                    plots=plots_of(view) if view["report"] else {})

    def plots_of(view: dict) -> dict[str, dict[str, Markup]]:
        """problem id → output name → SVG, for every per-timestep output compared."""
        version = prepared(view["problem_set"], view["version"])
        exercises = {ex.problem.id: ex for ex in version.exercises}
        plots: dict[str, dict[str, Markup]] = {}
        for p in view["report"]["problems"]:
            exercise = exercises.get(p["id"])
            for name, o in p.get("outputs", {}).items():
                if exercise is None or "diverging_timesteps" not in o or o.get("expected") is None:
                    continue
                call = contracts.call_for(exercise.problem)
                out = call.outputs.get(name) or call.outputs.get(o.get("derived_from") or "")
                time_axis = out.time_axis if out is not None and out.time_axis is not None else 0
                try:
                    series = error_series(o["expected"], o["got"], time_axis, exercise.problem.tolerance)
                except (ValueError, IndexError):        # a shape the plot cannot read: no plot
                    continue
                first = o.get("first_divergence")
                plots.setdefault(p["id"], {})[name] = Markup(svg(
                    name, series, first["t"] if first else None, first["order"] if first else "backward"))
        return plots

    def prepared(problem_set_id: int, version: int):
        key = (problem_set_id, version)
        cache = state.setdefault("versions", {})
        if key not in cache:
            cache[key] = prepare_version(settings.data_dir, problem_set_id, version,
                                         records.version_yaml(state["store"], problem_set_id, version))
        return cache[key]

    @app.get("/author", include_in_schema=False)
    def author_page(found: InstructorSession, problem_set: int | None = None):
        user, csrf = found
        return page("author.html", user=user, csrf=csrf, problem_set=problem_set, yaml="")

    @app.post("/author", include_in_schema=False)
    async def author(request: Request, found: InstructorSession):
        user, csrf = found
        form = await checked_form(request, csrf)
        file = form.get("file")
        body = await file.read() if file is not None and not isinstance(file, str) and file.filename else \
            str(form.get("yaml") or "").encode("utf-8")
        target = form.get("problem_set")
        target_id = int(target) if isinstance(target, str) and target.isdigit() else None
        text = body.decode("utf-8", errors="replace")
        context: dict[str, Any] = {"user": user, "csrf": csrf, "problem_set": target_id, "yaml": text}
        try:
            summary = await run_in_threadpool(records.analyse, body)
        except Refusal as refusal:
            errors = refusal.body["errors"]
            return page("author.html", 422, errors=errors, lines=text.splitlines(),
                        bad_lines={e["line"] for e in errors if e["line"]}, **context)
        if form.get("action") != "publish":
            return page("author.html", summary=summary, **context)
        new_id, _ = await run_in_threadpool(records.publish, state["store"], text, summary, target_id)
        return RedirectResponse(f"/problem-sets/{new_id}", status_code=303)
