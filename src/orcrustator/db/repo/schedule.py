"""What the scheduler reads and writes: active jobs with their last slot, and new slot runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db import notify
from orcrustator.db.repo._upsert import insert_for
from orcrustator.db.tables import job_definitions, job_runs


@dataclass(frozen=True)
class ScheduledJob:
    job_id: uuid.UUID
    job_name: str
    schedule: str
    timezone: str
    catchup: bool
    created_at: datetime
    last_slot: datetime | None


async def active_jobs(conn: AsyncConnection) -> list[ScheduledJob]:
    # One index probe per job on (job_id, scheduled_for): fast however long the history is.
    last_slot = (
        sa.select(sa.func.max(job_runs.c.scheduled_for))
        .where(job_runs.c.job_id == job_definitions.c.job_id)
        .scalar_subquery()
    )
    rows = await conn.execute(
        sa.select(
            job_definitions.c.job_id,
            job_definitions.c.job_name,
            job_definitions.c.schedule,
            job_definitions.c.timezone,
            job_definitions.c.catchup,
            job_definitions.c.created_at,
            last_slot.label("last_slot"),
        ).where(job_definitions.c.is_active.is_(True))
    )
    return [ScheduledJob(**row._mapping) for row in rows]


async def enqueue_slots(
    conn: AsyncConnection, slots: Sequence[tuple[uuid.UUID, datetime]], *, now: datetime
) -> int:
    """Insert one queued run per (job, slot); a slot another scheduler took is skipped."""
    if not slots:
        return 0
    statement = (
        insert_for(conn, job_runs)
        .values(
            [
                {
                    "run_id": uuid.uuid4(),
                    "job_id": job_id,
                    "status": "queued",
                    "triggered_by": "scheduled",
                    "scheduled_for": slot,
                    "created_at": now,
                }
                for job_id, slot in slots
            ]
        )
        .on_conflict_do_nothing(index_elements=["job_id", "scheduled_for"])
        .returning(job_runs.c.run_id)
    )
    inserted = len((await conn.execute(statement)).all())
    if inserted:
        await notify.publish(conn, notify.RUNS)
    return inserted
