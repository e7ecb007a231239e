"""The first schema: tokens, problem sets and their versions, submissions and their
uploads, regrades, jobs with leases, job events, settings.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False))
    op.create_table(
        "problem_sets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("regrade_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False))
    op.create_table(
        "problem_set_versions",
        sa.Column("problem_set_id", sa.Integer, sa.ForeignKey("problem_sets.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("yaml", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False))
    op.create_table(
        "submissions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("problem_set_id", sa.Integer, sa.ForeignKey("problem_sets.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("token_id", sa.Integer, sa.ForeignKey("tokens.id"), nullable=False),
        sa.Column("student", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("max_score", sa.Float, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("problem_scores", sa.Text, nullable=True),
        sa.Column("report", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("submitted_at", sa.Float, nullable=False),
        sa.Column("started_at", sa.Float, nullable=True),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.UniqueConstraint("token_id", "problem_set_id", "idempotency_key", name="uq_submission_idempotency"))
    op.create_index("ix_submissions_problem_set", "submissions", ["problem_set_id", "student"])
    op.create_table(
        "uploads",
        sa.Column("submission_id", sa.String(32), sa.ForeignKey("submissions.id"), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False))
    op.create_table(
        "regrades",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("problem_set_id", sa.Integer, sa.ForeignKey("problem_sets.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False))
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(32), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("regrade_id", sa.Integer, sa.ForeignKey("regrades.id"), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("lease_token", sa.String(32), nullable=True),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True))
    op.create_index("ix_jobs_status", "jobs", ["status", "id"])
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("at", sa.Float, nullable=False))
    op.create_index("ix_job_events_job", "job_events", ["job_id"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False))


def downgrade():
    for table in ("settings", "job_events", "jobs", "regrades", "uploads", "submissions",
                  "problem_set_versions", "problem_sets", "tokens"):
        op.drop_table(table)
