"""A warm pool of executor processes that run tasks, supervised from the worker's event loop.

Task code never runs in the worker process: a hung or crashing plugin cannot stop heart-beats.
Each child imports the plugins once at start and then serves tasks over a duplex pipe (see
`executor_child` for the protocol); the supervisor watches the pipe and the process sentinel
with `loop.add_reader`, so nothing blocks the event loop.

Stopping: on a timeout or a cancel the child's shared cancel flag is set, which plugins see as
`ctx.cancelled()`. A child that has not finished `grace_seconds` later is killed with SIGKILL
(by its PID) and replaced by a fresh one, so a plugin stuck in C code or `time.sleep` still stops.
A child that dies on its own fails its task as transient and is replaced too.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any, Literal

import structlog

from orcrustator.worker.executor_child import CancelFlag, TaskSpec, child_main

__all__ = [
    "ExecutorEvent",
    "ExecutorPool",
    "LogEvent",
    "ProgressEvent",
    "TaskOutcome",
    "TaskSpec",
    "TaskStatus",
]

log = structlog.get_logger("orcrustator.executor")

TaskStatus = Literal["success", "failed", "cancelled", "timeout"]
_Stop = Literal["cancelled", "timeout"]


@dataclass(frozen=True, slots=True)
class LogEvent:
    level: str
    message: str
    kind: Literal["log"] = "log"


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Cumulative counters of the running task (sent at most about twice a second)."""

    rows_extracted: int
    rows_loaded: int
    bytes_loaded: int
    kind: Literal["progress"] = "progress"


ExecutorEvent = LogEvent | ProgressEvent


@dataclass
class TaskOutcome:
    status: TaskStatus
    rows_extracted: int
    rows_loaded: int
    bytes_loaded: int
    error_message: str | None
    transient: bool  # only for "failed": the cause may go away, so a retry is worthwhile
    started_at: datetime
    finished_at: datetime


_MpContext = ForkServerContext | SpawnContext | ForkContext


def _mp_context(name: Literal["forkserver", "spawn", "fork"]) -> _MpContext:
    if name == "forkserver":
        return multiprocessing.get_context("forkserver")
    if name == "spawn":
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("fork")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"exit code {code}, {signal.Signals(-code).name}"
    return f"exit code {code}"


async def _wait_readable(fd: int, timeout: float | None) -> bool:
    """Wait until `fd` is readable (a pipe has data or EOF, a sentinel fired); False on timeout."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        done, _ = await asyncio.wait([ready], timeout=timeout)
        return bool(done)
    finally:
        loop.remove_reader(fd)
        ready.cancel()


class _Child:
    """One executor process and the supervisor's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection, flag: CancelFlag) -> None:
        self.process = process
        self.conn = conn
        self.flag = flag
        self.pid: int = process.pid or 0
        self.sentinel: int = process.sentinel
        self.retiring: asyncio.Task[int | None] | None = None
        self._listening: list[int] = []
        self._done: asyncio.Future[tuple[Any, ...] | None] | None = None

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode  # polls the sentinel without blocking

    def listen(self, on_message: Callable[[tuple[Any, ...]], None]) -> asyncio.Future[Any]:
        """Feed the child's messages to `on_message` until "done"; the future resolves to the
        "done" message, or to None when the child died (or the pool is closing)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[Any, ...] | None] = loop.create_future()
        self._done = done

        def on_readable() -> None:
            try:
                while not done.done() and self.conn.poll():
                    message = self.conn.recv()
                    if message[0] == "done":
                        self.finish(message)
                    else:
                        on_message(message)
            except (EOFError, OSError):
                self.finish(None)

        def on_exit() -> None:
            on_readable()  # deliver what it said before it died
            self.finish(None)

        for fd, callback in ((self.conn.fileno(), on_readable), (self.sentinel, on_exit)):
            loop.add_reader(fd, callback)
            self._listening.append(fd)
        return done

    def finish(self, result: tuple[Any, ...] | None) -> None:
        loop = asyncio.get_running_loop()
        for fd in self._listening:
            loop.remove_reader(fd)
        self._listening.clear()
        if self._done is not None and not self._done.done():
            self._done.set_result(result)
        self._done = None

    def kill(self) -> None:
        if self.exitcode is None:  # not yet reaped, so the PID is still this process's
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class ExecutorPool:
    """`size` warm executor processes; `run_task` waits for a free one and supervises it."""

    def __init__(
        self,
        size: int,
        *,
        mp_context: Literal["forkserver", "spawn", "fork"] = "forkserver",
        grace_seconds: float = 1.0,
        start_timeout: float = 60.0,
    ) -> None:
        if size < 1:
            raise ValueError("an executor pool needs at least one process")
        self.size = size
        self.grace_seconds = grace_seconds
        self.start_timeout = start_timeout
        self._mp = _mp_context(mp_context)
        if mp_context == "forkserver":
            # The fork server imports pyarrow, pydantic and the plugin specs once for all children.
            # pyarrow.compute too: imported lazily by Arrow casts, it cost each fresh
            # executor about a second on its first task. And the CLI: every child runs the main
            # module (the `orc` script) again, which imports it. ("__main__" in this list would
            # say the same, but Python 3.11's fork server never receives the main module's path.)
            self._mp.set_forkserver_preload(
                [
                    "orcrustator.cli",
                    "orcrustator.worker.forkserver_preload",
                    "orcrustator.worker.executor_child",
                    "pyarrow.compute",
                ]
            )
        self._idle: asyncio.Queue[_Child] = asyncio.Queue()
        self._children: set[_Child] = set()
        self._respawns: set[asyncio.Task[None]] = set()
        self._spawning: set[asyncio.Future[_Child]] = set()
        self._started = False
        self._closed = False
        self._closing = asyncio.Event()

    @property
    def pids(self) -> list[int]:
        """PIDs of the executor processes currently owned by the pool."""
        return sorted(child.pid for child in self._children)

    async def __aenter__(self) -> ExecutorPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- life cycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start every child and wait until each has imported the plugins."""
        if self._started:
            return
        self._started = True
        results = await asyncio.gather(
            *(self._spawn_ready() for _ in range(self.size)), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        for result in results:
            if isinstance(result, _Child):
                self._idle.put_nowait(result)
        if errors:
            await self.close()
            raise errors[0]

    async def close(self) -> None:
        """Stop every child: close its pipe, then SIGKILL (by PID) whatever is still alive."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        for task in list(self._respawns):
            task.cancel()
        await asyncio.gather(*self._respawns, return_exceptions=True)
        await asyncio.gather(*self._spawning, return_exceptions=True)  # adopts what they started
        children = list(self._children)
        for child in children:
            child.finish(None)  # a task still running sees its child gone
            child.conn.close()  # an idle child exits on EOF
        await asyncio.gather(*(self._retire(child, grace=1.0) for child in children))

    def _spawn(self) -> _Child:
        parent_conn, child_conn = self._mp.Pipe(duplex=True)
        flag: CancelFlag = self._mp.RawValue(ctypes.c_bool, False)
        process = self._mp.Process(
            target=child_main, args=(child_conn, flag), name="orc-executor", daemon=True
        )
        try:
            process.start()
        finally:
            child_conn.close()
        return _Child(process, parent_conn, flag)

    def _adopt(self, spawning: asyncio.Future[_Child]) -> None:
        if not spawning.cancelled() and spawning.exception() is None:
            self._children.add(spawning.result())

    async def _spawn_ready(self) -> _Child:
        # Process.start() blocks for a moment, so it runs in a thread; the shield and `_adopt`
        # make sure a process started while the caller was cancelled is still owned (and closed).
        spawning = asyncio.ensure_future(asyncio.to_thread(self._spawn))
        spawning.add_done_callback(self._adopt)
        spawning.add_done_callback(self._spawning.discard)
        self._spawning.add(spawning)
        child = await asyncio.shield(spawning)
        try:
            ready = await _wait_readable(child.conn.fileno(), self.start_timeout)
            message = child.conn.recv() if ready and child.conn.poll() else None
            if not (isinstance(message, tuple) and message[0] == "ready"):
                raise RuntimeError("no ready message")
        except (EOFError, OSError, RuntimeError):
            child.kill()
            code = await self._retire(child, grace=1.0)
            raise RuntimeError(
                f"executor process failed to start ({_describe_exit(code)})"
            ) from None
        except BaseException:
            child.kill()
            await self._retire(child, grace=1.0)
            raise
        return child

    async def _respawn(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                child = await self._spawn_ready()
            except Exception as exc:
                log.error("executor_respawn_failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            if self._closed:
                await self._retire(child, grace=1.0)
            else:
                self._idle.put_nowait(child)
            return

    def _replace(self) -> None:
        if self._closed:
            return
        task = asyncio.create_task(self._respawn(), name="executor-respawn")
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _retire(self, child: _Child, *, grace: float) -> int | None:
        """Wait up to `grace` for the child to exit, then SIGKILL it; reap it and free its fds."""
        if child.retiring is None:
            child.retiring = asyncio.ensure_future(self._reap(child, grace))
        return await asyncio.shield(child.retiring)

    async def _reap(self, child: _Child, grace: float) -> int | None:
        child.finish(None)
        if child.exitcode is None and not await _wait_readable(child.sentinel, grace):
            child.kill()
            await _wait_readable(child.sentinel, 10.0)
        code = child.exitcode
        child.conn.close()
        if code is not None:
            child.process.close()
        self._children.discard(child)
        return code

    # --- running tasks ------------------------------------------------------------------
    async def _acquire(self, cancel: asyncio.Event | None) -> _Child | None:
        """A live idle child, or None when cancelled or closed (before or while waiting)."""
        while not self._closed and not (cancel is not None and cancel.is_set()):
            if self._idle.empty():
                get = asyncio.ensure_future(self._idle.get())
                waits: set[asyncio.Future[Any]] = {get}
                waits.add(asyncio.ensure_future(self._closing.wait()))
                if cancel is not None:
                    waits.add(asyncio.ensure_future(cancel.wait()))
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waits - {get}:
                    waiter.cancel()
                if not get.done():
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
                    return None
                child = get.result()
                if self._closed or (cancel is not None and cancel.is_set()):
                    self._idle.put_nowait(child)
                    return None
            else:
                child = self._idle.get_nowait()
            if child.exitcode is None:
                return child
            await self._retire(child, grace=0)  # died while idle (OOM killer, a stray kill)
            self._replace()
        return None

    async def run_task(
        self,
        spec: TaskSpec,
        *,
        on_event: Callable[[ExecutorEvent], None] | None = None,
        timeout: float | None = None,
        cancel: asyncio.Event | None = None,
    ) -> TaskOutcome:
        """Run one task in a free child; never raises for anything the task does."""
        if not self._started:
            raise RuntimeError("ExecutorPool.start() must be awaited before run_task()")
        queued_at = _utcnow()
        child = await self._acquire(cancel)
        if child is None:
            if self._closed:
                return TaskOutcome(
                    "failed", 0, 0, 0, f"{spec.label}: executor pool closed", True, queued_at,
                    _utcnow(),
                )  # fmt: skip
            return TaskOutcome(
                "cancelled", 0, 0, 0, f"{spec.label}: cancelled", False, queued_at, _utcnow()
            )
        started_at = _utcnow()
        counters = [0, 0, 0]

        def on_message(message: tuple[Any, ...]) -> None:
            event: ExecutorEvent
            if message[0] == "progress":
                counters[:] = message[1:4]
                event = ProgressEvent(*message[1:4])
            elif message[0] == "log":
                event = LogEvent(message[1], message[2])
            else:
                return
            if on_event is not None:
                try:
                    on_event(event)
                except Exception as exc:  # a broken callback must not break supervision
                    log.warning("executor_event_callback_failed", error=repr(exc))

        child.flag.value = False
        done = child.listen(on_message)
        try:
            child.conn.send(("run", spec))
        except OSError:
            child.finish(None)
        try:
            result, stop, killed = await self._supervise(child, done, timeout, cancel)
        except BaseException:  # the caller was cancelled: never leave a child half-way
            child.finish(None)
            child.kill()
            self._retire_in_background(child)
            raise
        if killed and on_event is not None:
            with contextlib.suppress(Exception):
                on_event(
                    LogEvent(
                        "WARNING",
                        f"executor process {child.pid} killed: the plugin did not stop within "
                        f"{self.grace_seconds:g} s of being asked",
                    )
                )
        finished_at = _utcnow()

        if result is not None and not killed:
            self._idle.put_nowait(child)
            _, status, extracted, loaded, nbytes, error, transient = result
            if stop is not None and status != "success":
                status, transient = stop, False
                error = f"{spec.label}: {self._stop_message(stop, timeout)}"
            return TaskOutcome(
                status, extracted, loaded, nbytes, error, transient, started_at, finished_at
            )

        code = await self._retire(child, grace=0 if killed else 1.0)
        self._replace()
        status_out: TaskStatus
        if stop is not None:
            message, status_out, transient_out = self._stop_message(stop, timeout), stop, False
        elif self._closed:
            message, status_out, transient_out = "executor pool closed", "failed", True
        else:
            message = f"executor process died ({_describe_exit(code)})"
            status_out, transient_out = "failed", True
        return TaskOutcome(
            status_out,
            counters[0],
            counters[1],
            counters[2],
            f"{spec.label}: {message}",
            transient_out,
            started_at,
            _utcnow(),
        )

    async def _supervise(
        self,
        child: _Child,
        done: asyncio.Future[Any],
        timeout: float | None,
        cancel: asyncio.Event | None,
    ) -> tuple[tuple[Any, ...] | None, _Stop | None, bool]:
        """Wait for the child's result; on timeout or cancel ask it to stop, then kill it.

        Returns (the "done" message or None if the child died, why it was stopped, killed?).
        """
        cancelled = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
        try:
            waits: set[asyncio.Future[Any]] = {done}
            if cancelled is not None:
                waits.add(cancelled)
            finished, _ = await asyncio.wait(
                waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if done in finished:
                return done.result(), None, False
            stop: _Stop = "cancelled" if cancelled in finished else "timeout"
            child.flag.value = True
            finished, _ = await asyncio.wait([done], timeout=self.grace_seconds)
            if finished:
                return done.result(), stop, False
            child.finish(None)
            child.kill()
            return None, stop, True
        finally:
            if cancelled is not None:
                cancelled.cancel()

    def _retire_in_background(self, child: _Child) -> None:
        async def retire_and_replace() -> None:
            await self._retire(child, grace=0)
            self._replace()

        task = asyncio.ensure_future(retire_and_replace())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    @staticmethod
    def _stop_message(stop: _Stop, timeout: float | None) -> str:
        if stop == "timeout":
            return f"timed out after {timeout or 0:g} s"
        return "cancelled"
