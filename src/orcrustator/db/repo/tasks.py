"""Task definitions: the ordered extractor → loader steps of a job."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.repo._fast_reads import fetch_records
from orcrustator.db.repo._rows import Record, as_record, utcnow
from orcrustator.db.tables import task_definitions
from orcrustator.errors import Conflict, NotFound


def _duplicate_order(job_id: uuid.UUID, task_order: object) -> Conflict:
    return Conflict(
        f"job {job_id} already has a task with task_order {task_order}", field="task_order"
    )


async def _ensure_order_free(
    conn: AsyncConnection, job_id: uuid.UUID, task_order: int, *, except_task: uuid.UUID | None
) -> None:
    query = sa.select(task_definitions.c.task_id).where(
        task_definitions.c.job_id == job_id, task_definitions.c.task_order == task_order
    )
    if except_task is not None:
        query = query.where(task_definitions.c.task_id != except_task)
    if (await conn.execute(query)).first() is not None:
        raise _duplicate_order(job_id, task_order)


async def create(conn: AsyncConnection, job_id: uuid.UUID, values: Mapping[str, Any]) -> Record:
    await _ensure_order_free(conn, job_id, int(values["task_order"]), except_task=None)
    now = utcnow()
    try:
        row = (
            await conn.execute(
                sa.insert(task_definitions)
                .values(
                    task_id=uuid.uuid4(), job_id=job_id, created_at=now, updated_at=now, **values
                )
                .returning(*task_definitions.c)
            )
        ).one()
    except IntegrityError as exc:  # a concurrent insert won the race for this task_order
        raise _duplicate_order(job_id, values.get("task_order")) from exc
    return as_record(row)


_FOR_JOB = (
    sa.select(task_definitions)
    .where(task_definitions.c.job_id == sa.bindparam("job_id"))
    .order_by(task_definitions.c.task_order)
)


async def list_for_job(conn: AsyncConnection, job_id: uuid.UUID) -> list[Record]:
    return await fetch_records(conn, _FOR_JOB, {"job_id": job_id})


async def get(conn: AsyncConnection, job_id: uuid.UUID, task_id: uuid.UUID) -> Record:
    row = (
        await conn.execute(
            sa.select(task_definitions).where(
                task_definitions.c.job_id == job_id, task_definitions.c.task_id == task_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(f"task {task_id} not found in job {job_id}")
    return as_record(row)


async def update(
    conn: AsyncConnection, job_id: uuid.UUID, task_id: uuid.UUID, changes: Mapping[str, Any]
) -> Record:
    if "task_order" in changes:
        await _ensure_order_free(conn, job_id, int(changes["task_order"]), except_task=task_id)
    try:
        row = (
            await conn.execute(
                sa.update(task_definitions)
                .where(task_definitions.c.job_id == job_id, task_definitions.c.task_id == task_id)
                .values(**changes, updated_at=utcnow())
                .returning(*task_definitions.c)
            )
        ).first()
    except IntegrityError as exc:
        raise _duplicate_order(job_id, changes.get("task_order")) from exc
    if row is None:
        raise NotFound(f"task {task_id} not found in job {job_id}")
    return as_record(row)


async def delete(conn: AsyncConnection, job_id: uuid.UUID, task_id: uuid.UUID) -> None:
    result = await conn.execute(
        sa.delete(task_definitions).where(
            task_definitions.c.job_id == job_id, task_definitions.c.task_id == task_id
        )
    )
    if result.rowcount == 0:
        raise NotFound(f"task {task_id} not found in job {job_id}")
