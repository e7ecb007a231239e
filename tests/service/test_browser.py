"""A real browser (Debian's headless Chromium, driven by Playwright) logs in, uploads the
seed's typo, waits for the report page and finds the first divergence marked at t = 4."""
import shutil

import httpx
import pytest

from tests.conftest import EXAMPLES
from tests.service.conftest import SMALL_SET
from tests.service.test_durability import Server, setup_class

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def server(tmp_path):
    if not shutil.which(CHROMIUM):
        pytest.skip("no Chromium: apt-get install chromium (.ci/run does)")
    started = Server(tmp_path / "data", f"sqlite:///{tmp_path / 'service.sqlite'}", workers=1)
    try:
        yield started.start()
    finally:
        started.kill_all()


def test_a_student_uploads_the_seed_typo_and_sees_the_first_divergence_at_t_4(tmp_path, server):
    store, instructor, [student] = setup_class(server.database_url, 1)
    store.close()
    assert httpx.post(f"{server.url}/api/v1/problem-sets", content=SMALL_SET, timeout=60,
                      headers={**instructor, "Content-Type": "application/yaml"}).status_code == 201
    token = student["Authorization"].removeprefix("Bearer ")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 900})
            page.goto(f"{server.url}/login")
            page.fill("input[name=token]", token)
            page.click("button:has-text('Log in')")
            page.click("text=Small <b>BPTT</b> set")
            page.set_input_files("input[type=file]", [str(EXAMPLES / "seed_typo_phi_prime_of_h.py"),
                                                      str(EXAMPLES / "student_math.py")])
            page.click("button:has-text('Submit')")
            page.wait_for_selector("#status.graded", timeout=60_000)
            plot = page.locator('svg.error-plot[data-output="dL_ds"]').first
            marker = plot.locator(".first-divergence")
            assert marker.get_attribute("data-t") == "4"
            assert marker.locator("text").text_content() == "first divergence t = 4"
            step_4 = plot.locator('circle.step[data-t="4"]')
            assert marker.locator("circle").get_attribute("cx") == step_4.get_attribute("cx")
            assert plot.locator(".order").text_content().startswith("BPTT order: t = T first")
            assert page.inner_text("#score") == "10.0 / 30.0"
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000
