"""Partial indexes for claiming and reaping runs; process liveness table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from orcrustator.db.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _partial_index(name: str, column: str, status: str) -> None:
    where = sa.text(f"status = '{status}'")
    op.create_index(name, "job_runs", [column], postgresql_where=where, sqlite_where=where)


def upgrade() -> None:
    _partial_index("idx_job_runs_queued", "created_at", "queued")
    _partial_index("idx_job_runs_running", "job_id", "running")
    op.create_table(
        "service_instances",
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
        sa.Column("stopped_at", UtcDateTime(), nullable=True),
    )
    op.create_index("idx_service_instances_role", "service_instances", ["role", "heartbeat_at"])


def downgrade() -> None:
    op.drop_index("idx_service_instances_role", table_name="service_instances")
    op.drop_table("service_instances")
    op.drop_index("idx_job_runs_running", table_name="job_runs")
    op.drop_index("idx_job_runs_queued", table_name="job_runs")
