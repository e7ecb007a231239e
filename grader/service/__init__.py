"""The grading service, `bptt-grade serve`: an HTTP API and server-rendered pages (app),
the database (store), the job queue with leases (queue), and the local pool of grading
workers (workers). It needs the optional extra `service`:

    pip install 'bptt-grade[service]'

`missing_extra()` names what is not installed, so the CLI can say so before importing.
"""
import importlib.util

REQUIRED_MODULES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "sqlalchemy": "sqlalchemy", "alembic": "alembic",
                    "jinja2": "jinja2", "prometheus_client": "prometheus_client",
                    "multipart": "python-multipart"}
INSTALL_HINT = "pip install 'bptt-grade[service]'"


def missing_extra() -> list[str]:
    """The distributions of the `service` extra that cannot be imported here."""
    return [dist for module, dist in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]
