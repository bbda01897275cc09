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
from orcrustator.db.repo._upsert import insert_for
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
    first_task_run_id: uuid.UUID | None = None

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


def _param(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


# Statements built once: SQLAlchemy then reuses their compiled form, and each runs as one
# executemany (a pipeline on PostgreSQL) however many runs a batch holds.
_CLAIM_RUN = (
    sa.update(job_runs)
    .where(job_runs.c.run_id == _param("b_run_id", job_runs.c.run_id))
    .values(
        status="running",
        started_at=_param("b_now", job_runs.c.started_at),
        finished_at=None,
        heartbeat_at=_param("b_now", job_runs.c.heartbeat_at),
        worker_id=_param("b_worker_id", job_runs.c.worker_id),
        config_snapshot=_param("b_snapshot", job_runs.c.config_snapshot),
    )
)
_TASK_RESULT = (
    sa.update(task_runs)
    .where(
        task_runs.c.task_run_id == _param("b_task_run_id", task_runs.c.task_run_id),
        # The reaper may have failed it meanwhile ("worker lost"): that verdict stands.
        task_runs.c.status == "running",
    )
    .values(
        status=_param("b_status", task_runs.c.status),
        finished_at=_param("b_finished_at", task_runs.c.finished_at),
        rows_extracted=_param("b_rows_extracted", task_runs.c.rows_extracted),
        rows_loaded=_param("b_rows_loaded", task_runs.c.rows_loaded),
        bytes_loaded=_param("b_bytes_loaded", task_runs.c.bytes_loaded),
        error_message=_param("b_error_message", task_runs.c.error_message),
    )
)
_TASK_PROGRESS = (
    sa.update(task_runs)
    .where(
        task_runs.c.task_run_id == _param("b_task_run_id", task_runs.c.task_run_id),
        task_runs.c.status == "running",
    )
    .values(
        rows_extracted=_param("b_rows_extracted", task_runs.c.rows_extracted),
        rows_loaded=_param("b_rows_loaded", task_runs.c.rows_loaded),
        bytes_loaded=_param("b_bytes_loaded", task_runs.c.bytes_loaded),
    )
)
_OWNED = sa.and_(
    job_runs.c.run_id == _param("b_run_id", job_runs.c.run_id),
    job_runs.c.attempt == _param("b_attempt", job_runs.c.attempt),
    job_runs.c.worker_id == _param("b_worker_id", job_runs.c.worker_id),
    job_runs.c.status == "running",
)
_FINISH = (
    sa.update(job_runs)
    .where(_OWNED)
    .values(
        status=_param("b_status", job_runs.c.status),
        finished_at=_param("b_finished_at", job_runs.c.finished_at),
        error_message=_param("b_error_message", job_runs.c.error_message),
    )
)
_RETRY = (
    sa.update(job_runs)
    .where(_OWNED)
    .values(
        status="queued",
        attempt=_param("b_next_attempt", job_runs.c.attempt),
        not_before=_param("b_not_before", job_runs.c.not_before),
        worker_id=None,
        heartbeat_at=None,
        error_message=_param("b_error_message", job_runs.c.error_message),
    )
)


def _task_run_row(
    run: ClaimedRun, task: ClaimedTask, task_run_id: uuid.UUID, now: datetime
) -> Record:
    return {
        "task_run_id": task_run_id,
        "run_id": run.run_id,
        "task_id": task.task_id,
        "task_order": task.task_order,
        "attempt": run.attempt,
        "status": "running",
        "started_at": now,
    }


async def claim(
    conn: AsyncConnection, *, worker_id: str, limit: int, now: datetime
) -> list[ClaimedRun]:
    """Take up to `limit` claimable runs, honouring each job's `max_active_runs`.

    Each claimed run's first task run is recorded (`running`) in the same transaction; its id
    is the run's `first_task_run_id`.
    """
    # Only the partial index of queued runs can answer this (no join, no per-row subquery),
    # so the plan stays right however stale the statistics are after a burst of inserts.
    # A few extra candidates are locked so that runs held back by their job's
    # max_active_runs (checked exactly below, under the job lock) do not starve the others.
    candidates = (
        await conn.execute(
            sa.select(
                job_runs.c.run_id, job_runs.c.job_id, job_runs.c.attempt, job_runs.c.scheduled_for
            )
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
    # Lock the jobs too, so that two claimers never both start "the one allowed run" of a job.
    # A claimer waits here (in job order, so never in a cycle) for another's short claim to
    # commit rather than skipping: skipping left a worker empty-handed whenever another was
    # claiming runs of the same job. NO KEY UPDATE still lets new runs of the job be inserted.
    jobs = {
        row.job_id: row
        for row in (
            await conn.execute(
                sa.select(job_definitions)
                .where(job_definitions.c.job_id.in_(job_ids))
                .order_by(job_definitions.c.job_id)
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE
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
    picked = list(candidates[:0])  # the rows to claim, in queue order
    for row in candidates:
        job = jobs.get(row.job_id)
        if job is None or len(picked) == limit:
            continue
        if running.get(row.job_id, 0) < job.max_active_runs:
            running[row.job_id] = running.get(row.job_id, 0) + 1
            picked.append(row)
    if not picked:
        return []

    tasks_by_job: dict[uuid.UUID, list[ClaimedTask]] = {}
    for t in await conn.execute(
        sa.select(task_definitions)
        .where(task_definitions.c.job_id.in_({row.job_id for row in picked}))
        .order_by(task_definitions.c.job_id, task_definitions.c.task_order)
    ):
        tasks_by_job.setdefault(t.job_id, []).append(
            ClaimedTask(t.task_id, t.task_order, dict(t.extractor_config), dict(t.loader_config))
        )
    snapshots = {job_id: snapshot(tasks) for job_id, tasks in tasks_by_job.items()}
    await conn.execute(
        _CLAIM_RUN,
        [
            {
                "b_run_id": row.run_id,
                "b_now": now,
                "b_worker_id": worker_id,
                "b_snapshot": snapshots.get(row.job_id, []),
            }
            for row in picked
        ],
    )
    claimed: list[ClaimedRun] = []
    first_task_runs: list[Record] = []
    for row in picked:
        job = jobs[row.job_id]
        tasks = tuple(tasks_by_job.get(row.job_id, ()))
        run = ClaimedRun(
            run_id=row.run_id,
            job_id=row.job_id,
            job_name=job.job_name,
            attempt=row.attempt,
            max_retries=job.max_retries,
            retry_delay_seconds=job.retry_delay_seconds,
            timeout_seconds=job.timeout_seconds,
            scheduled_for=row.scheduled_for,
            started_at=now,
            tasks=tasks,
            first_task_run_id=uuid.uuid4() if tasks else None,
        )
        if tasks and run.first_task_run_id is not None:
            first_task_runs.append(_task_run_row(run, tasks[0], run.first_task_run_id, now))
        claimed.append(run)
    if first_task_runs:
        await conn.execute(sa.insert(task_runs), first_task_runs)
    if len(picked) == limit and len(candidates) > limit:
        # Runs this claim locked but had no slot for were invisible to other workers until
        # now: wake them once it commits, or they would find them only at their next poll.
        await notify.publish(conn, notify.RUNS)
    return claimed


async def heartbeat(
    conn: AsyncConnection,
    *,
    worker_id: str,
    runs: Iterable[tuple[uuid.UUID, int]],
    now: datetime,
) -> dict[uuid.UUID, bool]:
    """Extend the leases; returns {run_id: cancel_requested} for the runs still ours."""
    attempts = dict(runs)
    if not attempts:
        return {}
    rows = await conn.execute(
        sa.update(job_runs)
        .where(
            job_runs.c.run_id.in_(list(attempts)),
            job_runs.c.worker_id == worker_id,
            job_runs.c.status == "running",
        )
        .values(heartbeat_at=now)
        .returning(job_runs.c.run_id, job_runs.c.attempt, job_runs.c.cancel_requested)
    )
    return {
        row.run_id: bool(row.cancel_requested)
        for row in rows
        if attempts.get(row.run_id) == row.attempt
    }


@dataclass
class RunWrites:
    """What a worker has to record about its runs, gathered between transactions.

    A worker applies them all in one transaction (with its next claim): a trivial run then
    costs a share of one commit instead of two or three of its own. Order matters and is kept:
    a task run is inserted before its result, a run's logs before its outcome.
    """

    task_starts: list[Record] = field(default_factory=list)
    task_results: list[Record] = field(default_factory=list)
    logs: list[Record] = field(default_factory=list)
    finishes: list[Record] = field(default_factory=list)
    retries: list[Record] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.task_starts or self.task_results or self.logs or self.finishes or self.retries
        )

    def take(self) -> RunWrites:
        """Hand over everything gathered so far, leaving this one empty."""
        taken = RunWrites(
            self.task_starts, self.task_results, self.logs, self.finishes, self.retries
        )
        self.task_starts, self.task_results, self.logs = [], [], []
        self.finishes, self.retries = [], []
        return taken

    def put_back(self, earlier: RunWrites) -> None:
        """Writes whose transaction failed go back in front of those gathered since."""
        self.task_starts[:0] = earlier.task_starts
        self.task_results[:0] = earlier.task_results
        self.logs[:0] = earlier.logs
        self.finishes[:0] = earlier.finishes
        self.retries[:0] = earlier.retries

    def start_task(self, run: ClaimedRun, task: ClaimedTask, now: datetime) -> uuid.UUID:
        task_run_id = uuid.uuid4()
        self.task_starts.append(_task_run_row(run, task, task_run_id, now))
        return task_run_id

    def task_result(
        self,
        task_run_id: uuid.UUID,
        *,
        status: str,
        finished_at: datetime,
        rows_extracted: int,
        rows_loaded: int,
        bytes_loaded: int,
        error_message: str | None,
    ) -> None:
        self.task_results.append(
            {
                "b_task_run_id": task_run_id,
                "b_status": status,
                "b_finished_at": finished_at,
                "b_rows_extracted": rows_extracted,
                "b_rows_loaded": rows_loaded,
                "b_bytes_loaded": bytes_loaded,
                "b_error_message": error_message,
            }
        )

    def log(self, run_id: uuid.UUID, lines: Iterable[tuple[datetime, str, str]]) -> None:
        self.logs.extend(
            {"run_id": run_id, "ts": ts, "level": level, "message": message}
            for ts, level, message in lines
        )

    def finish(
        self,
        run: ClaimedRun,
        *,
        worker_id: str,
        status: str,
        error_message: str | None,
        now: datetime,
    ) -> None:
        self.finishes.append(
            {
                "b_run_id": run.run_id,
                "b_attempt": run.attempt,
                "b_worker_id": worker_id,
                "b_status": status,
                "b_finished_at": now,
                "b_error_message": error_message,
            }
        )

    def retry(self, run: ClaimedRun, *, worker_id: str, error_message: str, now: datetime) -> None:
        """The next attempt, queued after the backoff."""
        self.retries.append(
            {
                "b_run_id": run.run_id,
                "b_attempt": run.attempt,
                "b_worker_id": worker_id,
                "b_next_attempt": run.attempt + 1,
                "b_not_before": now + run.backoff(),
                "b_error_message": error_message,
            }
        )

    def run_ids(self) -> set[uuid.UUID]:
        ids = {row["run_id"] for row in self.task_starts}
        ids.update(row["run_id"] for row in self.logs)
        ids.update(row["b_run_id"] for row in self.finishes)
        ids.update(row["b_run_id"] for row in self.retries)
        return ids


async def apply(conn: AsyncConnection, writes: RunWrites) -> None:
    """Apply gathered writes; safe to apply again after a failed or unacknowledged commit."""
    if not writes:
        return
    # A run deleted meanwhile (its job was deleted) takes its rows with it: lock the runs
    # that still exist against deletion (what the foreign-key check would do) and drop the
    # rest, so that one deleted run cannot fail every other run's writes in the batch.
    referenced = writes.run_ids()
    gone: set[uuid.UUID] = set()
    if referenced:
        present = set(
            (
                await conn.execute(
                    sa.select(job_runs.c.run_id)
                    .where(job_runs.c.run_id.in_(list(referenced)))
                    .with_for_update(read=True, key_share=True)  # FOR KEY SHARE
                )
            ).scalars()
        )
        gone = referenced - present
    starts = [row for row in writes.task_starts if row["run_id"] not in gone]
    if starts:
        # The same ids again when a commit went through but its acknowledgement was lost.
        await conn.execute(
            insert_for(conn, task_runs).on_conflict_do_nothing(index_elements=["task_run_id"]),
            starts,
        )
    if writes.task_results:
        await conn.execute(_TASK_RESULT, writes.task_results)
    logs = [row for row in writes.logs if row["run_id"] not in gone]
    if logs:
        await conn.execute(sa.insert(run_logs), logs)
    if writes.finishes:
        await conn.execute(_FINISH, writes.finishes)
    if writes.retries:
        await conn.execute(_RETRY, writes.retries)
        await notify.publish(conn, notify.RUNS)


async def record_progress(conn: AsyncConnection, progress: Sequence[Record]) -> None:
    """Counters of running tasks: {task_run_id, rows_extracted, rows_loaded, bytes_loaded}."""
    if progress:
        await conn.execute(
            _TASK_PROGRESS,
            [
                {
                    "b_task_run_id": p["task_run_id"],
                    "b_rows_extracted": p["rows_extracted"],
                    "b_rows_loaded": p["rows_loaded"],
                    "b_bytes_loaded": p["bytes_loaded"],
                }
                for p in progress
            ],
        )


def _owned(run_id: uuid.UUID, attempt: int, worker_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        job_runs.c.run_id == run_id,
        job_runs.c.attempt == attempt,
        job_runs.c.worker_id == worker_id,
        job_runs.c.status == "running",
    )


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
