"""The api's hot reads, executed by psycopg on PostgreSQL: the same records as SQLAlchemy's
path, SQLAlchemy's exceptions, and a connection that broke mid-read is not reused."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from orcrustator.db.engine import Database
from orcrustator.db.repo import jobs as jobs_repo
from orcrustator.db.repo import runs as runs_repo
from orcrustator.db.repo import tasks as tasks_repo
from orcrustator.db.repo._fast_reads import fetch_records
from orcrustator.db.repo._rows import as_records
from orcrustator.db.tables import job_runs, run_logs
from orcrustator.db.urls import parse_database_url

TASK = {
    "task_order": 1,
    "extractor_config": {"type": "generate", "rows": 3, "nested": {"list": [1, "two", None]}},
    "loader_config": {"type": "null"},
}


async def _seed(db: Database) -> tuple[uuid.UUID, list[uuid.UUID]]:
    async with db.write() as conn:
        job = await jobs_repo.create(
            conn,
            {"job_name": "fast-reads", "schedule": "*/5 * * * *", "description": "d ü 'q'"},
            [TASK],
        )
        job_id = job["job_id"]
        base = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)  # a DST night in Europe
        run_ids = [uuid.uuid4() for _ in range(5)]
        for i, run_id in enumerate(run_ids):
            await conn.execute(
                sa.insert(job_runs).values(
                    run_id=run_id,
                    job_id=job_id,
                    status="success" if i % 2 else "failed",
                    triggered_by="manual",
                    created_at=base + timedelta(microseconds=i),
                    started_at=base + timedelta(seconds=1),
                    finished_at=None if i == 0 else base + timedelta(seconds=2 + i),
                    error_message=None if i % 2 else f"boom {i}",
                    attempt=1,
                )
            )
            await conn.execute(
                sa.insert(run_logs).values(
                    run_id=run_id, ts=base, level="INFO", message=f"line ü {i}"
                )
            )
    return job_id, run_ids


def test_fast_reads_match_sqlalchemy_records(clean_database: str) -> None:
    """Every hot statement, both ways, on each backend: equal values of equal types."""
    db = Database(parse_database_url(clean_database), pool_size=2)

    async def scenario() -> list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
        try:
            job_id, run_ids = await _seed(db)
            after = (datetime(2026, 3, 29, 1, 0, 0, 2, tzinfo=UTC), run_ids[4])
            cases: list[tuple[str, Any, dict[str, Any]]] = [
                (
                    "runs page past an offset",
                    runs_repo._page_query(
                        by_status=False, by_job=False, by_cursor=False, skipping=True
                    ),
                    {"limit": 10, "offset": 1},
                ),
                (
                    "runs first page",
                    runs_repo._page_query(
                        by_status=False, by_job=False, by_cursor=False, skipping=False
                    ),
                    {"limit": 10},
                ),
                (
                    "jobs first page",
                    jobs_repo._page_query(
                        None, postgres=not db.url.is_sqlite, by_cursor=False, skipping=False
                    ),
                    {"limit": 10},
                ),
                (
                    "runs page after a cursor, by status and job",
                    runs_repo._page_query(
                        by_status=True, by_job=True, by_cursor=True, skipping=False
                    ),
                    {
                        "limit": 10,
                        "status": "success",
                        "job_id": job_id,
                        "after_created_at": after[0],
                        "after_run_id": after[1],
                    },
                ),
                (
                    "runs count",
                    runs_repo._count_query(by_status=True, by_job=True),
                    {"status": "success", "job_id": job_id},
                ),
                ("active jobs count", jobs_repo._count_query(True), {}),
                ("run", runs_repo._GET, {"run_id": run_ids[2]}),
                ("logs", runs_repo._LOGS, {"run_id": run_ids[1], "after_id": 0, "limit": 9}),
                ("job", jobs_repo._GET, {"job_id": job_id}),
                ("tasks", tasks_repo._FOR_JOB, {"job_id": job_id}),
            ]
            results = []
            async with db.read() as conn:
                for name, statement, params in cases:
                    fast = await fetch_records(conn, statement, params)
                    # Twice more: psycopg prepares a statement after a few executions.
                    for _ in range(6):
                        assert await fetch_records(conn, statement, params) == fast, name
                    plain = as_records(await conn.execute(statement, params))
                    results.append((name, fast, plain))
            return results
        finally:
            await db.dispose()

    for name, fast, plain in asyncio.run(scenario()):
        assert fast, name
        assert fast == plain, name
        for fast_row, plain_row in zip(fast, plain, strict=True):
            assert list(fast_row) == list(plain_row), name
            for key, value in fast_row.items():
                assert type(value) is type(plain_row[key]), (name, key)
                if isinstance(value, datetime):
                    assert value.utcoffset() == timedelta(0), (name, key)


def test_database_errors_are_sqlalchemy_errors(clean_database: str) -> None:
    url = parse_database_url(clean_database)
    if url.is_sqlite:
        pytest.skip("SQLite reads go through SQLAlchemy itself")
    db = Database(url, pool_size=1)

    async def scenario() -> None:
        try:
            async with db.read() as conn:
                with pytest.raises(sa.exc.DataError) as refused:
                    await fetch_records(conn, runs_repo._GET, {"run_id": "not-a-uuid"})
                assert isinstance(refused.value.orig, psycopg.DataError)
                assert not refused.value.connection_invalidated
                # The connection is still good for the next statement.
                assert await fetch_records(conn, runs_repo._GET, {"run_id": uuid.uuid4()}) == []

            async with db.read() as conn:
                pid = int(await conn.scalar(sa.text("SELECT pg_backend_pid()")) or 0)
                libpq = url.sync_url.set(drivername="postgresql").render_as_string(
                    hide_password=False
                )
                with psycopg.connect(libpq, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                await asyncio.sleep(0.2)
                with pytest.raises(sa.exc.OperationalError) as lost:
                    await fetch_records(conn, runs_repo._GET, {"run_id": uuid.uuid4()})
                assert lost.value.connection_invalidated

            # The pool hands out a working connection afterwards, not the one that broke.
            async with db.read() as conn:
                assert await fetch_records(conn, runs_repo._GET, {"run_id": uuid.uuid4()}) == []
                assert int(await conn.scalar(sa.text("SELECT pg_backend_pid()")) or 0) != pid
        finally:
            await db.dispose()

    asyncio.run(scenario())
