"""Scheduler and worker in one process on each backend, as `orc up` runs them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orcrustator.db.engine import Database
from orcrustator.db.repo import jobs, runs
from orcrustator.db.tables import job_runs, run_logs, task_runs
from orcrustator.db.urls import parse_database_url
from orcrustator.scheduler.service import Scheduler
from orcrustator.settings import Settings
from orcrustator.worker.service import Worker


def engine_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "lease_seconds": 5,
        "heartbeat_seconds": 0.3,
        "poll_seconds": 0.5,
        "drain_seconds": 5,
        "progress_log_seconds": 0.5,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


def with_engine(
    database_url: str,
    scenario: Callable[[Database], Awaitable[None]],
    *,
    scheduler: bool = False,
    concurrency: int = 2,
) -> None:
    settings = engine_settings(database_url)

    async def main() -> None:
        db = Database(parse_database_url(database_url), pool_size=5)
        stop = asyncio.Event()
        parts = [Worker(db, settings, concurrency=concurrency).run(stop)]
        if scheduler:
            parts.append(Scheduler(db, settings).run(stop))
        tasks = [asyncio.create_task(p) for p in parts]
        try:
            await scenario(db)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await db.dispose()

    asyncio.run(main())


async def create_job(db: Database, tasks: list[dict[str, Any]], **options: Any) -> uuid.UUID:
    values = {"job_name": f"job-{uuid.uuid4().hex[:6]}", "schedule": "0 0 1 1 *", **options}
    task_rows = [
        {"task_order": i, "extractor_config": t["extractor"], "loader_config": t["loader"]}
        for i, t in enumerate(tasks, start=1)
    ]
    async with db.write() as conn:
        job = await jobs.create(conn, values, task_rows)
    return uuid.UUID(str(job["job_id"]))


async def wait_for(
    db: Database, run_id: uuid.UUID, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with db.read() as conn:
            row = await runs.get(conn, run_id)
        if row["status"] in statuses:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run still {row['status']} after {timeout} s")
        await asyncio.sleep(0.05)


GENERATE_100 = {
    "extractor": {"type": "generate", "rows": 100, "batch_size": 30},
    "loader": {"type": "null"},
}


def test_manual_run_executes_every_task_and_records_it(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await create_job(db, [GENERATE_100, GENERATE_100])
        async with db.write() as conn:
            run_id = (await runs.create_manual(conn, job_id))["run_id"]
        row = await wait_for(db, run_id, {"success", "failed"})
        assert row["status"] == "success", row["error_message"]
        async with db.read() as conn:
            task_rows = (
                await conn.execute(
                    sa.select(task_runs)
                    .where(task_runs.c.run_id == run_id)
                    .order_by(task_runs.c.task_order)
                )
            ).all()
            messages = (
                (
                    await conn.execute(
                        sa.select(run_logs.c.message).where(run_logs.c.run_id == run_id)
                    )
                )
                .scalars()
                .all()
            )
        assert [(t.task_order, t.status, t.rows_extracted, t.rows_loaded) for t in task_rows] == [
            (1, "success", 100, 100),
            (2, "success", 100, 100),
        ]
        assert row["config_snapshot"][1]["extractor_config"]["rows"] == 100
        assert any("task 2 (generate → null) started" in m for m in messages)

    with_engine(clean_database, scenario)


def test_a_failing_task_stops_the_run_and_names_the_cause(clean_database: str) -> None:
    failing = {
        "extractor": {"type": "generate", "rows": 10, "fail_after_rows": 3},
        "loader": {"type": "null"},
    }

    async def scenario(db: Database) -> None:
        job_id = await create_job(db, [GENERATE_100, failing, GENERATE_100])
        async with db.write() as conn:
            run_id = (await runs.create_manual(conn, job_id))["run_id"]
        row = await wait_for(db, run_id, {"success", "failed"})
        assert row["status"] == "failed"
        assert "task 2 (generate → null)" in row["error_message"]
        async with db.read() as conn:
            orders = (
                (
                    await conn.execute(
                        sa.select(task_runs.c.task_order).where(task_runs.c.run_id == run_id)
                    )
                )
                .scalars()
                .all()
            )
        assert sorted(orders) == [1, 2], "later tasks do not run"

    with_engine(clean_database, scenario)


def test_cancel_and_timeout_stop_running_work(clean_database: str) -> None:
    slow = {
        "extractor": {"type": "generate", "rows": 100, "batch_size": 1, "sleep_seconds": 0.2},
        "loader": {"type": "null"},
    }

    async def scenario(db: Database) -> None:
        cancel_job = await create_job(db, [slow])
        timeout_job = await create_job(db, [slow], timeout_seconds=1)
        async with db.write() as conn:
            to_cancel = (await runs.create_manual(conn, cancel_job))["run_id"]
            to_time_out = (await runs.create_manual(conn, timeout_job))["run_id"]
        await wait_for(db, to_cancel, {"running"})
        async with db.write() as conn:
            await runs.request_cancel(conn, to_cancel)
        asked = asyncio.get_running_loop().time()
        cancelled = await wait_for(db, to_cancel, {"cancelled", "failed", "success"}, 10)
        assert cancelled["status"] == "cancelled"
        assert asyncio.get_running_loop().time() - asked < 5
        timed_out = await wait_for(db, to_time_out, {"failed", "success"}, 15)
        assert timed_out["status"] == "failed"
        assert "timed out" in timed_out["error_message"]

    with_engine(clean_database, scenario)


def test_scheduler_enqueues_slots_that_workers_run(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await create_job(db, [GENERATE_100], schedule="* * * * * *", max_active_runs=3)
        await asyncio.sleep(3.5)
        async with db.write() as conn:
            await jobs.update(conn, job_id, {"is_active": False})
        await asyncio.sleep(1.0)
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        job_runs.c.scheduled_for,
                        job_runs.c.started_at,
                        job_runs.c.status,
                        job_runs.c.triggered_by,
                    )
                    .where(job_runs.c.job_id == job_id)
                    .order_by(job_runs.c.scheduled_for)
                )
            ).all()
        assert 2 <= len(rows) <= 6
        assert {r.triggered_by for r in rows} == {"scheduled"}
        slots = [r.scheduled_for for r in rows]
        assert slots == [slots[0] + timedelta(seconds=i) for i in range(len(slots))]
        finished = [r for r in rows if r.status == "success"]
        assert finished, "the worker ran the scheduled runs"
        for r in finished:
            # Start delay is measured by bench/control_plane.py; here only its order of magnitude.
            assert r.started_at - r.scheduled_for < timedelta(seconds=3)
        assert all(s.microsecond == 0 for s in slots)
        assert slots[-1] <= datetime.now(UTC)

    with_engine(clean_database, scenario, scheduler=True)


def test_progress_shows_while_a_long_task_runs(clean_database: str) -> None:
    slow = {
        "extractor": {"type": "generate", "rows": 40, "batch_size": 1, "sleep_seconds": 0.05},
        "loader": {"type": "null"},
    }

    async def scenario(db: Database) -> None:
        job_id = await create_job(db, [slow])
        async with db.write() as conn:
            run_id = (await runs.create_manual(conn, job_id))["run_id"]
        await wait_for(db, run_id, {"running"})
        seen_midway = 0
        while True:
            async with db.read() as conn:
                row = await runs.get(conn, run_id)
                tasks = await runs.task_runs_for(conn, run_id)
            if tasks and 0 < tasks[0]["rows_extracted"] < 40 and row["status"] == "running":
                seen_midway = tasks[0]["rows_extracted"]
            if row["status"] != "running":
                break
            await asyncio.sleep(0.1)
        assert row["status"] == "success"
        assert seen_midway > 0, "the run showed its row counts while it ran"
        async with db.read() as conn:
            lines = await runs.logs_for(conn, run_id)
        assert any("rows extracted" in line["message"] for line in lines)

    with_engine(clean_database, scenario)
