"""Read-only queries the web dashboard needs beyond the API's repositories.

Each answers a whole page in one statement (the latest run of every listed job, run counts by
status) so a page costs a fixed number of queries however many jobs it shows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.repo._rows import Record, as_record
from orcrustator.db.repo.runs import RUN_COLUMNS
from orcrustator.db.tables import job_definitions, job_runs


async def latest_runs(
    conn: AsyncConnection, job_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Record]:
    """The most recently created run of each of these jobs (jobs without runs are absent)."""
    if not job_ids:
        return {}
    ranked = (
        sa.select(
            *RUN_COLUMNS,
            sa.func.row_number()
            .over(
                partition_by=job_runs.c.job_id,
                order_by=(job_runs.c.created_at.desc(), job_runs.c.run_id.desc()),
            )
            .label("position"),
        )
        .where(job_runs.c.job_id.in_(list(job_ids)))
        .subquery()
    )
    columns = [ranked.c[c.name] for c in RUN_COLUMNS]
    rows = await conn.execute(sa.select(*columns).where(ranked.c.position == 1))
    return {row.job_id: as_record(row) for row in rows}


async def status_counts(
    conn: AsyncConnection, *, since: datetime | None = None, job_id: uuid.UUID | None = None
) -> dict[str, int]:
    """How many runs are in each status (created at or after `since`, of one job if given)."""
    query = sa.select(job_runs.c.status, sa.func.count()).group_by(job_runs.c.status)
    if since is not None:
        query = query.where(job_runs.c.created_at >= since)
    if job_id is not None:
        query = query.where(job_runs.c.job_id == job_id)
    return {str(status): int(n) for status, n in await conn.execute(query)}


async def job_names(conn: AsyncConnection, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not job_ids:
        return {}
    rows = await conn.execute(
        sa.select(job_definitions.c.job_id, job_definitions.c.job_name).where(
            job_definitions.c.job_id.in_(list(set(job_ids)))
        )
    )
    return {job_id: str(name) for job_id, name in rows}
