"""The run tables are vacuumed once their dead rows pile up, and left alone before."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from orcrustator.db import upkeep
from orcrustator.db.engine import Database
from orcrustator.db.urls import parse_database_url
from orcrustator.scheduler.service import keep_run_tables_vacuumed

RUNS = 6_000  # each updated twice below: 12,000 dead versions, over MIN_DEAD_ROWS


def _libpq(url: str) -> str:
    parsed = parse_database_url(url)
    return parsed.sync_url.set(drivername="postgresql").render_as_string(hide_password=False)


def _churn(url: str, runs: int) -> None:
    """Queue `runs` runs of one job, then move each to running and to success, as workers do."""
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        job_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO job_definitions (job_id, job_name, schedule) VALUES (%s, %s, '@daily')",
            (job_id, f"churn-{job_id}"),
        )
        conn.execute(
            "INSERT INTO job_runs (run_id, job_id, status, triggered_by, scheduled_for) "
            "SELECT gen_random_uuid(), %s, 'queued', 'scheduled', "
            "now() - make_interval(mins => i) FROM generate_series(1, %s) AS i",
            (job_id, runs),
        )
        conn.execute("UPDATE job_runs SET status = 'running' WHERE job_id = %s", (job_id,))
        conn.execute("UPDATE job_runs SET status = 'success' WHERE job_id = %s", (job_id,))
        conn.execute("SELECT pg_stat_force_next_flush()")


def _dead_rows(url: str) -> int:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'job_runs'"
        ).fetchone()
        return int(row[0]) if row else 0


def test_run_tables_are_vacuumed_once_dead_rows_pile_up(clean_database: str) -> None:
    db = Database(parse_database_url(clean_database), pool_size=1)

    async def vacuum() -> list[str]:
        try:
            return await upkeep.vacuum_bloated(db)
        finally:
            await db.dispose()

    if db.is_sqlite:
        assert asyncio.run(vacuum()) == []  # nothing to do: SQLite drops index entries itself
        return

    _churn(clean_database, 100)  # 200 dead versions: not worth a pass
    assert asyncio.run(vacuum()) == []

    _churn(clean_database, RUNS)
    assert _dead_rows(clean_database) >= 2 * RUNS
    db = Database(parse_database_url(clean_database), pool_size=1)
    assert asyncio.run(vacuum()) == ["job_runs"]
    assert _dead_rows(clean_database) < upkeep.MIN_DEAD_ROWS

    db = Database(parse_database_url(clean_database), pool_size=1)
    assert asyncio.run(vacuum()) == [], "a second look finds nothing left to do"


def test_the_vacuum_loop_stops_when_asked(clean_database: str) -> None:
    url = parse_database_url(clean_database)
    if url.is_sqlite:
        pytest.skip("the loop has nothing to vacuum on SQLite")

    async def scenario() -> None:
        db = Database(url, pool_size=1)
        stop = asyncio.Event()
        try:
            loop = asyncio.create_task(keep_run_tables_vacuumed(db, stop))
            await asyncio.sleep(0.2)
            assert not loop.done()
            stop.set()
            await asyncio.wait_for(loop, 5)
        finally:
            await db.dispose()

    asyncio.run(scenario())
