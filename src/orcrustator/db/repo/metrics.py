"""The database half of /metrics: live runs, queue depth and process liveness."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db.tables import ACTIVE_RUN_STATUSES, job_runs, service_instances
from orcrustator.metrics import DatabaseState


async def snapshot(conn: AsyncConnection, *, now: datetime, lease_seconds: float) -> DatabaseState:
    # Only live statuses: the partial indexes answer these however long the history is.
    runs_by_status = dict.fromkeys(ACTIVE_RUN_STATUSES, 0)
    for status in ACTIVE_RUN_STATUSES:
        runs_by_status[status] = int(
            await conn.scalar(
                sa.select(sa.func.count()).select_from(job_runs).where(job_runs.c.status == status)
            )
            or 0
        )
    queue_depth = int(
        await conn.scalar(
            sa.select(sa.func.count())
            .select_from(job_runs)
            .where(
                job_runs.c.status == "queued",
                sa.or_(job_runs.c.not_before.is_(None), job_runs.c.not_before <= now),
            )
        )
        or 0
    )
    alive_since = now - timedelta(seconds=lease_seconds)
    rows = (
        await conn.execute(
            sa.select(
                service_instances.c.role,
                sa.func.count().filter(service_instances.c.heartbeat_at >= alive_since),
                sa.func.max(service_instances.c.heartbeat_at),
            )
            .where(service_instances.c.stopped_at.is_(None))
            .group_by(service_instances.c.role)
        )
    ).all()
    live = {role: int(count) for role, count, _ in rows}
    last_beat = {role: beat for role, _, beat in rows}
    scheduler_beat = last_beat.get("scheduler")
    if isinstance(scheduler_beat, str):  # SQLite aggregates lose the column type
        scheduler_beat = datetime.fromisoformat(scheduler_beat).replace(tzinfo=now.tzinfo)
    return DatabaseState(
        runs_by_status=runs_by_status,
        queue_depth=queue_depth,
        live_workers=live.get("worker", 0),
        live_schedulers=live.get("scheduler", 0),
        scheduler_heartbeat_age=(
            None if scheduler_beat is None else max(0.0, (now - scheduler_beat).total_seconds())
        ),
    )
