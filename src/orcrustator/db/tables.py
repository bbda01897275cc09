"""The schema, defined once. Alembic revisions evolve it; a test keeps the two in step.

The first four tables are the seed's, column for column; everything after them, and every
column marked "addition", came later as nullable or defaulted additions.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from orcrustator.db.types import JsonDocument, UtcDateTime, new_uuid

metadata = sa.MetaData()

RUN_STATUSES = ("queued", "running", "success", "failed", "cancelled")
ACTIVE_RUN_STATUSES = ("queued", "running")
TRIGGERS = ("scheduled", "manual", "retry")


def _id_column(name: str) -> sa.Column[uuid.UUID]:
    return sa.Column(
        name, sa.Uuid(), primary_key=True, default=uuid.uuid4, server_default=new_uuid()
    )


def _created_at() -> sa.Column[object]:
    return sa.Column("created_at", UtcDateTime(), nullable=False, server_default=sa.func.now())


def _updated_at() -> sa.Column[object]:
    return sa.Column("updated_at", UtcDateTime(), nullable=False, server_default=sa.func.now())


job_definitions = sa.Table(
    "job_definitions",
    metadata,
    _id_column("job_id"),
    sa.Column("job_name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("schedule", sa.String(255), nullable=False),
    sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
    _created_at(),
    _updated_at(),
    # additions
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("max_retries", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("retry_delay_seconds", sa.Integer(), nullable=False, server_default="60"),
    sa.Column("timeout_seconds", sa.Integer(), nullable=True),
    sa.Column("max_active_runs", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("catchup", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("idx_job_definitions_is_active", "is_active"),
    # List pages go by name; job_id makes the order total, so pages never overlap.
    sa.Index("idx_job_definitions_job_name", "job_name", "job_id"),
)

task_definitions = sa.Table(
    "task_definitions",
    metadata,
    _id_column("task_id"),
    sa.Column(
        "job_id",
        sa.Uuid(),
        sa.ForeignKey("job_definitions.job_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("task_order", sa.Integer(), nullable=False),
    sa.Column("extractor_config", JsonDocument, nullable=False),
    sa.Column("loader_config", JsonDocument, nullable=False),
    _created_at(),
    _updated_at(),
    sa.UniqueConstraint("job_id", "task_order", name="task_definitions_job_id_task_order_key"),
    sa.Index("idx_task_definitions_job_id", "job_id"),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    _id_column("run_id"),
    sa.Column(
        "job_id",
        sa.Uuid(),
        sa.ForeignKey("job_definitions.job_id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("status", sa.String(50), nullable=False),
    sa.Column("triggered_by", sa.String(50), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    _created_at(),
    # additions
    sa.Column("scheduled_for", UtcDateTime(), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("worker_id", sa.String(255), nullable=True),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
    sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("not_before", UtcDateTime(), nullable=True),
    sa.Column("config_snapshot", JsonDocument, nullable=True),
    sa.Index("idx_job_runs_status", "status"),
    sa.Index("idx_job_runs_job_id", "job_id"),
    # One run per (job, slot) however many schedulers race: the database decides, not luck.
    sa.Index("uq_job_runs_job_id_scheduled_for", "job_id", "scheduled_for", unique=True),
    # Partial indexes hold only the live runs, so claims and the reaper stay fast however long
    # the history grows (with only idx_job_runs_status a claim scans every finished run).
    sa.Index(
        "idx_job_runs_queued",
        "created_at",
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    ),
    sa.Index(
        "idx_job_runs_running",
        "job_id",
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    ),
    # Runs list newest first (all, one job's, one status's): a page reads one index range, and
    # the page's keys for a deep offset come from an index-only scan.
    sa.Index("idx_job_runs_created_at", "created_at", "run_id"),
    sa.Index("idx_job_runs_job_id_created_at", "job_id", "created_at", "run_id"),
    sa.Index("idx_job_runs_status_created_at", "status", "created_at", "run_id"),
)

users = sa.Table(
    "users",
    metadata,
    _id_column("user_id"),
    sa.Column("username", sa.String(255), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text(), nullable=False),
    _created_at(),
    _updated_at(),
    # additions
    sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("idx_users_username", "username"),
)

task_runs = sa.Table(
    "task_runs",
    metadata,
    _id_column("task_run_id"),
    sa.Column(
        "run_id", sa.Uuid(), sa.ForeignKey("job_runs.run_id", ondelete="CASCADE"), nullable=False
    ),
    # No foreign key: a task may be edited or deleted while its history stays.
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
    sa.Index("idx_task_runs_run_id", "run_id"),
)

run_logs = sa.Table(
    "run_logs",
    metadata,
    sa.Column(
        "log_id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "run_id", sa.Uuid(), sa.ForeignKey("job_runs.run_id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("ts", UtcDateTime(), nullable=False, server_default=sa.func.now()),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Index("idx_run_logs_run_id", "run_id", "log_id"),
)

service_secrets = sa.Table(
    "service_secrets",
    metadata,
    # Values every process of one deployment must share, such as the token signing key.
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    _created_at(),
)

service_instances = sa.Table(
    "service_instances",
    metadata,
    # One row per scheduler or worker process: its liveness for /metrics and the dashboard.
    sa.Column("instance_id", sa.String(255), primary_key=True),
    sa.Column("role", sa.String(50), nullable=False),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
    sa.Column("stopped_at", UtcDateTime(), nullable=True),
    sa.Index("idx_service_instances_role", "role", "heartbeat_at"),
)
