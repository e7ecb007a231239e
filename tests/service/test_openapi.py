"""schemathesis against a running `bptt-grade serve` (on 127.0.0.1, a free port, stopped after the
module) and its OpenAPI document, a bounded number of examples per operation and a bounded time per
request: no 5xx, and every response conforms to its documented schema and status."""
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

import httpx  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from grader.service.app import Settings, create_app  # noqa: E402
from tests.service.test_durability import Server, publish, setup_class  # noqa: E402

REQUEST_SECONDS = 30

# The cases are generated at collection, before the server starts, from the app's own document;
# the fixture checks that the running server serves that same document.
with tempfile.TemporaryDirectory() as unused_data_dir:
    DOCUMENT = create_app(Settings(Path(unused_data_dir), workers=0)).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def server_and_instructor(tmp_path_factory):
    """The server started with a problem set published: (server, an instructor's headers)."""
    data_dir = tmp_path_factory.mktemp("openapi") / "data"
    data_dir.mkdir()
    database_url = f"sqlite:///{data_dir / 'service.sqlite'}"
    store, instructor, _ = setup_class(database_url, 0)
    store.close()
    server = Server(data_dir, database_url, workers=1)
    try:
        publish(server.start(), instructor)
        assert httpx.get(f"{server.url}/openapi.json", timeout=REQUEST_SECONDS).json() == DOCUMENT
        yield server, instructor
    finally:
        server.kill_all()


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_running_server_conforms_to_its_openapi_document(case, server_and_instructor):
    # A schema-valid body may still be refused on its content (YAML that is not a problem
    # set, a file that is not Python): 422 is the documented answer, not a failure.
    server, instructor = server_and_instructor
    case.call_and_validate(base_url=server.url, headers=instructor, timeout=REQUEST_SECONDS,
                           excluded_checks=[positive_data_acceptance])
