"""The seed's four tables, exactly as the original design documents them.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from orcrustator.db.types import JsonDocument, UtcDateTime, new_uuid

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Uuid(), primary_key=True, server_default=new_uuid())


def _stamp(name: str) -> sa.Column[object]:
    return sa.Column(name, UtcDateTime(), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "job_definitions",
        _id("job_id"),
        sa.Column("job_name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    op.create_table(
        "task_definitions",
        _id("task_id"),
        sa.Column(
            "job_id",
            sa.Uuid(),
            sa.ForeignKey("job_definitions.job_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_order", sa.Integer(), nullable=False),
        sa.Column("extractor_config", JsonDocument, nullable=False),
        sa.Column("loader_config", JsonDocument, nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        sa.UniqueConstraint("job_id", "task_order", name="task_definitions_job_id_task_order_key"),
    )
    op.create_table(
        "job_runs",
        _id("run_id"),
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
        _stamp("created_at"),
    )
    op.create_table(
        "users",
        _id("user_id"),
        sa.Column("username", sa.String(255), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    op.create_index("idx_job_definitions_is_active", "job_definitions", ["is_active"])
    op.create_index("idx_job_runs_status", "job_runs", ["status"])
    op.create_index("idx_job_runs_job_id", "job_runs", ["job_id"])
    op.create_index("idx_task_definitions_job_id", "task_definitions", ["job_id"])
    op.create_index("idx_users_username", "users", ["username"])


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("job_runs")
    op.drop_table("task_definitions")
    op.drop_table("job_definitions")
