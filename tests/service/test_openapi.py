"""schemathesis against the app's own OpenAPI document, a bounded number of examples per
operation: no 5xx, and every response conforms to its documented schema and status."""
import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from grader.service.app import Settings, create_app  # noqa: E402
from tests.service.conftest import SMALL_SET  # noqa: E402

DATA = Path(tempfile.mkdtemp(prefix="bptt-grade-openapi-"))
APP = create_app(Settings(DATA, workers=0, max_upload_kb=64, rate_limit=1000))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def instructor():
    """The app started, a problem set published and a submission made: an instructor's headers."""
    with TestClient(APP) as client:
        store = APP.state.services["store"]
        headers = {"Authorization": f"Bearer {store.create_token('ines', 'instructor')}"}
        assert client.post("/api/v1/problem-sets", content=SMALL_SET,
                           headers={**headers, "Content-Type": "application/yaml"}).status_code == 201
        yield headers
    shutil.rmtree(DATA, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_api_conforms_to_its_openapi_document(case, instructor):
    # A schema-valid body may still be refused on its content (YAML that is not a problem
    # set, a file that is not Python): 422 is the documented answer, not a failure.
    case.call_and_validate(headers=instructor, excluded_checks=[positive_data_acceptance])
