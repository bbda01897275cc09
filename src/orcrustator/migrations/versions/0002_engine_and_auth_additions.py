"""Additions beyond the seed: job options, run bookkeeping, task runs, run logs, admins, secrets.

Every change is a new nullable or defaulted column, or a new table, so the seed's tables keep
their exact shape.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from orcrustator.db.types import JsonDocument, UtcDateTime, new_uuid

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOB_COLUMNS = (
    ("timezone", sa.String(64), False, "UTC"),
    ("max_retries", sa.Integer(), False, "0"),
    ("retry_delay_seconds", sa.Integer(), False, "60"),
    ("timeout_seconds", sa.Integer(), True, None),
    ("max_active_runs", sa.Integer(), False, "1"),
    ("catchup", sa.Boolean(), False, sa.false()),
)


def upgrade() -> None:
    with op.batch_alter_table("job_definitions") as batch:
        for name, type_, nullable, default in _JOB_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=nullable, server_default=default))
    with op.batch_alter_table("job_runs") as batch:
        batch.add_column(sa.Column("scheduled_for", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("worker_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", UtcDateTime(), nullable=True))
        batch.add_column(
            sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("not_before", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("config_snapshot", JsonDocument, nullable=True))
    op.create_index(
        "uq_job_runs_job_id_scheduled_for", "job_runs", ["job_id", "scheduled_for"], unique=True
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        "task_runs",
        sa.Column("task_run_id", sa.Uuid(), primary_key=True, server_default=new_uuid()),
        sa.Column(
            "run_id",
            sa.Uuid(),
            sa.ForeignKey("job_runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("task_order", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("rows_extracted", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("rows_loaded", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("bytes_loaded", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("error_message", sa.Text(), nullable=True),
    )
    op.create_index("idx_task_runs_run_id", "task_runs", ["run_id"])
    op.create_table(
        "run_logs",
        sa.Column(
            "log_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column(
            "run_id",
            sa.Uuid(),
            sa.ForeignKey("job_runs.run_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("ts", UtcDateTime(), nullable=False, server_default=sa.func.now()),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("idx_run_logs_run_id", "run_logs", ["run_id", "log_id"])
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("service_secrets")
    op.drop_index("idx_run_logs_run_id", table_name="run_logs")
    op.drop_table("run_logs")
    op.drop_index("idx_task_runs_run_id", table_name="task_runs")
    op.drop_table("task_runs")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
    op.drop_index("uq_job_runs_job_id_scheduled_for", table_name="job_runs")
    with op.batch_alter_table("job_runs") as batch:
        for name in (
            "config_snapshot",
            "not_before",
            "cancel_requested",
            "heartbeat_at",
            "worker_id",
            "attempt",
            "scheduled_for",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("job_definitions") as batch:
        for name, *_ in reversed(_JOB_COLUMNS):
            batch.drop_column(name)
