"""The engine's hot path: claim runs, heart-beat them, record task runs, finish, retry, reap.

Every write that a worker makes about a run is fenced by `(run_id, attempt, worker_id,
status = 'running')`: once the reaper has given a run to a new attempt, a late write from the
lost worker matches no row and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator.db import notify
from orcrustator.db.repo._rows import Record
from orcrustator.db.tables import job_definitions, job_runs, run_logs, task_definitions, task_runs

MAX_BACKOFF = timedelta(hours=24)


@dataclass(frozen=True)
class ClaimedTask:
    task_id: uuid.UUID
    task_order: int
    extractor_config: dict[str, Any]
    loader_config: dict[str, Any]


@dataclass(frozen=True)
class ClaimedRun:
    run_id: uuid.UUID
    job_id: uuid.UUID
    job_name: str
    attempt: int
    max_retries: int
    retry_delay_seconds: int
    timeout_seconds: int | None
    scheduled_for: datetime | None
    started_at: datetime
    tasks: tuple[ClaimedTask, ...] = field(default=())

    @property
    def retries_left(self) -> bool:
        return self.attempt <= self.max_retries

    def backoff(self) -> timedelta:
        """retry_delay × 2^(attempt−1): 1×, 2×, 4×… the configured delay, capped at a day."""
        delay = timedelta(seconds=self.retry_delay_seconds * 2 ** (self.attempt - 1))
        return min(delay, MAX_BACKOFF)


def snapshot(tasks: Sequence[ClaimedTask]) -> list[dict[str, Any]]:
    return [
        {
            "task_id": str(t.task_id),
            "task_order": t.task_order,
            "extractor_config": t.extractor_config,
            "loader_config": t.loader_config,
        }
        for t in tasks
    ]


CANDIDATES_PER_SLOT = 4


async def claim(
    conn: AsyncConnection, *, worker_id: str, limit: int, now: datetime
) -> list[ClaimedRun]:
    """Take up to `limit` claimable runs, honouring each job's `max_active_runs`."""
    # Only the partial index of queued runs can answer this (no join, no per-row subquery),
    # so the plan stays right however stale the statistics are after a burst of inserts.
    # A few extra candidates are locked so that runs held back by their job's
    # max_active_runs (checked exactly below, under the job lock) do not starve the others.
    candidates = (
        await conn.execute(
            sa.select(job_runs.c.run_id, job_runs.c.job_id)
            .where(
                job_runs.c.status == "queued",
                sa.or_(job_runs.c.not_before.is_(None), job_runs.c.not_before <= now),
            )
            .order_by(job_runs.c.created_at)
            .limit(limit * CANDIDATES_PER_SLOT)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not candidates:
        return []
    job_ids = sorted({row.job_id for row in candidates})
    # Lock the jobs too, so that two claimers never both start "the one allowed run" of a job;
    # NO KEY UPDATE still lets new runs referencing the job be inserted meanwhile.
    jobs = {
        row.job_id: row
        for row in (
            await conn.execute(
                sa.select(job_definitions)
                .where(job_definitions.c.job_id.in_(job_ids))
                .with_for_update(skip_locked=True, key_share=True)  # FOR NO KEY UPDATE
            )
        ).all()
    }
    # A fresh statement sees claims committed since the first one: the exact count.
    running: dict[uuid.UUID, int] = {
        row[0]: int(row[1])
        for row in await conn.execute(
            sa.select(job_runs.c.job_id, sa.func.count())
            .where(job_runs.c.job_id.in_(list(jobs)), job_runs.c.status == "running")
            .group_by(job_runs.c.job_id)
        )
    }
    picked: list[tuple[uuid.UUID, uuid.UUID]] = []
    for row in candidates:
        job = jobs.get(row.job_id)
        if job is None or len(picked) == limit:
            continue
        if running.get(row.job_id, 0) < job.max_active_runs:
            running[row.job_id] = running.get(row.job_id, 0) + 1
            picked.append((row.run_id, row.job_id))
    if not picked:
        return []

    task_rows = (
        await conn.execute(
            sa.select(task_definitions)
            .where(task_definitions.c.job_id.in_({job_id for _, job_id in picked}))
            .order_by(task_definitions.c.job_id, task_definitions.c.task_order)
        )
    ).all()
    tasks_by_job: dict[uuid.UUID, list[ClaimedTask]] = {}
    for t in task_rows:
        tasks_by_job.setdefault(t.job_id, []).append(
            ClaimedTask(t.task_id, t.task_order, dict(t.extractor_config), dict(t.loader_config))
        )

    claimed: list[ClaimedRun] = []
    for job_id in {job_id for _, job_id in picked}:
        run_ids = [run_id for run_id, j in picked if j == job_id]
        tasks = tuple(tasks_by_job.get(job_id, []))
        rows = (
            await conn.execute(
                sa.update(job_runs)
                .where(job_runs.c.run_id.in_(run_ids), job_runs.c.status == "queued")
                .values(
                    status="running",
                    started_at=now,
                    finished_at=None,
                    heartbeat_at=now,
                    worker_id=worker_id,
                    config_snapshot=snapshot(tasks),
                )
                .returning(job_runs.c.run_id, job_runs.c.attempt, job_runs.c.scheduled_for)
            )
        ).all()
        job = jobs[job_id]
        claimed.extend(
            ClaimedRun(
                run_id=r.run_id,
                job_id=job_id,
                job_name=job.job_name,
                attempt=r.attempt,
                max_retries=job.max_retries,
                retry_delay_seconds=job.retry_delay_seconds,
                timeout_seconds=job.timeout_seconds,
                scheduled_for=r.scheduled_for,
                started_at=now,
                tasks=tasks,
            )
            for r in rows
        )
    return claimed


def _owned(run_id: uuid.UUID, attempt: int, worker_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        job_runs.c.run_id == run_id,
        job_runs.c.attempt == attempt,
        job_runs.c.worker_id == worker_id,
        job_runs.c.status == "running",
    )


async def heartbeat(
    conn: AsyncConnection,
    *,
    worker_id: str,
    runs: Iterable[tuple[uuid.UUID, int]],
    now: datetime,
) -> dict[uuid.UUID, bool]:
    """Extend the leases; returns {run_id: cancel_requested} for the runs still ours."""
    owned: dict[uuid.UUID, bool] = {}
    for run_id, attempt in runs:
        row = (
            await conn.execute(
                sa.update(job_runs)
                .where(_owned(run_id, attempt, worker_id))
                .values(heartbeat_at=now)
                .returning(job_runs.c.cancel_requested)
            )
        ).first()
        if row is not None:
            owned[run_id] = bool(row.cancel_requested)
    return owned


async def start_task(
    conn: AsyncConnection, run: ClaimedRun, task: ClaimedTask, now: datetime
) -> uuid.UUID:
    task_run_id = uuid.uuid4()
    await conn.execute(
        sa.insert(task_runs).values(
            task_run_id=task_run_id,
            run_id=run.run_id,
            task_id=task.task_id,
            task_order=task.task_order,
            attempt=run.attempt,
            status="running",
            started_at=now,
        )
    )
    return task_run_id


async def update_task(conn: AsyncConnection, task_run_id: uuid.UUID, **values: Any) -> None:
    await conn.execute(
        sa.update(task_runs).where(task_runs.c.task_run_id == task_run_id).values(**values)
    )


async def append_logs(
    conn: AsyncConnection, run_id: uuid.UUID, lines: Sequence[tuple[datetime, str, str]]
) -> None:
    if lines:
        await conn.execute(
            sa.insert(run_logs),
            [
                {"run_id": run_id, "ts": ts, "level": level, "message": msg}
                for ts, level, msg in lines
            ],
        )


async def finish(
    conn: AsyncConnection,
    run: ClaimedRun,
    *,
    worker_id: str,
    status: str,
    error_message: str | None,
    now: datetime,
) -> bool:
    """Record the final status; False when the run is no longer ours (fenced)."""
    result = await conn.execute(
        sa.update(job_runs)
        .where(_owned(run.run_id, run.attempt, worker_id))
        .values(status=status, finished_at=now, error_message=error_message)
    )
    return result.rowcount == 1


async def retry(
    conn: AsyncConnection, run: ClaimedRun, *, worker_id: str, error_message: str, now: datetime
) -> bool:
    """Queue the next attempt after the backoff; False when the run is no longer ours."""
    result = await conn.execute(
        sa.update(job_runs)
        .where(_owned(run.run_id, run.attempt, worker_id))
        .values(
            status="queued",
            attempt=run.attempt + 1,
            not_before=now + run.backoff(),
            worker_id=None,
            heartbeat_at=None,
            error_message=error_message,
        )
    )
    if result.rowcount == 1:
        await notify.publish(conn, notify.RUNS)
    return result.rowcount == 1


async def requeue(conn: AsyncConnection, run: ClaimedRun, *, worker_id: str, now: datetime) -> bool:
    """Give a run back untouched (a draining worker ran out of time)."""
    result = await conn.execute(
        sa.update(job_runs)
        .where(_owned(run.run_id, run.attempt, worker_id))
        .values(status="queued", worker_id=None, heartbeat_at=None, started_at=None)
    )
    await conn.execute(
        sa.update(task_runs)
        .where(
            task_runs.c.run_id == run.run_id,
            task_runs.c.attempt == run.attempt,
            task_runs.c.status == "running",
        )
        .values(status="cancelled", finished_at=now, error_message="worker stopped; run requeued")
    )
    if result.rowcount == 1:
        await notify.publish(conn, notify.RUNS)
    return result.rowcount == 1


async def reap(conn: AsyncConnection, *, lease_seconds: float, now: datetime) -> list[Record]:
    """Runs whose worker went silent for a whole lease: retry them, or fail them.

    Returns what was done, one record per run: run_id, job_id, attempt, outcome.
    """
    cutoff = now - timedelta(seconds=lease_seconds)
    lost = (
        await conn.execute(
            sa.select(
                job_runs.c.run_id,
                job_runs.c.job_id,
                job_runs.c.attempt,
                job_runs.c.worker_id,
                job_definitions.c.max_retries,
                job_definitions.c.retry_delay_seconds,
            )
            .join(job_definitions, job_definitions.c.job_id == job_runs.c.job_id)
            .where(
                job_runs.c.status == "running",
                sa.or_(job_runs.c.heartbeat_at.is_(None), job_runs.c.heartbeat_at < cutoff),
            )
            .with_for_update(of=job_runs, skip_locked=True)
        )
    ).all()
    done: list[Record] = []
    for row in lost:
        message = f"worker lost: no heartbeat from {row.worker_id} for {lease_seconds:g} s"
        fence = sa.and_(
            job_runs.c.run_id == row.run_id,
            job_runs.c.attempt == row.attempt,
            job_runs.c.status == "running",
        )
        await conn.execute(
            sa.update(task_runs)
            .where(
                task_runs.c.run_id == row.run_id,
                task_runs.c.attempt == row.attempt,
                task_runs.c.status == "running",
            )
            .values(status="failed", finished_at=now, error_message=message)
        )
        if row.attempt <= row.max_retries:
            delay = min(
                timedelta(seconds=row.retry_delay_seconds * 2 ** (row.attempt - 1)), MAX_BACKOFF
            )
            await conn.execute(
                sa.update(job_runs)
                .where(fence)
                .values(
                    status="queued",
                    attempt=row.attempt + 1,
                    not_before=now + delay,
                    worker_id=None,
                    heartbeat_at=None,
                    error_message=f"{message}; retrying",
                )
            )
            outcome = "retried"
        else:
            await conn.execute(
                sa.update(job_runs)
                .where(fence)
                .values(status="failed", finished_at=now, error_message=message)
            )
            outcome = "failed"
        await conn.execute(
            sa.insert(run_logs).values(
                run_id=row.run_id, ts=now, level="ERROR", message=f"{message} ({outcome})"
            )
        )
        done.append(
            {"run_id": row.run_id, "job_id": row.job_id, "attempt": row.attempt, "outcome": outcome}
        )
    if any(d["outcome"] == "retried" for d in done):
        await notify.publish(conn, notify.RUNS)
    return done
