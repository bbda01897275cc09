"""Fault injection: real `orc` processes on PostgreSQL, broken on purpose.

Each test states the promise it checks (design §7) in its docstring. The figures the tests
measure (detection and recovery times) are printed on one `FAULT …` line each, so that
`pytest -s` shows them; docs/operations.md quotes them.

What test_engine.py already covers is not repeated here (a killed worker's run failed or retried
with a slow no-op task, graceful drain, a timeout of a task that sleeps in Python, a plain
scheduler restart); these tests go further: a kill in the middle of a real COPY, schedulers killed
outright, the database itself going away, a full disk, and a plugin blocked inside the server.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from orcrustator.db import migrate
from orcrustator.db.tables import job_runs, task_runs
from orcrustator.db.urls import parse_database_url
from tests.e2e.conftest import OrcProcess, free_port
from tests.e2e.engine_helpers import (
    Spawn,
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
from tests.e2e.private_postgres import PrivatePostgres, unavailable

LEASE = 3.0
ADMIN_PASSWORD = "fault-admin-password"


def figure(name: str, seconds: float) -> None:
    print(f"FAULT {name}: {seconds:.2f} s")


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def pg_url() -> Iterator[str]:
    with migrated_postgres("orc_faults") as url:
        yield url


@pytest.fixture
def engine_db(pg_url: str) -> Iterator[sa.engine.Engine]:
    engine = sync_engine(pg_url)
    yield engine
    engine.dispose()


def spawner(url: str, orc_env: dict[str, str], workdir: Path, processes: list[OrcProcess]) -> Spawn:
    env = {
        **orc_env,
        "DATABASE_URL": url,
        "ORC_LEASE_SECONDS": str(LEASE),
        "ORC_HEARTBEAT_SECONDS": "0.5",
        "ORC_POLL_SECONDS": "0.5",
        "ORC_DRAIN_SECONDS": "10",
        "ORC_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    return process_spawner(env, workdir, processes)


@pytest.fixture
def spawn(
    pg_url: str, orc_env: dict[str, str], tmp_path: Path, processes: list[OrcProcess]
) -> Spawn:
    return spawner(pg_url, orc_env, tmp_path, processes)


# --- helpers -------------------------------------------------------------------------------
def wait_for_run(
    engine: sa.engine.Engine,
    run_id: uuid.UUID,
    timeout: float,
    check: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    def poll() -> dict[str, Any] | None:
        row = run_row(engine, run_id)
        return row if check(row) else None

    return wait_until(poll, timeout)


def backends(engine: sa.engine.Engine, like: str) -> list[int]:
    """PIDs of server backends (other than ours) whose current query contains `like`."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                    "AND query LIKE :pattern"
                ),
                {"pattern": f"%{like}%"},
            ).scalars()
        )


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (executors, the fork server), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running, and not a zombie left for an init that does not reap."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def slots_of(engine: sa.engine.Engine, job_id: uuid.UUID) -> list[datetime]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(job_runs.c.scheduled_for)
                .where(job_runs.c.job_id == job_id)
                .order_by(job_runs.c.scheduled_for)
            ).scalars()
        )


def doubled_slots(engine: sa.engine.Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(job_runs.c.job_id, job_runs.c.scheduled_for, sa.func.count())
                .where(job_runs.c.scheduled_for.is_not(None))
                .group_by(job_runs.c.job_id, job_runs.c.scheduled_for)
                .having(sa.func.count() > 1)
            ).all()
        )


def steps(slots: list[datetime]) -> list[float]:
    return [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]


def unfinished(engine: sa.engine.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(job_runs)
                .where(job_runs.c.status.in_(["queued", "running"]))
            )
            or 0
        )


def finished(row: dict[str, Any]) -> bool:
    return row["status"] not in ("queued", "running")


# --- 1. a worker killed in the middle of a load --------------------------------------------
def test_worker_sigkilled_mid_copy_leaves_no_partial_rows(
    engine_db: sa.engine.Engine, spawn: Spawn, pg_url: str
) -> None:
    """SIGKILL a worker while its executor streams rows into PostgreSQL by binary COPY.

    Expected: the executor does not outlive its worker (its COPY backend goes away and the
    transaction rolls back: the table it was creating does not exist); the reaper notices within
    the lease (3 s) and queues attempt 2 with "worker lost"; another worker then loads every row
    exactly once (no partial and no duplicated rows).
    """
    rows, table = 100_000, f"fault_load_{uuid.uuid4().hex[:8]}"
    load = {
        # 40 batches 0.1 s apart: a load of about 4 s, killed in its first second
        "extractor_config": {
            "type": "generate",
            "rows": rows,
            "batch_size": 2_500,
            "sleep_seconds": 0.1,
        },
        "loader_config": {"type": "postgres", "url": pg_url, "table": table},
    }
    job_id = insert_job(
        engine_db, "killed-mid-load", tasks=[load], max_retries=1, retry_delay_seconds=0
    )
    spawn("scheduler")  # reaps the lost run
    worker = spawn("worker", "--concurrency", "1")
    wait_live(engine_db, "scheduler", 1)
    wait_live(engine_db, "worker", 1)
    run_id = trigger(engine_db, job_id)
    copying = wait_until(lambda: backends(engine_db, f'COPY "public" . "{table}"'), 30)
    executors = descendants(worker.process.pid)
    assert executors, "the worker has executor processes"

    worker.stop(signal.SIGKILL)
    killed = time.monotonic()
    wait_until(lambda: not any(alive(pid) for pid in executors), 10)
    figure("orphaned executor gone after worker SIGKILL", time.monotonic() - killed)
    wait_until(lambda: not backends(engine_db, f'COPY "public" . "{table}"'), 10)
    assert copying  # the backend that was copying has ended with its client

    row = wait_for_run(
        engine_db, run_id, LEASE + 15, lambda r: r["status"] == "queued" and r["attempt"] == 2
    )
    detected = time.monotonic() - killed
    figure(f"lost worker detected (lease {LEASE:g} s)", detected)
    assert detected < LEASE + 10
    assert "worker lost" in row["error_message"]
    with engine_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT to_regclass(:t)"), {"t": table}) is None, (
            "the killed attempt left a table behind"
        )

    spawn("worker", "--concurrency", "1")
    row = wait_for_run(engine_db, run_id, 60, lambda r: r["status"] not in ("queued", "running"))
    assert (row["status"], row["attempt"]) == ("success", 2), row["error_message"]
    with engine_db.connect() as conn:
        total, distinct = conn.execute(
            sa.text(f'SELECT count(*), count(DISTINCT id) FROM "{table}"')
        ).one()
        attempts = conn.execute(
            sa.select(task_runs.c.attempt, task_runs.c.status, task_runs.c.rows_loaded)
            .where(task_runs.c.run_id == run_id)
            .order_by(task_runs.c.attempt)
        ).all()
    assert (total, distinct) == (rows, rows)
    assert [(a.attempt, a.status) for a in attempts] == [(1, "failed"), (2, "success")]
    assert attempts[1].rows_loaded == rows


# --- 2. schedulers killed on a one-second schedule -----------------------------------------
def test_scheduler_sigkilled_another_continues_without_doubling(
    engine_db: sa.engine.Engine, spawn: Spawn
) -> None:
    """Two schedulers on two every-second jobs; SIGKILL one, then the other, then restart one.

    Expected: while one survives, every second still gets its run (no gap at the first kill);
    with none running for a few seconds, the `catchup` job gets every missed slot on restart and
    the plain job one gap with only the latest missed slot; no (job, slot) ever has two runs
    (the unique index decides, and the counts say so).
    """
    plain = insert_job(engine_db, "tick-plain", schedule="* * * * * *", max_active_runs=100)
    caught = insert_job(
        engine_db, "tick-catchup", schedule="* * * * * *", max_active_runs=100, catchup=True
    )
    first, second = spawn("scheduler"), spawn("scheduler")
    wait_live(engine_db, "scheduler", 2)
    wait_until(lambda: len(slots_of(engine_db, plain)) >= 3, 20)

    first.stop(signal.SIGKILL)
    first_killed = datetime.now(UTC)
    # The survivor carries on alone for a few slots.
    wait_until(
        lambda: all(
            (s := slots_of(engine_db, j)) and s[-1] >= first_killed + timedelta(seconds=4)
            for j in (plain, caught)
        ),
        20,
    )
    second.stop(signal.SIGKILL)
    second_killed = datetime.now(UTC)
    time.sleep(4)  # the outage: no scheduler at all
    restarted = datetime.now(UTC)
    third = spawn("scheduler")
    wait_until(
        lambda: all(
            (s := slots_of(engine_db, j)) and s[-1] >= restarted + timedelta(seconds=3)
            for j in (plain, caught)
        ),
        30,
    )
    assert third.stop() == 0

    assert doubled_slots(engine_db) == [], "a (job, slot) has two runs"
    with engine_db.connect() as conn:
        unique = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'job_runs'::regclass AND i.indisunique AND "
                "(SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a "
                " WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) "
                "= ARRAY['job_id', 'scheduled_for']"
            )
        )
        lags = conn.execute(
            sa.select(
                job_runs.c.scheduled_for,
                (
                    sa.extract("epoch", job_runs.c.created_at)
                    - sa.extract("epoch", job_runs.c.scheduled_for)
                ).label("lag"),
            ).where(
                job_runs.c.job_id == plain,
                job_runs.c.scheduled_for > first_killed,
                job_runs.c.scheduled_for <= second_killed,
            )
        ).all()
    assert unique == 1, "UNIQUE (job_id, scheduled_for) exists"

    caught_steps = steps(slots_of(engine_db, caught))
    assert set(caught_steps) == {1.0}, f"catchup: every second has its run ({caught_steps})"
    plain_slots = slots_of(engine_db, plain)
    plain_steps = steps(plain_slots)
    gaps = [(a, b) for a, b in itertools.pairwise(plain_slots) if (b - a).total_seconds() > 1]
    assert len(gaps) == 1, f"without catchup one gap, the outage's ({plain_steps})"
    gap_start, gap_end = gaps[0]
    assert gap_start >= second_killed - timedelta(seconds=2)
    # The slot after the gap is the latest one due when the new scheduler started: at the
    # earliest the whole second of the restart itself (due a few ms before it, and missed).
    assert gap_end >= restarted.replace(microsecond=0)
    assert (gap_end - gap_start).total_seconds() >= 2
    with engine_db.connect() as conn:
        resumed_at = conn.scalar(
            sa.select(job_runs.c.created_at).where(
                job_runs.c.job_id == plain, job_runs.c.scheduled_for == gap_end
            )
        )
    # The slot after the gap is the latest one due when the new scheduler started: enqueued
    # within a second of its time (an older slot would show a longer lag).
    assert resumed_at is not None and (resumed_at - gap_end).total_seconds() < 1.5
    # Taking over needs no lease: the survivor was enqueuing every slot all along.
    worst = max(float(lag) for _, lag in lags)
    figure("enqueue lag after one of two schedulers was SIGKILLed (worst slot)", worst)
    assert worst < 3


# --- 3. the database stops and starts again ------------------------------------------------
@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


def _health(port: int) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2.0).status_code
    except httpx.TransportError:
        return 0


def test_postgres_restart_every_process_reconnects(
    private_pg: PrivatePostgres,
    orc_env: dict[str, str],
    tmp_path: Path,
    processes: list[OrcProcess],
) -> None:
    """Stop PostgreSQL (pg_ctl -m fast) for five seconds while runs are queued and running.

    Expected: no process exits; the api answers 503 on /health while the database is down and
    200 (and a login) after; the worker claims again and the scheduler enqueues again by
    themselves; every run ends `success` (a run that finished during the outage is recorded when
    the database is back, not reaped as "worker lost"); the every-second `catchup` job has every
    slot exactly once, the outage's slots included; nothing is left queued or running.
    """
    url = private_pg.url("orc")
    migrate.create_database(parse_database_url(url))
    migrate.upgrade(parse_database_url(url))
    engine = sync_engine(url)
    try:
        spawn = spawner(url, orc_env, tmp_path, processes)
        slow = insert_job(engine, "slow", tasks=[slow_task(4)], max_active_runs=10)
        ticking = insert_job(
            engine, "ticking", schedule="* * * * * *", max_active_runs=10, catchup=True
        )
        port = free_port()
        procs = [
            spawn("api", "--port", str(port)),
            spawn("scheduler"),
            spawn("worker", "--concurrency", "3"),
        ]
        procs[0].wait_for_http(f"http://127.0.0.1:{port}/health")
        wait_live(engine, "scheduler", 1)
        wait_live(engine, "worker", 1)
        manual = [trigger(engine, slow) for _ in range(5)]

        def manual_statuses() -> list[str]:
            return [run_row(engine, r)["status"] for r in manual]

        wait_until(lambda: manual_statuses().count("running") >= 2, 30)
        assert "queued" in manual_statuses()

        engine.dispose()
        private_pg.stop("fast")
        stopped = time.monotonic()
        wait_until(lambda: _health(port) == 503, 15)
        time.sleep(max(0.0, 5 - (time.monotonic() - stopped)))
        for proc in procs:
            assert proc.process.poll() is None, f"orc {proc.args} died:\n{proc.output()}"

        private_pg.start()
        restarted = time.monotonic()
        back = datetime.now(UTC)
        wait_until(lambda: _health(port) == 200, 30)
        figure(
            "api /health answers 200 again after PostgreSQL restart", time.monotonic() - restarted
        )

        def enqueued_since() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(job_runs)
                        .where(job_runs.c.job_id == ticking, job_runs.c.created_at > back)
                    )
                )

        wait_until(enqueued_since, 30)
        figure("scheduler enqueues again after PostgreSQL restart", time.monotonic() - restarted)

        def claimed_since() -> bool:
            with engine.connect() as conn:
                return bool(
                    conn.scalar(
                        sa.select(sa.func.count())
                        .select_from(job_runs)
                        .where(job_runs.c.started_at > back)
                    )
                )

        wait_until(claimed_since, 30)
        figure("worker claims again after PostgreSQL restart", time.monotonic() - restarted)

        token = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token",
            data={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=10,
        )
        assert token.status_code == 200, token.text
        listed = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/runs",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=10,
        )
        assert listed.status_code == 200, listed.text

        wait_until(lambda: all(s not in ("queued", "running") for s in manual_statuses()), 60)
        assert procs[1].stop() == 0, procs[1].output()
        wait_until(lambda: unfinished(engine) == 0, 60)
        for proc in (procs[2], procs[0]):
            assert proc.stop() == 0, proc.output()

        outcomes = {r: run_row(engine, r) for r in manual}
        assert {row["status"] for row in outcomes.values()} == {"success"}, [
            (row["status"], row["error_message"]) for row in outcomes.values()
        ]
        assert doubled_slots(engine) == []
        ticks = slots_of(engine, ticking)
        assert set(steps(ticks)) == {1.0}, f"every slot, the outage's too: {steps(ticks)}"
        with engine.connect() as conn:
            statuses = set(
                conn.execute(
                    sa.select(job_runs.c.status).where(job_runs.c.job_id == ticking)
                ).scalars()
            )
        assert statuses == {"success"}
    finally:
        engine.dispose()


# --- 4. the data directory's disk fills up -------------------------------------------------
@pytest.fixture
def small_data_dir(orc_env: dict[str, str]) -> Iterator[Path]:
    """ORC_DATA_DIR on a 2 MiB tmpfs."""
    if os.geteuid() != 0:
        unavailable("mounting a tmpfs needs root")
    data = Path(orc_env["ORC_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(data)],
        check=True,
        capture_output=True,
    )
    try:
        yield data
    finally:
        if subprocess.run(["umount", str(data)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(data)], check=True, capture_output=True)


def test_disk_full_during_a_file_load_keeps_the_old_file(
    small_data_dir: Path, engine_db: sa.engine.Engine, spawn: Spawn
) -> None:
    """Write csv, jsonl and parquet files larger than the data directory's 2 MiB disk.

    Expected: each run fails with an error that names the cause ("no space left on device")
    and the file; the destination keeps the content of the earlier, successful run byte for byte;
    no temporary file is left, and the space is free again.
    """
    worker = spawn("worker", "--concurrency", "1")
    wait_live(engine_db, "worker", 1)
    for fmt in ("csv", "jsonl", "parquet"):
        path = f"out/numbers.{fmt}"
        small = _file_job(engine_db, f"small-{fmt}", 1_000, fmt, path)
        big = _file_job(engine_db, f"too-big-{fmt}", 400_000, fmt, path)
        done = wait_for_run(engine_db, trigger(engine_db, small), 30, finished)
        assert done["status"] == "success", done["error_message"]
        before = (small_data_dir / path).read_bytes()

        row = wait_for_run(
            engine_db, trigger(engine_db, big), 60, lambda r: r["status"] in ("failed", "success")
        )
        assert row["status"] == "failed", f"{fmt}: a 400,000-row file fit in 2 MiB?"
        print(f"FAULT {fmt} load on a full disk: {row['error_message']}")
        message = row["error_message"].lower()
        assert "no space left on device" in message and path in message, row["error_message"]
        assert (small_data_dir / path).read_bytes() == before, f"{fmt}: the old file changed"
        assert sorted(p.name for p in (small_data_dir / "out").iterdir()) == [f"numbers.{fmt}"], (
            f"{fmt}: a temporary file was left"
        )
        free = os.statvfs(small_data_dir)
        assert free.f_bavail * free.f_frsize >= 2 * 1024 * 1024 - 512 * 1024, "space not freed"
        (small_data_dir / path).unlink()  # room for the next format's earlier file
    assert worker.stop() == 0


def _file_job(engine: sa.engine.Engine, name: str, rows: int, fmt: str, path: str) -> uuid.UUID:
    task = {
        "extractor_config": {"type": "generate", "rows": rows, "batch_size": 20_000},
        "loader_config": {"type": fmt, "path": path},
    }
    return insert_job(engine, name, tasks=[task])


# --- 5. a plugin that hangs forever --------------------------------------------------------
def test_hung_query_is_killed_by_the_timeout_and_the_worker_goes_on(
    engine_db: sa.engine.Engine, spawn: Spawn, pg_url: str
) -> None:
    """The `sql` extractor blocks in `SELECT pg_sleep(3600)`; the job's timeout is 2 s.

    Expected: the run fails with "timed out" within the timeout plus a few seconds (the
    executor, blocked in C, is killed); the server backend running pg_sleep is gone from
    pg_stat_activity within seconds (it notices its dead client); the next run on the same
    worker succeeds.
    """
    timeout = 2
    tag = f"orc_hang_{uuid.uuid4().hex[:8]}"
    hang = {
        "extractor_config": {
            "type": "sql",
            "url": pg_url,
            "query": f"SELECT pg_sleep(3600) AS {tag}",
        },
        "loader_config": {"type": "null"},
    }
    after = {
        "extractor_config": {"type": "sql", "url": pg_url, "query": "SELECT 1 AS one"},
        "loader_config": {"type": "null"},
    }
    hung = insert_job(engine_db, "hangs", tasks=[hang], timeout_seconds=timeout)
    fine = insert_job(engine_db, "after-the-hang", tasks=[after])
    spawn("worker", "--concurrency", "1")
    wait_live(engine_db, "worker", 1)

    run_id = trigger(engine_db, hung)
    wait_until(lambda: backends(engine_db, tag), 30)
    row = wait_for_run(engine_db, run_id, timeout + 20, finished)
    failed_at = time.monotonic()
    assert row["status"] == "failed"
    assert "timed out" in row["error_message"], row["error_message"]
    took = (row["finished_at"] - row["started_at"]).total_seconds()
    figure(f"hung plugin stopped (timeout_seconds={timeout})", took)
    assert took < timeout + 5

    wait_until(lambda: not backends(engine_db, tag), 15)
    figure("pg_sleep backend gone after the run failed", time.monotonic() - failed_at)

    next_run = wait_for_run(
        engine_db, trigger(engine_db, fine), 30, lambda r: r["status"] in ("success", "failed")
    )
    assert next_run["status"] == "success", next_run["error_message"]
    assert next_run["worker_id"] == row["worker_id"]
