"""The service's database: SQLAlchemy 2 Core tables, migrated by Alembic when opened.

One code path for SQLite (the default, a WAL file under the data folder) and PostgreSQL
(`postgresql+psycopg://…`). Times are seconds since the epoch (float). A transaction that
writes is begun with `Store.writing()`: on SQLite that is `BEGIN IMMEDIATE`, so two writers
never both read a row and then both update it; on PostgreSQL rows are locked where they are
claimed (`FOR UPDATE SKIP LOCKED`, grader.service.queue).

Tokens are stored only as their SHA-256 (a token has 256 random bits, so a plain hash
cannot be reversed); `token_user` compares the found hash in constant time.
"""
import hashlib
import hmac
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Engine

ROLES = ("instructor", "student")
TOKEN_BYTES = 32                    # 256 random bits

metadata = MetaData()

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False))

problem_sets = Table(
    "problem_sets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("version", Integer, nullable=False),           # the current version
    Column("regrade_id", Integer, nullable=True),          # the latest regrade
    Column("created_at", Float, nullable=False))

versions = Table(
    "problem_set_versions", metadata,
    Column("problem_set_id", Integer, ForeignKey("problem_sets.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("yaml", Text, nullable=False),
    Column("summary", Text, nullable=False),               # JSON: title, problems, audit, check_reference
    Column("created_at", Float, nullable=False))

submissions = Table(
    "submissions", metadata,
    Column("id", String(32), primary_key=True),
    Column("problem_set_id", Integer, ForeignKey("problem_sets.id"), nullable=False),
    Column("version", Integer, nullable=False),            # graded against (or to be graded against)
    Column("token_id", Integer, ForeignKey("tokens.id"), nullable=False),
    Column("student", String(200), nullable=False),
    Column("status", String(20), nullable=False),          # queued | running | graded | failed_to_grade
    Column("score", Float, nullable=True),
    Column("max_score", Float, nullable=True),
    Column("outcome", String(20), nullable=True),          # passed | failed | error, as batch's gradebook
    Column("problem_scores", Text, nullable=True),         # JSON: problem id → score
    Column("report", Text, nullable=True),                 # the JSON report, every problem
    Column("reason", Text, nullable=True),                 # why it failed to grade
    Column("filename", String(200), nullable=False),       # as uploaded, shown only
    Column("kind", String(8), nullable=False),             # py | zip
    Column("idempotency_key", String(200), nullable=True),
    Column("submitted_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    UniqueConstraint("token_id", "problem_set_id", "idempotency_key", name="uq_submission_idempotency"),
    Index("ix_submissions_problem_set", "problem_set_id", "student"))

uploads = Table(
    "uploads", metadata,
    Column("submission_id", String(32), ForeignKey("submissions.id"), primary_key=True),
    Column("data", LargeBinary, nullable=False))

regrades = Table(
    "regrades", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("problem_set_id", Integer, ForeignKey("problem_sets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("created_at", Float, nullable=False))

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("submission_id", String(32), ForeignKey("submissions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("regrade_id", Integer, ForeignKey("regrades.id"), nullable=True),
    Column("status", String(20), nullable=False),          # queued | running | done | failed_to_grade
    Column("attempts", Integer, nullable=False),           # claims so far
    Column("worker", String(200), nullable=True),          # the lease holder
    Column("lease_token", String(32), nullable=True),
    Column("lease_expires_at", Float, nullable=True),
    Column("heartbeat_at", Float, nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Index("ix_jobs_status", "status", "id"))

job_events = Table(
    "job_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("event", String(20), nullable=False),           # claimed | expired | released | completed | failed
    Column("worker", String(200), nullable=True),
    Column("at", Float, nullable=False),
    Index("ix_job_events_job", "job_id"))

settings = Table(
    "settings", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False))


@dataclass(frozen=True)
class User:
    token_id: int
    name: str
    role: str

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"


def database_url(data_dir: Path, url: str | None) -> str:
    """`url`, or the SQLite file service.sqlite under `data_dir`."""
    return url or f"sqlite:///{Path(data_dir).resolve() / 'service.sqlite'}"


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):
        dbapi_connection.isolation_level = None     # transactions are begun below, not by the driver
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=30000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get("immediate")
                                   else "BEGIN")
    return engine


class Store:
    """An open database, migrated to the latest revision."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _sqlite_engine(url) if url.startswith("sqlite") else create_engine(url, pool_pre_ping=True)
        self.sqlite = url.startswith("sqlite")

    @classmethod
    def open(cls, url: str) -> "Store":
        store = cls(url)
        store.migrate()
        return store

    def migrate(self) -> None:
        """Run Alembic's migrations up to head (a no-op when already there)."""
        from alembic import command
        from alembic.config import Config
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.writing() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def writing(self):
        """A transaction that writes (SQLite: BEGIN IMMEDIATE), committed on leaving."""
        with self.engine.connect().execution_options(immediate=True) as connection, connection.begin():
            yield connection

    @contextmanager
    def reading(self):
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def close(self) -> None:
        self.engine.dispose()

    # tokens

    def create_token(self, name: str, role: str) -> str:
        """A new random token for `name` with `role`; only its hash is stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self.writing() as connection:
            connection.execute(insert(tokens).values(name=name, role=role, token_hash=token_hash(token),
                                                     created_at=time.time()))
        return token

    def has_instructor(self) -> bool:
        with self.reading() as connection:
            return connection.execute(select(func.count()).select_from(tokens)
                                      .where(tokens.c.role == "instructor")).scalar_one() > 0

    def token_user(self, token: str) -> User | None:
        digest = token_hash(token)
        with self.reading() as connection:
            row = connection.execute(select(tokens).where(tokens.c.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return User(row.id, row.name, row.role)

    def secret(self) -> bytes:
        """The server's own random secret (CSRF tokens), made on first use."""
        with self.writing() as connection:
            row = connection.execute(select(settings.c.value).where(settings.c.key == "secret")).first()
            if row is None:
                value = secrets.token_hex(32)
                connection.execute(insert(settings).values(key="secret", value=value))
                return bytes.fromhex(value)
            return bytes.fromhex(row.value)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
