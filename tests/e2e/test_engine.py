"""The engine as separate real processes on PostgreSQL: schedulers, workers, signals."""

from __future__ import annotations

import itertools
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from orcrustator.db.tables import job_runs, run_logs, task_runs
from tests.e2e.conftest import OrcProcess
from tests.e2e.engine_helpers import (
    insert_job,
    migrated_postgres,
    process_spawner,
    run_row,
    slow_task,
    sync_engine,
    trigger,
    wait_live,
    wait_until,
)

LEASE = 3.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    with migrated_postgres("orc_engine") as url:
        yield url


@pytest.fixture
def engine_db(pg_url: str) -> Iterator[sa.engine.Engine]:
    engine = sync_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def spawn(
    pg_url: str, orc_env: dict[str, str], tmp_path: Path, processes: list[OrcProcess]
) -> Callable[..., OrcProcess]:
    env = {
        **orc_env,
        "DATABASE_URL": pg_url,
        "ORC_LEASE_SECONDS": str(LEASE),
        "ORC_HEARTBEAT_SECONDS": "0.5",
        "ORC_DRAIN_SECONDS": "20",
    }
    return process_spawner(env, tmp_path, processes)


def wait_for_status(
    engine: sa.engine.Engine, run_id: uuid.UUID, statuses: set[str], timeout: float
) -> dict[str, Any]:
    return wait_until(
        lambda: (row := run_row(engine, run_id))["status"] in statuses and row, timeout
    )


def test_two_schedulers_two_workers_every_slot_exactly_once(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    job_id = insert_job(engine_db, "every-second", schedule="* * * * * *", max_active_runs=5)
    procs = [spawn("scheduler"), spawn("scheduler"), spawn("worker"), spawn("worker")]
    wait_live(engine_db, "scheduler", 2)
    wait_live(engine_db, "worker", 2)
    started = datetime.now(UTC)
    time.sleep(20)
    for proc in procs[:2]:
        assert proc.stop() == 0
    stopped = datetime.now(UTC)
    wait_until(lambda: _all_finished(engine_db, job_id), 15)
    for proc in procs[2:]:
        assert proc.stop() == 0
    with engine_db.connect() as conn:
        rows = conn.execute(
            sa.select(job_runs.c.scheduled_for, job_runs.c.status, job_runs.c.started_at)
            .where(job_runs.c.job_id == job_id)
            .order_by(job_runs.c.scheduled_for)
        ).all()
    slots = [r.scheduled_for for r in rows]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    # Every second between the first slot and the last one is there: none missed.
    expected = [slots[0] + timedelta(seconds=i) for i in range(len(slots))]
    assert slots == expected
    assert slots[0] <= started + timedelta(seconds=3)
    assert slots[-1] >= stopped - timedelta(seconds=3)
    assert {r.status for r in rows} == {"success"}
    delays = sorted((r.started_at - r.scheduled_for).total_seconds() for r in rows)
    # bench/control_plane.py measures start delay; here only that runs keep up with the slots.
    assert delays[len(delays) // 2] < 5, f"median start delay {delays[len(delays) // 2]} s"


def _all_finished(engine: sa.engine.Engine, job_id: uuid.UUID) -> bool:
    with engine.connect() as conn:
        live = conn.scalar(
            sa.select(sa.func.count())
            .select_from(job_runs)
            .where(job_runs.c.job_id == job_id, job_runs.c.status.in_(["queued", "running"]))
        )
    return live == 0


def test_sigkilled_worker_run_is_failed_within_the_lease(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    job_id = insert_job(engine_db, "doomed", tasks=[slow_task(60)])
    spawn("scheduler")  # the reaper runs in schedulers (and in live workers)
    wait_live(engine_db, "scheduler", 1)
    worker = spawn("worker")
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    wait_for_status(engine_db, run_id, {"running"}, 15)
    worker.stop(signal.SIGKILL)
    killed = time.monotonic()
    row = wait_for_status(engine_db, run_id, {"failed"}, LEASE + 15)
    assert time.monotonic() - killed < LEASE + 10
    assert "worker lost" in row["error_message"]


def test_sigkilled_worker_run_is_retried_by_another_worker(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    job_id = insert_job(
        engine_db, "resilient", tasks=[slow_task(3)], max_retries=1, retry_delay_seconds=0
    )
    first = spawn("worker")
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    wait_for_status(engine_db, run_id, {"running"}, 15)
    first.stop(signal.SIGKILL)
    spawn("worker")
    wait_live(engine_db, "worker", 1)
    row = wait_for_status(engine_db, run_id, {"success"}, LEASE + 30)
    assert row["attempt"] == 2
    with engine_db.connect() as conn:
        attempts = conn.execute(
            sa.select(task_runs.c.attempt, task_runs.c.status)
            .where(task_runs.c.run_id == run_id)
            .order_by(task_runs.c.attempt)
        ).all()
    assert [tuple(a) for a in attempts] == [(1, "failed"), (2, "success")]


def test_sigterm_drains_in_flight_runs(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    job_id = insert_job(engine_db, "drain", tasks=[slow_task(2)])
    worker = spawn("worker")
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    wait_for_status(engine_db, run_id, {"running"}, 15)
    assert worker.stop(signal.SIGTERM, timeout=30) == 0
    assert run_row(engine_db, run_id)["status"] == "success", "the in-flight run finished"


def test_sigterm_requeues_what_does_not_finish_in_time(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    job_id = insert_job(engine_db, "too-long", tasks=[slow_task(60)])
    worker = spawn("worker", ORC_DRAIN_SECONDS="1")
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    wait_for_status(engine_db, run_id, {"running"}, 15)
    assert worker.stop(signal.SIGTERM, timeout=30) == 0
    row = run_row(engine_db, run_id)
    assert (row["status"], row["worker_id"]) == ("queued", None)
    spawn("worker")
    wait_live(engine_db, "worker", 1)
    wait_for_status(engine_db, run_id, {"running"}, 15)


def test_cancel_queued_and_running(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess], pg_url: str
) -> None:
    from tests.e2e.engine_helpers import cancel

    job_id = insert_job(engine_db, "cancel-me", tasks=[slow_task(60)])
    queued = trigger(engine_db, job_id)
    cancel(pg_url, queued)
    assert run_row(engine_db, queued)["status"] == "cancelled"

    spawn("worker")
    wait_live(engine_db, "worker", 1)
    running = trigger(engine_db, job_id)
    wait_for_status(engine_db, running, {"running"}, 15)
    asked = time.monotonic()
    cancel(pg_url, running)
    row = wait_for_status(engine_db, running, {"cancelled"}, 10)
    assert time.monotonic() - asked < 5
    assert row["finished_at"] is not None


def test_timeout_really_stops_the_work(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    job_id = insert_job(engine_db, "slowpoke", tasks=[slow_task(60)], timeout_seconds=2)
    spawn("worker")
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    row = wait_for_status(engine_db, run_id, {"failed"}, 15)
    assert "timed out" in row["error_message"]
    assert (row["finished_at"] - row["started_at"]).total_seconds() < 5


def test_retries_back_off_exponentially(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    failing = {
        "extractor_config": {"type": "generate", "rows": 10, "fail_after_rows": 5},
        "loader_config": {"type": "null"},
    }
    job_id = insert_job(engine_db, "flaky", tasks=[failing], max_retries=2, retry_delay_seconds=1)
    spawn("worker")
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    row = wait_for_status(engine_db, run_id, {"failed"}, 30)
    assert row["attempt"] == 3
    with engine_db.connect() as conn:
        starts = (
            conn.execute(
                sa.select(task_runs.c.started_at)
                .where(task_runs.c.run_id == run_id)
                .order_by(task_runs.c.attempt)
            )
            .scalars()
            .all()
        )
        messages = (
            conn.execute(sa.select(run_logs.c.message).where(run_logs.c.run_id == run_id))
            .scalars()
            .all()
        )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 2
    assert 1.0 <= gaps[0] < 3.0
    assert 2.0 <= gaps[1] < 5.0
    assert any("retrying in 1 s" in m for m in messages)
    assert any("retrying in 2 s" in m for m in messages)


def test_scheduler_restart_loses_no_slot(
    engine_db: sa.engine.Engine, spawn: Callable[..., OrcProcess]
) -> None:
    plain = insert_job(engine_db, "plain", schedule="*/2 * * * * *", max_active_runs=10)
    caught = insert_job(
        engine_db, "caught-up", schedule="*/2 * * * * *", max_active_runs=10, catchup=True
    )
    first = spawn("scheduler")
    wait_live(engine_db, "scheduler", 1)
    time.sleep(5)
    assert first.stop() == 0
    time.sleep(7)  # three or four slots pass with no scheduler running
    second = spawn("scheduler")
    wait_live(engine_db, "scheduler", 1)
    time.sleep(4)
    assert second.stop() == 0
    with engine_db.connect() as conn:

        def slots(job_id: uuid.UUID) -> list[datetime]:
            return list(
                conn.execute(
                    sa.select(job_runs.c.scheduled_for)
                    .where(job_runs.c.job_id == job_id)
                    .order_by(job_runs.c.scheduled_for)
                ).scalars()
            )

        caught_slots, plain_slots = slots(caught), slots(plain)
    steps = [(b - a).total_seconds() for a, b in itertools.pairwise(caught_slots)]
    assert set(steps) == {2.0}, "with catchup every missed slot is enqueued"
    plain_steps = [(b - a).total_seconds() for a, b in itertools.pairwise(plain_slots)]
    assert max(plain_steps) >= 6.0, "without catchup the gap stays a gap"
    assert plain_steps.count(2.0) >= len(plain_steps) - 2, "…but only the one gap"
