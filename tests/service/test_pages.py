"""The server-rendered pages: login, CSRF, upload, the report page's plot, authoring;
everything a submission or an instructor wrote is escaped."""
import re

import pytest

from tests.conftest import EXAMPLES
from tests.service.conftest import SMALL_SET
from tests.service.test_api import SEED_TYPO, Service, make_service


@pytest.fixture
def service(tmp_path, database_url):
    client, data_dir = make_service(tmp_path, database_url)
    with client:
        yield Service(client, data_dir)


def csrf_in(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def log_in(service, token_header: dict) -> str:
    """Log in through the form; the CSRF token of the pages that follow."""
    form = service.client.get("/login")
    token = token_header["Authorization"].removeprefix("Bearer ")
    response = service.client.post("/login", data={"token": token, "csrf": csrf_in(form.text)},
                                   follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    return csrf_in(service.client.get("/").text)


def test_pages_need_a_login(service):
    response = service.client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_a_login_without_the_form_s_csrf_token_is_refused(service):
    service.client.get("/login")
    token = service.alice["Authorization"].removeprefix("Bearer ")
    response = service.client.post("/login", data={"token": token, "csrf": "0" * 32})
    assert response.status_code == 403 and "bptt_session" not in response.headers.get("set-cookie", "")


def test_a_wrong_token_is_refused(service):
    form = service.client.get("/login")
    response = service.client.post("/login", data={"token": "nope", "csrf": csrf_in(form.text)})
    assert response.status_code == 401 and "That token is not valid." in response.text


def test_the_login_url_with_a_token_logs_in(service):
    token = service.alice["Authorization"].removeprefix("Bearer ")
    response = service.client.get(f"/login?token={token}", follow_redirects=False)
    assert response.status_code == 303 and "HttpOnly" in response.headers["set-cookie"]


def test_a_student_uploads_and_the_report_page_plots_the_first_divergence(service):
    service.publish()
    csrf = log_in(service, service.alice)
    page = service.client.get("/problem-sets/1")
    assert "secret-problem" not in page.text and "Small &lt;b&gt;BPTT&lt;/b&gt; set" in page.text
    files = [("file", (f"{n}.py", (EXAMPLES / f"{n}.py").read_bytes(), "text/x-python"))
             for n in ("seed_typo_phi_prime_of_h", "student_math")]
    response = service.client.post("/problem-sets/1/upload", data={"csrf": csrf}, files=files, follow_redirects=False)
    assert response.status_code == 303
    report_page = response.headers["location"]
    waiting = service.client.get(report_page).text
    assert '<meta http-equiv="refresh" content="2">' in waiting and 'id="status" class="queued"' in waiting
    service.drain()
    html = service.client.get(report_page).text
    assert 'http-equiv="refresh"' not in html
    first = re.search(r'<svg [^>]*data-output="dL_ds" data-T="4">.*?</svg>', html, re.S).group(0)
    assert '<g class="first-divergence" data-t="4">' in first
    assert "BPTT order: t = T first" in first
    assert "A hidden problem: only its status and score are shown." in html


def test_an_upload_without_the_csrf_token_is_refused(service):
    service.publish()
    log_in(service, service.alice)
    response = service.client.post("/problem-sets/1/upload", data={"csrf": "bad"}, files=SEED_TYPO)
    assert response.status_code == 403


def test_what_a_submission_printed_is_escaped(service):
    service.publish()
    csrf = log_in(service, service.alice)
    source = (b'print("<script>alert(1)</script>\\u202eevil")\n'
              b'def backward(trace):\n    raise ValueError("<img src=x>")\n')
    response = service.client.post("/problem-sets/1/upload", data={"csrf": csrf},
                                   files={"file": ("x.py", source, "text/x-python")})
    service.drain()
    html = service.client.get(response.url.path).text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x>" not in html
    assert "\u202e" not in html and "\\u202eevil" in html


def test_the_instructor_page_has_the_audit_the_check_the_gradebook_and_regrade(service):
    service.publish()
    csrf = log_in(service, service.instructor)
    html = service.client.get("/problem-sets/1").text
    for text in ("The reference agrees with finite differences", "output_derivative_uses_phi",
                 "/api/v1/problem-sets/1/gradebook.csv?policy=best", "Regrade every submission"):
        assert text in html
    response = service.client.post("/problem-sets/1/regrade", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert service.client.get("/api/v1/problem-sets/1/gradebook.csv").status_code == 200     # the cookie


def test_the_authoring_page_shows_a_validation_error_at_its_line(service):
    csrf = log_in(service, service.instructor)
    response = service.client.post("/author", data={"csrf": csrf, "yaml": SMALL_SET.replace("phi: sin", "phi: sine"),
                                                   "action": "check"})
    assert response.status_code == 422
    assert "line 25, column 18: problems[2].model.phi: &#39;sine&#39; is not one of" in response.text
    assert '<span class="bad" id="line-25">  25      model: {phi: sine' in response.text


def test_the_authoring_page_checks_then_publishes(service):
    csrf = log_in(service, service.instructor)
    checked = service.client.post("/author", data={"csrf": csrf, "yaml": SMALL_SET, "action": "check"})
    assert checked.status_code == 200 and "Reference check: agrees" in checked.text
    published = service.client.post("/author", data={"csrf": csrf, "yaml": SMALL_SET, "action": "publish"},
                                    follow_redirects=False)
    assert (published.status_code, published.headers["location"]) == (303, "/problem-sets/1")


def test_a_student_cannot_author(service):
    log_in(service, service.alice)
    assert service.client.get("/author").status_code == 403
