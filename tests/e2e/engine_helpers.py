"""Set-up helpers for engine tests: jobs and runs written straight into the test database."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from orcrustator.db import migrate
from orcrustator.db.engine import Database
from orcrustator.db.repo import runs as runs_repo
from orcrustator.db.tables import job_definitions, job_runs, service_instances, task_definitions
from orcrustator.db.urls import parse_database_url
from tests.conftest import create_postgres_database, drop_postgres_database, postgres_server_url
from tests.e2e.conftest import OrcProcess

T = TypeVar("T")
Spawn = Callable[..., OrcProcess]

TRIVIAL_TASK: dict[str, Any] = {
    "extractor_config": {"type": "generate", "rows": 1},
    "loader_config": {"type": "null"},
}


def insert_job(
    engine: sa.engine.Engine,
    name: str,
    *,
    schedule: str = "0 0 1 1 *",
    tasks: list[dict[str, Any]] | None = None,
    **options: Any,
) -> uuid.UUID:
    job_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(job_definitions).values(
                job_id=job_id,
                job_name=name,
                schedule=schedule,
                created_at=now,
                updated_at=now,
                **options,
            )
        )
        for order, task in enumerate(tasks or [TRIVIAL_TASK], start=1):
            conn.execute(
                sa.insert(task_definitions).values(
                    task_id=uuid.uuid4(),
                    job_id=job_id,
                    task_order=order,
                    created_at=now,
                    updated_at=now,
                    **task,
                )
            )
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_notify('orc_jobs', '')"))
    return job_id


def trigger(engine: sa.engine.Engine, job_id: uuid.UUID) -> uuid.UUID:
    run_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(job_runs).values(
                run_id=run_id,
                job_id=job_id,
                status="queued",
                triggered_by="manual",
                created_at=datetime.now(UTC),
            )
        )
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_notify('orc_runs', '')"))
    return run_id


def cancel(url: str, run_id: uuid.UUID) -> None:
    """Cancel through the same repository function the API route calls."""

    async def main() -> None:
        db = Database(parse_database_url(url), pool_size=1)
        try:
            async with db.write() as conn:
                await runs_repo.request_cancel(conn, run_id)
        finally:
            await db.dispose()

    asyncio.run(main())


def wait_until(check: Callable[[], T | bool | None], timeout: float, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last  # type: ignore[return-value]
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


def wait_live(engine: sa.engine.Engine, role: str, count: int, timeout: float = 60) -> None:
    """Wait until `count` processes of `role` have heart-beaten (they are up and working)."""

    def live() -> bool:
        with engine.connect() as conn:
            found = conn.scalar(
                sa.select(sa.func.count())
                .select_from(service_instances)
                .where(service_instances.c.role == role, service_instances.c.stopped_at.is_(None))
            )
        return (found or 0) >= count

    wait_until(live, timeout)


@contextlib.contextmanager
def migrated_postgres(prefix: str) -> Iterator[str]:
    """A fresh, migrated database on the test server, dropped afterwards; yields its URL."""
    url = create_postgres_database(postgres_server_url(), prefix)
    try:
        migrate.upgrade(parse_database_url(url))
        yield url
    finally:
        drop_postgres_database(url)


def sync_engine(url: str) -> sa.engine.Engine:
    return sa.create_engine(parse_database_url(url).sync_url, poolclass=sa.pool.NullPool)


def process_spawner(env: dict[str, str], workdir: Path, processes: list[OrcProcess]) -> Spawn:
    """`spawn("worker", ORC_X="1")` starts `orc worker` with `env` (plus extras) in `workdir`;
    every process lands in `processes`, which the fixture stops by PID."""
    counter = itertools.count()

    def start(*args: str, **extra_env: str) -> OrcProcess:
        proc = OrcProcess(list(args), {**env, **extra_env}, workdir, f"{args[0]}-{next(counter)}")
        processes.append(proc)
        return proc

    return start


def run_row(engine: sa.engine.Engine, run_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(job_runs).where(job_runs.c.run_id == run_id)).one()._mapping
        )


def slow_task(seconds: float, rows: int = 20) -> dict[str, Any]:
    """A task that takes about `seconds`, in `rows` one-row batches (cancellable between them)."""
    return {
        "extractor_config": {
            "type": "generate",
            "rows": rows,
            "batch_size": 1,
            "sleep_seconds": seconds / rows,
        },
        "loader_config": {"type": "null"},
    }
