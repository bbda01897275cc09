"""Job definitions and, through them, their ordered tasks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db import notify
from orcrustator.db.repo import tasks as tasks_repo
from orcrustator.db.repo._fast_reads import fetch_count, fetch_records
from orcrustator.db.repo._rows import Query, Record, as_record, utcnow
from orcrustator.db.tables import job_definitions
from orcrustator.errors import Conflict, NotFound


async def _ensure_name_free(
    conn: AsyncConnection, job_name: str, *, except_job: uuid.UUID | None = None
) -> None:
    query = sa.select(job_definitions.c.job_id).where(job_definitions.c.job_name == job_name)
    if except_job is not None:
        query = query.where(job_definitions.c.job_id != except_job)
    if (await conn.execute(query.limit(1))).first() is not None:
        raise Conflict(f"a job named '{job_name}' already exists", field="job_name")


async def create(
    conn: AsyncConnection, values: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]]
) -> Record:
    """Insert a job and its tasks in the caller's transaction."""
    await _ensure_name_free(conn, str(values["job_name"]))
    now = utcnow()
    job_id = uuid.uuid4()
    row = (
        await conn.execute(
            sa.insert(job_definitions)
            .values(job_id=job_id, created_at=now, updated_at=now, **values)
            .returning(*job_definitions.c)
        )
    ).one()
    for task in tasks:
        await tasks_repo.create(conn, job_id, task)
    await notify.publish(conn, notify.JOBS)
    return as_record(row)


_GET = sa.select(job_definitions).where(job_definitions.c.job_id == sa.bindparam("job_id"))


async def get(conn: AsyncConnection, job_id: uuid.UUID) -> Record:
    rows = await fetch_records(conn, _GET, {"job_id": job_id})
    if not rows:
        raise NotFound(f"job {job_id} not found")
    return rows[0]


async def get_by_name(conn: AsyncConnection, job_name: str) -> Record | None:
    row = (
        await conn.execute(
            sa.select(job_definitions).where(job_definitions.c.job_name == job_name).limit(1)
        )
    ).first()
    return None if row is None else as_record(row)


def _filtered(query: Query, is_active: bool | None) -> Query:
    if is_active is not None:
        # `=` rather than `IS`: only an equality can use idx_job_definitions_is_active. A
        # literal rather than a parameter, so that a prepared statement's plan knows the value.
        return query.where(job_definitions.c.is_active == is_active)
    return query


_BY_NAME = (job_definitions.c.job_name, job_definitions.c.job_id)


_AFTER_CURSOR = sa.tuple_(*_BY_NAME) > sa.tuple_(
    sa.bindparam("after_job_name", type_=job_definitions.c.job_name.type),
    sa.bindparam("after_job_id", type_=job_definitions.c.job_id.type),
)


# Built once per filter and backend, with bound parameters: building the statement and its
# cache key on every request cost the api more CPU than running it.
@cache
def _page_query(
    is_active: bool | None, *, postgres: bool, by_cursor: bool, skipping: bool
) -> Query:
    if not skipping:
        # From the top or after a cursor: the rows straight from idx_job_definitions_job_name.
        rows = _filtered(sa.select(job_definitions), is_active)
        if by_cursor:
            rows = rows.where(_AFTER_CURSOR)
        return rows.order_by(*_BY_NAME).limit(sa.bindparam("limit", type_=sa.Integer()))
    # Past an offset: the page's keys first (an index-only scan of idx_job_definitions_job_name),
    # then its rows: the skipped jobs are index entries rather than whole rows.
    keys = (
        _filtered(sa.select(job_definitions.c.job_id), is_active)
        .order_by(*_BY_NAME)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
        .offset(sa.bindparam("offset", type_=sa.Integer()))
    )
    if postgres:
        # `job_id = ANY(ARRAY(keys))` rather than a join: PostgreSQL joined the keys by hashing
        # them against a scan of every job (2-3 ms of database CPU per page at 10,000 jobs);
        # an array of keys can only be looked up through the primary key (0.5 ms).
        rows = sa.select(job_definitions).where(
            job_definitions.c.job_id == sa.any_(sa.func.array(keys.scalar_subquery()))
        )
    else:
        page = keys.subquery("page")
        rows = sa.select(job_definitions).select_from(
            job_definitions.join(page, page.c.job_id == job_definitions.c.job_id)
        )
    return rows.order_by(*_BY_NAME)


@cache
def _count_query(is_active: bool | None) -> Query:
    return _filtered(sa.select(sa.func.count()).select_from(job_definitions), is_active)


async def list_page(
    conn: AsyncConnection,
    *,
    limit: int,
    offset: int = 0,
    after: tuple[str, uuid.UUID] | None = None,
    is_active: bool | None = None,
) -> list[Record]:
    """By name: from `offset`, or after the job at `after` (job_name, job_id)."""
    skipping = after is None and offset > 0
    query = _page_query(
        is_active,
        postgres=conn.dialect.name == "postgresql",
        by_cursor=after is not None,
        skipping=skipping,
    )
    params: dict[str, Any] = {"limit": limit}
    if skipping:
        params["offset"] = offset
    elif after is not None:
        params["after_job_name"], params["after_job_id"] = after
    return await fetch_records(conn, query, params)


async def count(conn: AsyncConnection, *, is_active: bool | None = None) -> int:
    return await fetch_count(conn, _count_query(is_active), {})


async def update(conn: AsyncConnection, job_id: uuid.UUID, changes: Mapping[str, Any]) -> Record:
    """Apply only the given fields and bump `updated_at`."""
    if "job_name" in changes:
        await _ensure_name_free(conn, str(changes["job_name"]), except_job=job_id)
    try:
        row = (
            await conn.execute(
                sa.update(job_definitions)
                .where(job_definitions.c.job_id == job_id)
                .values(**changes, updated_at=utcnow())
                .returning(*job_definitions.c)
            )
        ).first()
    except IntegrityError as exc:  # pragma: no cover - guarded by _ensure_name_free
        raise Conflict(str(exc.orig)) from exc
    if row is None:
        raise NotFound(f"job {job_id} not found")
    await notify.publish(conn, notify.JOBS)
    return as_record(row)


async def delete(conn: AsyncConnection, job_id: uuid.UUID) -> None:
    """Delete a job; its tasks and runs go with it (ON DELETE CASCADE)."""
    result = await conn.execute(
        sa.delete(job_definitions).where(job_definitions.c.job_id == job_id)
    )
    if result.rowcount == 0:
        raise NotFound(f"job {job_id} not found")
    await notify.publish(conn, notify.JOBS)
