"""The executor pool, with real child processes: results, events, failures, stop and recovery."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from orcrustator.worker.executor import (
    ExecutorEvent,
    ExecutorPool,
    LogEvent,
    ProgressEvent,
    TaskOutcome,
    TaskSpec,
)

T = TypeVar("T")


def task(order: int = 1, loader: str = "null", **options: Any) -> TaskSpec:
    return TaskSpec(
        run_id="run-1",
        job_id="job-1",
        task_id=None,
        task_order=order,
        extractor_config={"type": "generate", **options},
        loader_config={"type": loader},
        data_dir="/tmp",
    )


def with_pool(size: int, body: Callable[[ExecutorPool], Awaitable[T]]) -> T:
    async def main() -> T:
        async with ExecutorPool(size) as pool:
            return await body(pool)

    return asyncio.run(main())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_succeeded(outcome: TaskOutcome, rows: int) -> None:
    assert outcome.status == "success", outcome.error_message
    assert (outcome.rows_extracted, outcome.rows_loaded) == (rows, rows)


def test_trivial_task_succeeds_with_counts() -> None:
    async def body(pool: ExecutorPool) -> None:
        assert len(pool.pids) == 1
        outcome = await pool.run_task(task(rows=1))
        assert_succeeded(outcome, 1)
        assert outcome.bytes_loaded > 0
        assert outcome.error_message is None
        assert not outcome.transient
        assert outcome.started_at.tzinfo is not None
        assert outcome.started_at <= outcome.finished_at
        big = await pool.run_task(task(rows=30_000, batch_size=4096))
        assert_succeeded(big, 30_000)

    with_pool(1, body)


def test_progress_and_log_events_arrive_while_the_task_runs() -> None:
    events: list[tuple[float, ExecutorEvent]] = []

    async def body(pool: ExecutorPool) -> tuple[float, TaskOutcome]:
        start = time.monotonic()
        outcome = await pool.run_task(
            task(rows=12, batch_size=1, sleep_seconds=0.1),
            on_event=lambda event: events.append((time.monotonic(), event)),
        )
        return time.monotonic() - start, outcome

    elapsed, outcome = with_pool(1, body)
    assert_succeeded(outcome, 12)
    logs = [e for _, e in events if isinstance(e, LogEvent)]
    assert logs[0] == LogEvent("INFO", "generating 12 rows in batches of 1")
    progress = [(at, e) for at, e in events if isinstance(e, ProgressEvent)]
    assert progress[-1][1] == ProgressEvent(12, 12, outcome.bytes_loaded)
    early = [e for at, e in progress if e.rows_extracted < 12]
    assert early, "no progress before the end"
    assert len(progress) <= elapsed * 2 + 2  # throttled to about two a second
    counts = [e.rows_loaded for _, e in progress]
    assert counts == sorted(counts)


def test_failing_task_names_the_task_and_the_child_is_reused() -> None:
    async def body(pool: ExecutorPool) -> None:
        (pid,) = pool.pids
        failed = await pool.run_task(task(order=2, rows=10, batch_size=3, fail_after_rows=5))
        assert failed.status == "failed"
        assert failed.error_message == (
            "task 2 (generate → null): failing after 5 rows, as configured (fail_after_rows)"
        )
        assert not failed.transient
        assert failed.rows_extracted == 5
        transient = await pool.run_task(task(rows=3, fail_after_rows=0, fail_transient=True))
        assert transient.status == "failed"
        assert transient.transient
        assert_succeeded(await pool.run_task(task(rows=4)), 4)
        assert pool.pids == [pid]

    with_pool(1, body)


def test_bad_config_fails_naming_the_plugin_and_field() -> None:
    async def body(pool: ExecutorPool) -> None:
        bad = await pool.run_task(task(order=3, rows=-1))
        assert bad.status == "failed"
        assert bad.error_message == (
            "task 3 (generate → null): invalid extractor config for 'generate': "
            "rows: Input should be greater than or equal to 0"
        )
        unknown = await pool.run_task(task(rows=1, loader="nowhere"))
        assert unknown.error_message is not None
        assert "unknown loader type 'nowhere'; known: " in unknown.error_message
        assert "null" in unknown.error_message.rsplit("known: ", 1)[1].split(", ")
        assert not unknown.transient

    with_pool(1, body)


def test_timeout_kills_a_sleeping_plugin_and_the_pool_recovers() -> None:
    async def body(pool: ExecutorPool) -> None:
        (pid,) = pool.pids
        start = time.monotonic()
        outcome = await pool.run_task(task(order=2, rows=1, sleep_seconds=60), timeout=1.0)
        elapsed = time.monotonic() - start
        assert outcome.status == "timeout"
        assert outcome.error_message == "task 2 (generate → null): timed out after 1 s"
        assert 1.0 <= elapsed < 2.5
        assert not alive(pid)
        assert_succeeded(await pool.run_task(task(rows=2)), 2)
        assert pool.pids != [pid]

    with_pool(1, body)


def test_cancel_stops_a_cooperative_task_without_killing_it() -> None:
    async def body(pool: ExecutorPool) -> tuple[float, TaskOutcome, list[int]]:
        (pid,) = pool.pids
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, cancel.set)
        start = time.monotonic()
        outcome = await pool.run_task(
            task(rows=10_000, batch_size=1, sleep_seconds=0.02), cancel=cancel
        )
        elapsed = time.monotonic() - start
        assert_succeeded(await pool.run_task(task(rows=1)), 1)
        assert pool.pids == [pid]
        return elapsed, outcome, pool.pids

    elapsed, outcome, _ = with_pool(1, body)
    assert outcome.status == "cancelled"
    assert outcome.error_message == "task 1 (generate → null): cancelled"
    assert 0 < outcome.rows_extracted < 10_000
    assert elapsed < 2.0


def test_cancel_that_the_plugin_ignores_kills_the_child() -> None:
    events: list[ExecutorEvent] = []

    async def body(pool: ExecutorPool) -> None:
        (pid,) = pool.pids
        cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, cancel.set)
        start = time.monotonic()
        outcome = await pool.run_task(
            task(rows=1, sleep_seconds=60), cancel=cancel, on_event=events.append
        )
        assert outcome.status == "cancelled"
        assert time.monotonic() - start < 2.5
        assert not alive(pid)
        assert_succeeded(await pool.run_task(task(rows=1)), 1)

    with_pool(1, body)
    warnings = [e.message for e in events if isinstance(e, LogEvent) and e.level == "WARNING"]
    assert any("killed" in message for message in warnings)


def test_cancel_before_a_child_is_free_runs_nothing() -> None:
    async def body(pool: ExecutorPool) -> None:
        busy_cancel = asyncio.Event()
        busy = asyncio.create_task(
            pool.run_task(task(rows=1000, batch_size=1, sleep_seconds=0.02), cancel=busy_cancel)
        )
        await asyncio.sleep(0.1)
        waiting_cancel = asyncio.Event()
        asyncio.get_running_loop().call_later(0.2, waiting_cancel.set)
        queued = await pool.run_task(task(order=2, rows=1), cancel=waiting_cancel)
        assert queued.status == "cancelled"
        assert queued.rows_extracted == 0
        assert not busy.done()
        busy_cancel.set()
        assert (await busy).status == "cancelled"
        already = asyncio.Event()
        already.set()
        skipped = await pool.run_task(task(rows=1), cancel=already)
        assert (skipped.status, skipped.rows_extracted) == ("cancelled", 0)

    with_pool(1, body)


def test_a_child_that_dies_fails_the_task_as_transient_and_is_replaced() -> None:
    async def body(pool: ExecutorPool) -> None:
        (pid,) = pool.pids
        running = asyncio.create_task(pool.run_task(task(rows=1, sleep_seconds=60)))
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        outcome = await asyncio.wait_for(running, 5)
        assert outcome.status == "failed"
        assert outcome.transient
        assert outcome.error_message == (
            "task 1 (generate → null): executor process died (exit code -9, SIGKILL)"
        )
        assert_succeeded(await pool.run_task(task(rows=5)), 5)
        (new_pid,) = pool.pids
        assert new_pid != pid
        # An idle child that dies is noticed and replaced before it is handed a task.
        os.kill(new_pid, signal.SIGKILL)
        await asyncio.sleep(0.2)
        assert_succeeded(await pool.run_task(task(rows=5)), 5)
        assert new_pid not in pool.pids

    with_pool(1, body)


def test_size_two_runs_two_tasks_at_once_and_no_more() -> None:
    async def body(pool: ExecutorPool) -> tuple[float, list[TaskOutcome]]:
        start = time.monotonic()
        outcomes = await asyncio.gather(
            *(pool.run_task(task(rows=1, sleep_seconds=0.7)) for _ in range(3))
        )
        return time.monotonic() - start, list(outcomes)

    elapsed, outcomes = with_pool(2, body)
    assert [o.status for o in outcomes] == ["success"] * 3
    assert 1.4 <= elapsed < 2.0  # two at once, then the third: not 0.7 (3 at once), not 2.1


def test_close_leaves_no_child_alive_and_ends_a_running_task() -> None:
    async def main() -> tuple[list[int], TaskOutcome]:
        pool = ExecutorPool(2)
        await pool.start()
        pids = pool.pids
        assert len(pids) == 2
        assert all(alive(pid) for pid in pids)
        running = asyncio.create_task(pool.run_task(task(rows=1, sleep_seconds=60)))
        await asyncio.sleep(0.3)
        await pool.close()
        outcome = await asyncio.wait_for(running, 5)
        assert pool.pids == []
        return pids, outcome

    pids, outcome = asyncio.run(main())
    assert not any(alive(pid) for pid in pids)
    assert outcome.status == "failed"
    assert outcome.error_message == "task 1 (generate → null): executor pool closed"


def test_run_task_needs_a_started_pool() -> None:
    async def main() -> None:
        pool = ExecutorPool(1)
        with pytest.raises(RuntimeError, match="start"):
            await pool.run_task(task(rows=1))

    asyncio.run(main())


def test_an_extractor_runs_wholly_in_one_thread() -> None:
    """Drivers such as sqlite3 refuse objects used from another thread than their own."""
    import threading

    import pyarrow as pa

    from orcrustator.worker.executor_child import _prefetched

    seen: list[int] = []

    def batches() -> Any:
        created_in = threading.get_ident()
        for n in range(6):
            assert threading.get_ident() == created_in
            seen.append(threading.get_ident())
            yield pa.record_batch([pa.array([n])], names=["n"])

    got = [b.column(0)[0].as_py() for b in _prefetched(batches())]
    assert got == [0, 1, 2, 3, 4, 5]
    assert len(set(seen)) == 1
