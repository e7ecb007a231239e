"""Fixtures of the grading service's tests: a database (SQLite, and PostgreSQL when
BPTT_TEST_POSTGRES_URL names a server), a store, and the app under the ASGI test client."""
import io
import os
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("sqlalchemy")

from sqlalchemy import create_engine, text  # noqa: E402

from tests.conftest import EXAMPLES  # noqa: E402

POSTGRES_URL = os.environ.get("BPTT_TEST_POSTGRES_URL")

# A small problem set: three visible problems and a hidden one.
SMALL_SET = """\
schema_version: 1
title: Small <b>BPTT</b> set
entry_point: backward
problems:
  - id: worked-example
    title: tanh state, identity output
    points: 10
    visibility: visible
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}
  - id: single-step
    title: T = 1
    points: 4
    visibility: visible
    model: {phi: tanh, theta: sigmoid, loss: squared_error}
    params: {w: 1.3, v: 0.7, h0: -0.4}
    data: {x: [0.9], y: [0.25]}
    grade: {dL_ds: 2, dL_dw: 1, dL_dh0: 1}
  - id: secret-problem
    title: the hidden one
    points: 6
    visibility: hidden
    model: {phi: sin, theta: tanh, loss: squared_error}
    params: {w: 0.5, v: 0.9, h0: 0.2}
    data: {x: [0.1, 0.4, -0.2, 0.8, 0.3], y: [0.2, -0.1, 0.0, 0.3, 0.1]}
    grade: {dL_ds: 4, dL_dw: 1, dL_dv: 1}
  - id: relu-state
    title: relu state, where phi' is theta' (the seed's typo passes)
    points: 10
    visibility: visible
    model: {phi: relu, theta: identity, loss: squared_error}
    params: {w: 0.9, v: 1.0, h0: 0.5}
    data: {x: [0.8, 0.4, -0.2, 1.0, 0.3, -0.1, 0.6, 0.2], y: [0.5, 1.0, 0.6, 1.2, 1.0, 0.4, 1.1, 0.9]}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}
"""


def example_zip(*names: str) -> bytes:
    """A zip of examples/NAME.py files and the student_math helper they import."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in (*names, "student_math"):
            archive.write(EXAMPLES / f"{name}.py", f"{name}.py")
    return out.getvalue()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a schema of its own on the PostgreSQL test
    server (the URL sets its search_path), dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.sqlite'}"
        return
    if not POSTGRES_URL:
        pytest.skip("no PostgreSQL server: set BPTT_TEST_POSTGRES_URL (.ci/run does)")
    schema = f"test_{uuid.uuid4().hex}"
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def store(database_url):
    from grader.service.store import Store
    opened = Store.open(database_url)
    yield opened
    opened.close()


def problem_set_file(tmp_path: Path, text: str = SMALL_SET) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(text)
    return path
