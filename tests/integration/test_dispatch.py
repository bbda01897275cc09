"""Claiming, fencing, reaping and slot uniqueness against the real databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from orcrustator.db.engine import Database
from orcrustator.db.repo import dispatch, jobs, runs
from orcrustator.db.repo import schedule as schedule_repo
from orcrustator.db.tables import job_runs, run_logs, task_runs
from orcrustator.db.urls import parse_database_url

T = TypeVar("T")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def run_db(database_url: str, action: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(parse_database_url(database_url), pool_size=4)
        try:
            return await action(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


async def make_job(db: Database, name: str, **options: Any) -> uuid.UUID:
    values = {"job_name": name, "schedule": "* * * * *", **options}
    task = {
        "task_order": 1,
        "extractor_config": {"type": "generate", "rows": 1},
        "loader_config": {"type": "null"},
    }
    async with db.write() as conn:
        job = await jobs.create(conn, values, [task])
    return uuid.UUID(str(job["job_id"]))


async def trigger(db: Database, job_id: uuid.UUID, count: int = 1) -> list[uuid.UUID]:
    ids = []
    async with db.write() as conn:
        for _ in range(count):
            ids.append((await runs.create_manual(conn, job_id))["run_id"])
    return ids


async def claim(db: Database, worker: str, limit: int, now: datetime = NOW) -> list[Any]:
    async with db.write() as conn:
        return await dispatch.claim(conn, worker_id=worker, limit=limit, now=now)


async def record(db: Database, fill: Callable[[dispatch.RunWrites], None]) -> None:
    writes = dispatch.RunWrites()
    fill(writes)
    async with db.write() as conn:
        await dispatch.apply(conn, writes)


def finishing(run: Any, worker: str, status: str = "success") -> Callable[[Any], None]:
    return lambda w: w.finish(run, worker_id=worker, status=status, error_message=None, now=NOW)


async def status_of(db: Database, run_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as conn:
        return await runs.get(conn, run_id)


def test_claim_takes_queued_runs_with_their_task_snapshot(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "a", max_active_runs=5)
        await trigger(db, job_id, 3)
        claimed = await claim(db, "w1", 10)
        assert len(claimed) == 3
        assert claimed[0].tasks[0].extractor_config == {"type": "generate", "rows": 1}
        row = await status_of(db, claimed[0].run_id)
        assert row["status"] == "running"
        assert row["worker_id"] == "w1"
        assert row["config_snapshot"][0]["loader_config"] == {"type": "null"}
        assert await claim(db, "w2", 10) == []

    run_db(clean_database, scenario)


def test_max_active_runs_holds_back_the_next_run(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "serial")  # max_active_runs defaults to 1
        first, second = await trigger(db, job_id, 2)
        claimed = await claim(db, "w1", 10)
        assert [c.run_id for c in claimed] == [first]
        assert await claim(db, "w2", 10) == []
        await record(db, finishing(claimed[0], "w1"))
        assert (await status_of(db, first))["status"] == "success"
        assert [c.run_id for c in await claim(db, "w2", 10)] == [second]

    run_db(clean_database, scenario)


def test_concurrent_claimers_never_exceed_max_active_runs(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "capped", max_active_runs=3)
        await trigger(db, job_id, 20)
        results = await asyncio.gather(*(claim(db, f"w{i}", 5) for i in range(6)))
        assert sum(len(r) for r in results) == 3

    run_db(clean_database, scenario)


def test_not_before_delays_a_retry(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "retry", max_retries=2, retry_delay_seconds=10)
        await trigger(db, job_id)
        (run,) = await claim(db, "w1", 1)
        await record(db, lambda w: w.retry(run, worker_id="w1", error_message="boom", now=NOW))
        row = await status_of(db, run.run_id)
        assert (row["status"], row["attempt"]) == ("queued", 2)
        assert row["not_before"] == NOW + timedelta(seconds=10)
        assert await claim(db, "w1", 1, now=NOW + timedelta(seconds=9)) == []
        (again,) = await claim(db, "w1", 1, now=NOW + timedelta(seconds=10))
        assert again.attempt == 2
        assert again.backoff() == timedelta(seconds=20), "exponential: 10 s, then 20 s"

    run_db(clean_database, scenario)


def test_a_lost_worker_cannot_overwrite_the_new_attempt(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "fenced", max_retries=1, retry_delay_seconds=0)
        await trigger(db, job_id)
        (run,) = await claim(db, "w1", 1)
        async with db.write() as conn:
            reaped = await dispatch.reap(conn, lease_seconds=30, now=NOW + timedelta(seconds=31))
        assert [r["outcome"] for r in reaped] == ["retried"]
        (second,) = await claim(db, "w2", 1, now=NOW + timedelta(seconds=32))
        async with db.write() as conn:
            owned = await dispatch.heartbeat(
                conn, worker_id="w1", runs=[(run.run_id, run.attempt)], now=NOW
            )
        await record(db, finishing(run, "w1"))  # the lost worker's late outcome: fenced off
        assert owned == {}
        row = await status_of(db, run.run_id)
        assert (row["status"], row["attempt"], row["worker_id"]) == ("running", 2, "w2")
        assert second.attempt == 2

    run_db(clean_database, scenario)


def test_reaper_fails_a_run_without_retries_left(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "lost")
        (run_id,) = await trigger(db, job_id)
        await claim(db, "w1", 1)
        async with db.write() as conn:
            assert (
                await dispatch.reap(conn, lease_seconds=30, now=NOW + timedelta(seconds=29)) == []
            )
            reaped = await dispatch.reap(conn, lease_seconds=30, now=NOW + timedelta(seconds=31))
        assert [r["outcome"] for r in reaped] == ["failed"]
        row = await status_of(db, run_id)
        assert row["status"] == "failed"
        assert "worker lost" in row["error_message"]
        async with db.read() as conn:
            messages = (await conn.execute(sa.select(run_logs.c.message))).scalars().all()
        assert any("worker lost" in m for m in messages)

    run_db(clean_database, scenario)


def test_a_slot_is_enqueued_once_however_many_schedulers(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "cron")
        slot = datetime(2026, 5, 1, 12, 1, tzinfo=UTC)

        async def enqueue() -> int:
            async with db.write() as conn:
                return await schedule_repo.enqueue_slots(conn, [(job_id, slot)], now=NOW)

        inserted = await asyncio.gather(*(enqueue() for _ in range(5)))
        assert sum(inserted) == 1
        async with db.read() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(job_runs).where(job_runs.c.job_id == job_id)
            )
            (active,) = await schedule_repo.active_jobs(conn)
        assert count == 1
        assert active.last_slot == slot

    run_db(clean_database, scenario)


def test_cancel_of_a_running_run_flags_it_for_the_worker(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "cancel")
        (run_id,) = await trigger(db, job_id)
        (run,) = await claim(db, "w1", 1)
        async with db.write() as conn:
            row = await runs.request_cancel(conn, run_id)
        assert (row["status"], row["cancel_requested"]) == ("running", True)
        async with db.write() as conn:
            owned = await dispatch.heartbeat(
                conn, worker_id="w1", runs=[(run.run_id, run.attempt)], now=NOW
            )
        assert owned == {run_id: True}

    run_db(clean_database, scenario)


@pytest.mark.parametrize("history", [2000])
def test_claim_ignores_finished_history(clean_database: str, history: int) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "busy", max_active_runs=10)
        async with db.write() as conn:
            await conn.execute(
                sa.insert(job_runs),
                [
                    {
                        "run_id": uuid.uuid4(),
                        "job_id": job_id,
                        "status": "success",
                        "triggered_by": "manual",
                        "created_at": NOW - timedelta(seconds=i),
                    }
                    for i in range(history)
                ],
            )
        (queued,) = await trigger(db, job_id)
        assert [c.run_id for c in await claim(db, "w1", 5)] == [queued]

    run_db(clean_database, scenario)


def test_claim_records_each_runs_first_task_run(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "first-task", max_active_runs=5)
        await trigger(db, job_id, 2)
        claimed = await claim(db, "w1", 5)
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(task_runs))).all()
        assert {r.task_run_id for r in rows} == {c.first_task_run_id for c in claimed}
        assert {(r.status, r.attempt, r.task_order) for r in rows} == {("running", 1, 1)}

    run_db(clean_database, scenario)


def test_writes_of_many_runs_apply_in_one_batch_and_again_harmlessly(
    clean_database: str,
) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "batch", max_active_runs=10, max_retries=1)
        await trigger(db, job_id, 4)
        a, b, c, d = await claim(db, "w1", 10)
        writes = dispatch.RunWrites()
        for run in (a, b, c):
            writes.task_result(
                run.first_task_run_id,
                status="success",
                finished_at=NOW,
                rows_extracted=3,
                rows_loaded=3,
                bytes_loaded=30,
                error_message=None,
            )
            writes.log(run.run_id, [(NOW, "INFO", f"done {run.run_id}")])
        second_task = d.tasks[0]
        started = writes.start_task(d, second_task, NOW)
        writes.finish(a, worker_id="w1", status="success", error_message=None, now=NOW)
        writes.finish(b, worker_id="w1", status="failed", error_message="bad", now=NOW)
        writes.retry(c, worker_id="w1", error_message="flaky", now=NOW)
        for _ in range(2):  # a commit whose acknowledgement was lost is applied again
            async with db.write() as conn:
                await dispatch.apply(conn, writes)
        assert [(await status_of(db, r.run_id))["status"] for r in (a, b, c, d)] == [
            "success",
            "failed",
            "queued",
            "running",
        ]
        assert (await status_of(db, c.run_id))["attempt"] == 2
        async with db.read() as conn:
            task_rows = {r.task_run_id: r for r in (await conn.execute(sa.select(task_runs)))}
            log_count = await conn.scalar(sa.select(sa.func.count()).select_from(run_logs))
        assert task_rows[a.first_task_run_id].rows_loaded == 3
        assert task_rows[started].status == "running"
        assert len(task_rows) == 5  # four first task runs and the one started: no duplicate
        assert log_count == 6  # each batch's three lines (logs are not deduplicated)

    run_db(clean_database, scenario)


def test_a_deleted_runs_writes_do_not_fail_the_others(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        kept_job = await make_job(db, "kept")
        doomed_job = await make_job(db, "doomed")
        await trigger(db, kept_job)
        await trigger(db, doomed_job)
        claimed = {c.job_id: c for c in await claim(db, "w1", 5)}
        async with db.write() as conn:
            await jobs.delete(conn, doomed_job)  # its running run goes with it
        writes = dispatch.RunWrites()
        for run in claimed.values():
            writes.log(run.run_id, [(NOW, "INFO", "finished")])
            writes.start_task(run, run.tasks[0], NOW)
            writes.finish(run, worker_id="w1", status="success", error_message=None, now=NOW)
        async with db.write() as conn:
            await dispatch.apply(conn, writes)
        assert (await status_of(db, claimed[kept_job].run_id))["status"] == "success"

    run_db(clean_database, scenario)


def test_a_task_result_cannot_overwrite_the_reapers_verdict(clean_database: str) -> None:
    async def scenario(db: Database) -> None:
        job_id = await make_job(db, "reaped")
        await trigger(db, job_id)
        (run,) = await claim(db, "w1", 1)
        async with db.write() as conn:
            await dispatch.reap(conn, lease_seconds=30, now=NOW + timedelta(seconds=31))
        await record(
            db,
            lambda w: w.task_result(
                run.first_task_run_id,
                status="success",
                finished_at=NOW,
                rows_extracted=1,
                rows_loaded=1,
                bytes_loaded=1,
                error_message=None,
            ),
        )
        async with db.read() as conn:
            row = (await conn.execute(sa.select(task_runs))).one()
        assert row.status == "failed"
        assert "worker lost" in row.error_message

    run_db(clean_database, scenario)
