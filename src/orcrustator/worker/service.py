"""The worker: claims runs, executes their tasks in order on the executor pool, heart-beats
them from this (supervising) process, records task runs, logs and the outcome.

Task code never runs here: a busy or hung plugin cannot delay a heartbeat, and a timeout or a
cancel that the plugin ignores ends with its executor process killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from orcrustator import metrics
from orcrustator.db import notify
from orcrustator.db.engine import Database
from orcrustator.db.repo import dispatch, instances
from orcrustator.db.repo.dispatch import ClaimedRun, ClaimedTask
from orcrustator.settings import Settings
from orcrustator.worker.executor import ExecutorPool, TaskOutcome, TaskSpec

log = structlog.get_logger("orcrustator.worker")

CONTENDED_RETRY_SECONDS = 0.02


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _InFlight:
    """What the supervisor knows about one run it is executing."""

    run: ClaimedRun
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    lost: bool = False
    logs: list[tuple[datetime, str, str]] = field(default_factory=list)
    task_run_id: uuid.UUID | None = None
    progress: tuple[int, int, int] | None = None
    progress_saved: tuple[int, int, int] | None = None
    rows_loaded: int = 0
    pending_task_update: dict[str, Any] | None = None
    task_order: int = 0
    progress_logged_at: float = 0.0


class Worker:
    def __init__(self, db: Database, settings: Settings, *, concurrency: int) -> None:
        self.db = db
        self.settings = settings
        self.concurrency = concurrency
        self.instance_id = instances.new_instance_id("worker")
        self.pool = ExecutorPool(concurrency)
        self._inflight: dict[uuid.UUID, _InFlight] = {}
        self._slot_freed = asyncio.Event()
        self._last_claim_at = float("-inf")

    # --- main loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claim and execute until `stop` is set, then drain."""
        self.db.listen()
        await self.pool.start()
        heart = asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat")
        tasks: set[asyncio.Task[None]] = set()
        log.info("worker started", instance_id=self.instance_id, concurrency=self.concurrency)
        try:
            while not stop.is_set():
                self._slot_freed.clear()  # before counting, so no finish between is missed
                free = self.concurrency - len(self._inflight)
                claimed: list[ClaimedRun] = []
                if free > 0:
                    try:
                        async with self.db.write() as conn:
                            claimed = await dispatch.claim(
                                conn, worker_id=self.instance_id, limit=free, now=_utcnow()
                            )
                    except Exception as exc:  # database restarting: back off and retry
                        log.error("claim failed; retrying", error=str(exc))
                        await _wait_any(stop.wait(), timeout=self.settings.poll_seconds)
                        continue
                for run in claimed:
                    if run.scheduled_for is not None and run.attempt == 1:
                        delay = (run.started_at - run.scheduled_for).total_seconds()
                        metrics.START_DELAY.observe(max(0.0, delay))
                    state = _InFlight(run)
                    self._inflight[run.run_id] = state
                    task = asyncio.create_task(self._execute(state), name=f"run-{run.run_id}")
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                loop = asyncio.get_running_loop()
                if claimed:
                    self._last_claim_at = loop.time()
                    if len(claimed) == free:
                        continue  # maybe more is waiting; claim again right away
                # While runs are flowing, an empty claim usually means another worker held the
                # job's lock for a moment: look again soon instead of waiting for the poll.
                busy = free > len(claimed) and loop.time() - self._last_claim_at < 1.0
                timeout = CONTENDED_RETRY_SECONDS if busy else self.settings.poll_seconds
                await _wait_any(
                    stop.wait(),
                    self.db.events.wait(notify.RUNS, timeout),
                    self._slot_freed.wait(),
                    timeout=timeout,
                )
        finally:
            await self._drain(tasks)
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
            await self.pool.close()
            with contextlib.suppress(Exception):
                async with self.db.write() as conn:
                    await instances.stopped(conn, instance_id=self.instance_id, now=_utcnow())
            log.info("worker stopped", instance_id=self.instance_id)

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Let in-flight runs finish within drain_seconds; requeue the rest."""
        if not tasks:
            return
        log.info("draining", runs=len(tasks), seconds=self.settings.drain_seconds)
        _, pending = await asyncio.wait(tasks, timeout=self.settings.drain_seconds or None)
        if not pending:
            return
        leftover = list(self._inflight.values())
        for state in leftover:
            state.lost = True  # stop recording: the run goes back to the queue as it was
            state.cancel.set()
        await asyncio.wait(pending, timeout=10)
        async with self.db.write() as conn:
            for state in leftover:
                if await dispatch.requeue(
                    conn, state.run, worker_id=self.instance_id, now=_utcnow()
                ):
                    log.info("run requeued on shutdown", run_id=str(state.run.run_id))

    # --- one run -------------------------------------------------------------------------
    async def _execute(self, state: _InFlight) -> None:
        run = state.run
        bound = log.bind(run_id=str(run.run_id), job_id=str(run.job_id), attempt=run.attempt)
        bound.info("run started", job_name=run.job_name, tasks=len(run.tasks))
        state.logs.append(
            (_utcnow(), "INFO", f"attempt {run.attempt} started on {self.instance_id}")
        )
        deadline = (
            None
            if run.timeout_seconds is None
            else asyncio.get_running_loop().time() + run.timeout_seconds
        )
        status, error = "success", None
        try:
            if not run.tasks:
                state.logs.append((_utcnow(), "WARNING", "the job has no tasks"))
            for task in run.tasks:
                outcome = await self._execute_task(state, task, deadline)
                if state.lost:
                    return
                if outcome.status != "success":
                    status = "cancelled" if outcome.status == "cancelled" else "failed"
                    error = outcome.error_message or outcome.status
                    break
        except Exception as exc:  # a bug or a database failure while recording
            bound.error("run crashed", error=str(exc))
            status, error = "failed", f"internal error: {exc}"
        finally:
            self._inflight.pop(run.run_id, None)
            self._slot_freed.set()
        await self._record_outcome(state, status, error)
        bound.info("run finished", status=status, error=error)

    async def _execute_task(
        self, state: _InFlight, task: ClaimedTask, deadline: float | None
    ) -> TaskOutcome:
        run = state.run
        now = _utcnow()
        async with self.db.write() as conn:
            await self._flush_task_update(conn, state)  # the previous task's outcome
            state.task_run_id = await dispatch.start_task(conn, run, task, now)
        state.progress = state.progress_saved = None
        state.task_order = task.task_order
        state.progress_logged_at = asyncio.get_running_loop().time()
        timeout = None
        if deadline is not None:
            timeout = max(0.0, deadline - asyncio.get_running_loop().time())
        extractor = task.extractor_config.get("type", "?")
        loader = task.loader_config.get("type", "?")
        state.logs.append((now, "INFO", f"task {task.task_order} ({extractor} → {loader}) started"))
        spec = TaskSpec(
            run_id=str(run.run_id),
            job_id=str(run.job_id),
            task_id=str(task.task_id),
            task_order=task.task_order,
            extractor_config=task.extractor_config,
            loader_config=task.loader_config,
            data_dir=str(self.settings.data_dir),
        )
        outcome = await self.pool.run_task(
            spec,
            on_event=lambda event: self._on_event(state, event),
            timeout=timeout,
            cancel=state.cancel,
        )
        if outcome.status == "timeout":
            outcome.error_message = (
                f"task {task.task_order} ({extractor} → {loader}): timed out "
                f"(job timeout_seconds={run.timeout_seconds})"
            )
        state.rows_loaded += outcome.rows_loaded
        level = "INFO" if outcome.status == "success" else "ERROR"
        summary = (
            f"task {task.task_order} {outcome.status}: {outcome.rows_extracted} rows extracted, "
            f"{outcome.rows_loaded} loaded"
        )
        if outcome.error_message:
            summary += f"; {outcome.error_message}"
        state.logs.append((_utcnow(), level, summary))
        if state.lost:
            return outcome
        # Written with the next transaction (the next task's start, or the run's outcome):
        # one commit fewer per task.
        state.progress = None
        state.pending_task_update = {
            "status": "failed" if outcome.status == "timeout" else outcome.status,
            "finished_at": outcome.finished_at,
            "rows_extracted": outcome.rows_extracted,
            "rows_loaded": outcome.rows_loaded,
            "bytes_loaded": outcome.bytes_loaded,
            "error_message": outcome.error_message,
        }
        return outcome

    @staticmethod
    async def _flush_task_update(conn: AsyncConnection, state: _InFlight) -> None:
        if state.pending_task_update is not None and state.task_run_id is not None:
            await dispatch.update_task(conn, state.task_run_id, **state.pending_task_update)
            state.pending_task_update = None

    def _on_event(self, state: _InFlight, event: object) -> None:
        kind = getattr(event, "kind", None)
        if kind == "log":
            state.logs.append(
                (
                    _utcnow(),
                    str(getattr(event, "level", "INFO")),
                    str(getattr(event, "message", "")),
                )
            )
        elif kind == "progress":
            state.progress = (
                int(getattr(event, "rows_extracted", 0)),
                int(getattr(event, "rows_loaded", 0)),
                int(getattr(event, "bytes_loaded", 0)),
            )

    async def _record_outcome(self, state: _InFlight, status: str, error: str | None) -> None:
        run = state.run
        if state.lost:
            return
        now = _utcnow()
        retrying = status == "failed" and run.retries_left
        metrics.RUNS_FINISHED.labels(run.job_name, "retrying" if retrying else status).inc()
        metrics.RUN_DURATION.labels(run.job_name).observe((now - run.started_at).total_seconds())
        if state.rows_loaded:
            metrics.ROWS_LOADED.labels(run.job_name).inc(state.rows_loaded)
        async with self.db.write() as conn:
            await self._flush_task_update(conn, state)
            await dispatch.append_logs(conn, run.run_id, state.logs)
            state.logs.clear()
            if retrying:
                delay = run.backoff().total_seconds()
                await dispatch.append_logs(
                    conn, run.run_id, [(now, "WARNING", f"retrying in {delay:g} s")]
                )
                await dispatch.retry(
                    conn, run, worker_id=self.instance_id, error_message=error or "", now=now
                )
            else:
                await dispatch.finish(
                    conn,
                    run,
                    worker_id=self.instance_id,
                    status=status,
                    error_message=error,
                    now=now,
                )

    # --- heartbeat -----------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self._heartbeat()
            except Exception as exc:  # keep beating; the lease is long enough for a blip
                log.warning("heartbeat failed", error=str(exc))
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def _heartbeat(self) -> None:
        now = _utcnow()
        states = list(self._inflight.values())
        async with self.db.write() as conn:
            await instances.beat(conn, instance_id=self.instance_id, role="worker", now=now)
            owned = await dispatch.heartbeat(
                conn,
                worker_id=self.instance_id,
                runs=[(s.run.run_id, s.run.attempt) for s in states],
                now=now,
            )
            for state in states:
                if state.run.run_id not in owned:
                    if state.run.run_id in self._inflight and not state.lost:
                        log.warning("lost the lease; abandoning run", run_id=str(state.run.run_id))
                        state.lost = True
                        state.cancel.set()
                    continue
                if owned[state.run.run_id] and not state.cancel.is_set():
                    state.logs.append((now, "WARNING", "cancel requested; stopping"))
                    state.cancel.set()
                if state.logs:
                    await dispatch.append_logs(conn, state.run.run_id, state.logs)
                    state.logs.clear()
                if state.task_run_id and state.progress and state.progress != state.progress_saved:
                    extracted, loaded, nbytes = state.progress
                    clock = asyncio.get_running_loop().time()
                    if clock - state.progress_logged_at >= self.settings.progress_log_seconds:
                        state.progress_logged_at = clock
                        await dispatch.append_logs(
                            conn,
                            state.run.run_id,
                            [
                                (
                                    now,
                                    "INFO",
                                    f"task {state.task_order}: {extracted:,} rows "
                                    f"extracted, {loaded:,} loaded, {nbytes:,} bytes",
                                )
                            ],
                        )
                    await dispatch.update_task(
                        conn,
                        state.task_run_id,
                        rows_extracted=extracted,
                        rows_loaded=loaded,
                        bytes_loaded=nbytes,
                    )
                    state.progress_saved = state.progress
            await dispatch.reap(conn, lease_seconds=self.settings.lease_seconds, now=now)


async def _wait_any(*awaitables: Coroutine[Any, Any, object] | None, timeout: float) -> None:
    """Return when the first of the awaitables completes, or after `timeout`."""
    tasks = [asyncio.ensure_future(a) for a in awaitables if a is not None]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
