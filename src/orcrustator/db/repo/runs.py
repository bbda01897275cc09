"""Job runs as the API sees them: trigger, list, inspect, cancel, read logs.

The engine's hot-path queries (claim, heartbeat, finish) live beside this in their own module.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db import notify
from orcrustator.db.repo._rows import Record, as_record, utcnow
from orcrustator.db.tables import job_definitions, job_runs, run_logs, task_runs
from orcrustator.errors import Conflict, NotFound

RUN_COLUMNS = tuple(c for c in job_runs.c if c.name != "config_snapshot")


async def create_manual(conn: AsyncConnection, job_id: uuid.UUID) -> Record:
    exists = await conn.scalar(
        sa.select(job_definitions.c.job_id).where(job_definitions.c.job_id == job_id)
    )
    if exists is None:
        raise NotFound(f"job {job_id} not found")
    row = (
        await conn.execute(
            sa.insert(job_runs)
            .values(
                run_id=uuid.uuid4(),
                job_id=job_id,
                status="queued",
                triggered_by="manual",
                created_at=utcnow(),
            )
            .returning(*RUN_COLUMNS)
        )
    ).one()
    await notify.publish(conn, notify.RUNS)
    return as_record(row)


def _filtered(query: Any, status: str | None, job_id: uuid.UUID | None) -> Any:
    if status is not None:
        query = query.where(job_runs.c.status == status)
    if job_id is not None:
        query = query.where(job_runs.c.job_id == job_id)
    return query


_NEWEST_FIRST = (job_runs.c.created_at.desc(), job_runs.c.run_id.desc())


async def list_page(
    conn: AsyncConnection,
    *,
    limit: int,
    offset: int,
    status: str | None = None,
    job_id: uuid.UUID | None = None,
) -> list[Record]:
    # The page's keys first, then its rows: the keys come from an index-only scan of one of the
    # (…, created_at, run_id) indexes, so a deep offset skips index entries, not table rows.
    keys = (
        _filtered(sa.select(job_runs.c.run_id), status, job_id)
        .order_by(*_NEWEST_FIRST)
        .limit(limit)
        .offset(offset)
        .subquery("page")
    )
    query = (
        sa.select(*RUN_COLUMNS)
        .select_from(job_runs.join(keys, keys.c.run_id == job_runs.c.run_id))
        .order_by(*_NEWEST_FIRST)
    )
    rows = await conn.execute(query)
    return [as_record(r) for r in rows]


async def count(
    conn: AsyncConnection, *, status: str | None = None, job_id: uuid.UUID | None = None
) -> int:
    query = _filtered(sa.select(sa.func.count()).select_from(job_runs), status, job_id)
    return int(await conn.scalar(query) or 0)


async def get(conn: AsyncConnection, run_id: uuid.UUID) -> Record:
    row = (await conn.execute(sa.select(job_runs).where(job_runs.c.run_id == run_id))).first()
    if row is None:
        raise NotFound(f"run {run_id} not found")
    return as_record(row)


async def task_runs_for(conn: AsyncConnection, run_id: uuid.UUID) -> list[Record]:
    rows = await conn.execute(
        sa.select(task_runs)
        .where(task_runs.c.run_id == run_id)
        .order_by(task_runs.c.attempt, task_runs.c.task_order)
    )
    return [as_record(r) for r in rows]


async def request_cancel(conn: AsyncConnection, run_id: uuid.UUID) -> Record:
    """Queued → cancelled at once; running → flagged for its worker to stop."""
    current = await get(conn, run_id)
    status = current["status"]
    if status == "queued":
        result = await conn.execute(
            sa.update(job_runs)
            .where(job_runs.c.run_id == run_id, job_runs.c.status == "queued")
            .values(
                status="cancelled",
                cancel_requested=True,
                finished_at=utcnow(),
                error_message="cancelled before it started",
            )
        )
        if result.rowcount == 0:  # a worker claimed it meanwhile: ask that worker to stop
            status = "running"
    if status == "running":
        await conn.execute(
            sa.update(job_runs)
            .where(job_runs.c.run_id == run_id, job_runs.c.status == "running")
            .values(cancel_requested=True)
        )
    elif status != "queued":
        raise Conflict(f"run {run_id} has already finished with status '{status}'")
    return await get(conn, run_id)


async def logs_for(
    conn: AsyncConnection, run_id: uuid.UUID, *, after_id: int = 0, limit: int = 1000
) -> list[Record]:
    await get(conn, run_id)
    rows = await conn.execute(
        sa.select(run_logs.c.log_id, run_logs.c.ts, run_logs.c.level, run_logs.c.message)
        .where(run_logs.c.run_id == run_id, run_logs.c.log_id > after_id)
        .order_by(run_logs.c.log_id)
        .limit(limit)
    )
    return [as_record(r) for r in rows]
