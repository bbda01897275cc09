"""The worker: claims runs, executes their tasks in order on the executor pool, heart-beats
them from this (supervising) process, records task runs, logs and the outcome.

Task code never runs here: a busy or hung plugin cannot delay a heartbeat, and a timeout or a
cancel that the plugin ignores ends with its executor process killed.

One dispatch loop does all of the worker's routine writing: what the runs have to record since
the last transaction (task runs, logs, outcomes) goes in one transaction together with the
next claim. Under load that is a share of one commit per run instead of several, and a run's
slot is refilled in the same transaction that records how its previous run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from orcrustator import metrics
from orcrustator.db import notify
from orcrustator.db.engine import Database
from orcrustator.db.outage import ReapGate, retry_write
from orcrustator.db.repo import dispatch, instances
from orcrustator.db.repo._rows import Record
from orcrustator.db.repo.dispatch import ClaimedRun, ClaimedTask, RunWrites
from orcrustator.plugins import secrets
from orcrustator.settings import Settings
from orcrustator.worker.executor import ExecutorPool, TaskOutcome, TaskSpec

log = structlog.get_logger("orcrustator.worker")

FINAL_FLUSH_SECONDS = 10.0
# When the dispatch loop wakes while most slots are still busy, it waits this long at most for
# a few more runs to finish, so that one transaction records them all and refills their slots
# together. A worker with slots to spare claims at once.
BATCH_LINGER_SECONDS = 0.02


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
        self._writes = RunWrites()
        self._wake = asyncio.Event()  # something to write, or a slot to fill
        self._reap_gate = ReapGate(settings.lease_seconds)

    # --- main loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claim and execute until `stop` is set, then drain."""
        self.db.listen()
        await self.pool.start()
        heart = asyncio.create_task(self._heartbeat_loop(), name="worker-heartbeat")
        tasks: set[asyncio.Task[None]] = set()
        log.info("worker started", instance_id=self.instance_id, concurrency=self.concurrency)
        try:
            await self._dispatch_loop(stop, tasks)
        finally:
            await self._drain(tasks)
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
            await self.pool.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    retry_write(lambda: self._transaction(0), "record the last outcomes"),
                    FINAL_FLUSH_SECONDS,
                )
            with contextlib.suppress(Exception):
                async with self.db.write() as conn:
                    await instances.stopped(conn, instance_id=self.instance_id, now=_utcnow())
            log.info("worker stopped", instance_id=self.instance_id)

    async def _dispatch_loop(
        self, stop: asyncio.Event, tasks: set[asyncio.Task[None]], *, claiming: bool = True
    ) -> None:
        """Write what the runs gathered and, while `claiming`, fill free slots; until `stop`."""
        poll = self.settings.poll_seconds
        while not stop.is_set():
            self._wake.clear()  # before looking, so that nothing signalled meanwhile is missed
            free = self.concurrency - len(self._inflight) if claiming else 0
            try:
                claimed = await self._transaction(free)
            except Exception as exc:  # the database may be restarting: keep the writes, retry
                log.error("dispatch failed; retrying", error=str(exc))
                self._reap_gate.failed()
                await _wait_any(stop.wait(), timeout=poll)
                continue
            for run in claimed:
                self._launch(run, tasks)
            await _wait_any(
                stop.wait(),
                self.db.events.wait(notify.RUNS, poll),
                self._wake.wait(),
                timeout=poll,
            )
            await self._linger(stop)

    async def _linger(self, stop: asyncio.Event) -> None:
        """Give a few more runs the chance to finish before the next transaction."""
        loop = asyncio.get_running_loop()
        until = loop.time() + BATCH_LINGER_SECONDS
        enough = max(1, self.concurrency // 4)
        while (
            self.concurrency - len(self._inflight) < enough
            and not stop.is_set()
            and (remaining := until - loop.time()) > 0
        ):
            self._wake.clear()
            await _wait_any(self._wake.wait(), stop.wait(), timeout=remaining)

    async def _transaction(self, free: int) -> list[ClaimedRun]:
        """Apply the gathered writes and, with `free` slots, claim runs: one transaction."""
        writes = self._writes.take()
        if not writes and free <= 0:
            return []
        try:
            async with self.db.write() as conn:
                await dispatch.apply(conn, writes)
                if free <= 0:
                    return []
                return await dispatch.claim(
                    conn, worker_id=self.instance_id, limit=free, now=_utcnow()
                )
        except BaseException:
            self._writes.put_back(writes)  # rolled back: written with the next transaction
            raise

    def _launch(self, run: ClaimedRun, tasks: set[asyncio.Task[None]]) -> None:
        if run.scheduled_for is not None and run.attempt == 1:
            delay = (run.started_at - run.scheduled_for).total_seconds()
            metrics.START_DELAY.observe(max(0.0, delay))
        state = _InFlight(run)
        self._inflight[run.run_id] = state
        task = asyncio.create_task(self._execute(state), name=f"run-{run.run_id}")
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _drain(self, tasks: set[asyncio.Task[None]]) -> None:
        """Let in-flight runs finish within drain_seconds (their outcomes still being written);
        requeue the rest."""
        if not tasks:
            return
        log.info("draining", runs=len(tasks), seconds=self.settings.drain_seconds)
        stop_writing = asyncio.Event()
        writer = asyncio.create_task(
            self._dispatch_loop(stop_writing, tasks, claiming=False), name="worker-drain-writer"
        )
        try:
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
        finally:
            stop_writing.set()
            with contextlib.suppress(Exception):
                await writer

    # --- one run -------------------------------------------------------------------------
    async def _execute(self, state: _InFlight) -> None:
        run = state.run
        bound = log.bind(run_id=str(run.run_id), job_id=str(run.job_id), attempt=run.attempt)
        deadline = (
            None
            if run.timeout_seconds is None
            else asyncio.get_running_loop().time() + run.timeout_seconds
        )
        status, error = "success", None
        try:
            try:
                bound.info("run started", job_name=run.job_name, tasks=len(run.tasks))
                state.logs.append(
                    (_utcnow(), "INFO", f"attempt {run.attempt} started on {self.instance_id}")
                )
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
            except Exception as exc:  # a bug while supervising: the run must still end
                bound.error("run crashed", error=str(exc))
                status, error = "failed", f"internal error: {exc}"
            if not state.lost:
                self._record_outcome(state, status, error)
        finally:
            self._inflight.pop(run.run_id, None)
            self._wake.set()
        bound.info("run finished", status=status, error=error)

    async def _execute_task(
        self, state: _InFlight, task: ClaimedTask, deadline: float | None
    ) -> TaskOutcome:
        run = state.run
        now = _utcnow()
        if task.task_order == run.tasks[0].task_order and run.first_task_run_id is not None:
            state.task_run_id = run.first_task_run_id  # recorded with the claim
        else:
            state.task_run_id = self._writes.start_task(run, task, now)
            self._wake.set()
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
            environ={
                name: os.environ[name]
                for name in secrets.referenced_names([task.extractor_config, task.loader_config])
                if name in os.environ and not secrets.is_service_setting(name)
            },
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
        state.progress = None
        self._writes.task_result(
            state.task_run_id,
            status="failed" if outcome.status == "timeout" else outcome.status,
            finished_at=outcome.finished_at,
            rows_extracted=outcome.rows_extracted,
            rows_loaded=outcome.rows_loaded,
            bytes_loaded=outcome.bytes_loaded,
            error_message=outcome.error_message,
        )
        return outcome

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

    def _record_outcome(self, state: _InFlight, status: str, error: str | None) -> None:
        """Gather the run's last logs and its outcome for the next transaction. A run that
        ends while the database is away is recorded once it is back: the writes stay gathered,
        and the reapers hold off for a lease after an outage (see `ReapGate`)."""
        run = state.run
        now = _utcnow()
        retrying = status == "failed" and run.retries_left
        metrics.RUNS_FINISHED.labels(run.job_name, "retrying" if retrying else status).inc()
        metrics.RUN_DURATION.labels(run.job_name).observe((now - run.started_at).total_seconds())
        if state.rows_loaded:
            metrics.ROWS_LOADED.labels(run.job_name).inc(state.rows_loaded)
        if retrying:
            state.logs.append((now, "WARNING", f"retrying in {run.backoff().total_seconds():g} s"))
        self._writes.log(run.run_id, state.logs)
        state.logs.clear()
        if retrying:
            self._writes.retry(run, worker_id=self.instance_id, error_message=error or "", now=now)
        else:
            self._writes.finish(
                run, worker_id=self.instance_id, status=status, error_message=error, now=now
            )

    # --- heartbeat -----------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self._heartbeat()
            except Exception as exc:  # keep beating; the lease is long enough for a blip
                log.warning("heartbeat failed", error=str(exc))
                self._reap_gate.failed()
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
            live = [s for s in states if self._still_ours(s, owned, now)]
            # The lines so far go out now, live on the run page; dropped here once committed.
            lines = RunWrites()
            progress: list[Record] = []
            sent: list[tuple[_InFlight, int, tuple[int, int, int] | None]] = []
            for state in live:
                self._progress_line(state, now)
                if state.task_run_id and state.progress and state.progress != state.progress_saved:
                    extracted, loaded, nbytes = state.progress
                    progress.append(
                        {
                            "task_run_id": state.task_run_id,
                            "rows_extracted": extracted,
                            "rows_loaded": loaded,
                            "bytes_loaded": nbytes,
                        }
                    )
                lines.log(state.run.run_id, state.logs)
                sent.append((state, len(state.logs), state.progress))
            await dispatch.apply(conn, lines)
            await dispatch.record_progress(conn, progress)
            if self._reap_gate.open:
                await dispatch.reap(conn, lease_seconds=self.settings.lease_seconds, now=now)
        for state, count, progress_sent in sent:
            del state.logs[:count]
            if progress_sent is not None:
                state.progress_saved = progress_sent

    def _still_ours(self, state: _InFlight, owned: dict[uuid.UUID, bool], now: datetime) -> bool:
        run_id = state.run.run_id
        if run_id not in owned:
            if run_id in self._inflight and not state.lost:
                log.warning("lost the lease; abandoning run", run_id=str(run_id))
                state.lost = True
                state.cancel.set()
            return False
        if owned[run_id] and not state.cancel.is_set():
            state.logs.append((now, "WARNING", "cancel requested; stopping"))
            state.cancel.set()
        return True

    def _progress_line(self, state: _InFlight, now: datetime) -> None:
        """A log line on long loads every `progress_log_seconds`, while the counters move."""
        if not (state.task_run_id and state.progress and state.progress != state.progress_saved):
            return
        clock = asyncio.get_running_loop().time()
        if clock - state.progress_logged_at < self.settings.progress_log_seconds:
            return
        state.progress_logged_at = clock
        extracted, loaded, nbytes = state.progress
        state.logs.append(
            (
                now,
                "INFO",
                f"task {state.task_order}: {extracted:,} rows extracted, {loaded:,} loaded, "
                f"{nbytes:,} bytes",
            )
        )


async def _wait_any(*awaitables: Awaitable[object] | None, timeout: float) -> None:
    """Return when the first of the awaitables completes, or after `timeout`."""
    tasks = [asyncio.ensure_future(a) for a in awaitables if a is not None]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
