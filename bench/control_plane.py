"""Control-plane benchmark: dispatch throughput, start delay, a burst of due runs, and the
PostgreSQL ceiling for the same claim-and-finish cycle (pgbench), against real `orc` processes.

    .venv/bin/python bench/control_plane.py [--backend postgresql|sqlite|both] [--runs 5000]
        [--history 1000000] [--delay-seconds 60] [--quick]

Each backend gets a fresh database (PostgreSQL: `orc_bench_<random>` on the server named by
ORC_BENCH_POSTGRES_URL, dropped at the end; SQLite: a temp file), migrated with
`orcrustator.db.migrate.upgrade`. Jobs and runs are written straight into the database, as the
engine tests do; the processes are real `orc worker` / `orc scheduler` / `orc up` children,
started and stopped by PID. Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchDatabase,
    BenchError,
    OrcProcess,
    Row,
    admin_token,
    api_settings,
    clean_env,
    cpu_seconds,
    exit_on_sigterm,
    free_port,
    fresh_database,
    insert_jobs,
    json_line,
    machine_cpu,
    percentile,
    print_table,
    process_group,
    say,
    set_active,
    utilisation,
    verdict,
    wait_until,
    workdir,
)
from orcrustator.db import migrate
from orcrustator.db.tables import (
    job_definitions,
    job_runs,
    run_logs,
    service_instances,
    task_runs,
)

# Targets (see ../shared/targets.md, "Control plane").
TARGET_PG_RUNS_PER_S = 500.0
TARGET_SQLITE_RUNS_PER_S = 200.0
TARGET_DELAY_P50_MS = 50.0
TARGET_DELAY_P99_MS = 250.0
TARGET_BURST_MS = 2000.0

PARTS = ("throughput", "schedules", "ceiling")
POLL_S = 0.05
LIVE_TIMEOUT_S = 120.0


@dataclass
class Options:
    backends: list[str]
    runs: int
    history: int | None
    delay_seconds: float
    burst_jobs: int
    delay_jobs: int
    concurrency: list[int]
    worker_counts: list[int]
    log_level: str
    pgbench_seconds: int
    profile_dir: Path | None
    quick: bool
    parts: list[str] = field(default_factory=lambda: list(PARTS))
    schedule_concurrency: int | None = None


@dataclass
class Context:
    db: BenchDatabase
    opts: Options
    work: Path
    env: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    api_port: int | None = None  # of the last `orc up` started

    @property
    def pg(self) -> bool:
        return self.db.is_postgres

    def section(self) -> str:
        return "PostgreSQL" if self.pg else "SQLite"


# --- database set-up --------------------------------------------------------------------------
def insert_history(ctx: Context, job_id: uuid.UUID, count: int) -> float:
    """`count` finished runs of `job_id`, one per second of the past, in one statement."""
    started = time.monotonic()
    with ctx.db.engine.begin() as conn:
        if ctx.pg:
            conn.execute(
                sa.text(
                    """
                    INSERT INTO job_runs (run_id, job_id, status, triggered_by, started_at,
                        finished_at, created_at, scheduled_for, attempt, worker_id, heartbeat_at)
                    SELECT gen_random_uuid(), :job_id,
                        CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'success' END, 'scheduled',
                        ts + interval '20 milliseconds', ts + interval '1 second', ts, ts, 1,
                        'bench-history', ts + interval '1 second'
                    FROM (
                        SELECT i, now() - interval '40 days' + make_interval(secs => i) AS ts
                        FROM generate_series(1, :n) AS i
                    ) AS s
                    """
                ),
                {"job_id": job_id, "n": count},
            )
        else:
            fmt = "'%Y-%m-%d %H:%M:%S'"
            conn.execute(
                sa.text(
                    f"""
                    WITH RECURSIVE seq(i) AS (
                        SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n
                    )
                    INSERT INTO job_runs (run_id, job_id, status, triggered_by, started_at,
                        finished_at, created_at, scheduled_for, attempt, worker_id, heartbeat_at)
                    SELECT lower(hex(randomblob(16))), :job_id,
                        CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'success' END, 'scheduled',
                        strftime({fmt}, 'now', '-40 days', '+' || i || ' seconds') || '.020000',
                        strftime({fmt}, 'now', '-40 days', '+' || (i + 1) || ' seconds')
                            || '.000000',
                        strftime({fmt}, 'now', '-40 days', '+' || i || ' seconds') || '.000000',
                        strftime({fmt}, 'now', '-40 days', '+' || i || ' seconds') || '.000000',
                        1, 'bench-history',
                        strftime({fmt}, 'now', '-40 days', '+' || (i + 1) || ' seconds')
                            || '.000000'
                    FROM seq
                    """
                ),
                {"job_id": job_id.hex, "n": count},
            )
    # A settled table, as autovacuum leaves it a minute after a bulk load.
    if ctx.pg:
        with ctx.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE job_runs")
    else:
        with ctx.db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return time.monotonic() - started


def live_counts(ctx: Context) -> tuple[int, int]:
    """(queued, running) over the whole table: both counts use the partial indexes."""
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM job_runs WHERE status = 'queued'), "
                "(SELECT count(*) FROM job_runs WHERE status = 'running')"
            )
        ).one()
    return int(row[0]), int(row[1])


IDLE_SQL = sa.text(
    "SELECT NOT EXISTS (SELECT 1 FROM job_runs WHERE status = 'queued') "
    "AND NOT EXISTS (SELECT 1 FROM job_runs WHERE status = 'running')"
)


def wait_idle(
    ctx: Context,
    timeout: float,
    procs: list[OrcProcess],
    tick: Callable[[], None] | None = None,
) -> None:
    """Poll (every 50 ms) until nothing is queued or running; O(1) with the partial indexes,
    so the poll adds next to nothing to the database's work."""

    def idle() -> bool:
        for p in procs:
            p.check_alive()
        if tick is not None:
            tick()
        with ctx.db.engine.connect() as conn:
            return bool(conn.scalar(IDLE_SQL))

    wait_until(idle, timeout, POLL_S, "queue drained")


def wait_live(
    ctx: Context, expected: dict[str, list[int]], timeout: float = LIVE_TIMEOUT_S
) -> None:
    """Wait until every PID has a live `service_instances` row of its role."""
    procs_pids = {pid for pids in expected.values() for pid in pids}

    def live() -> bool:
        with ctx.db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(service_instances.c.role, service_instances.c.pid).where(
                    service_instances.c.stopped_at.is_(None),
                    service_instances.c.pid.in_(procs_pids),
                )
            ).all()
        seen = {(r.role, r.pid) for r in rows}
        return all((role, pid) in seen for role, pids in expected.items() for pid in pids)

    wait_until(live, timeout, 0.1, f"processes live {expected}")


def pg_stats(ctx: Context) -> dict[str, float]:
    """This database's counters; backends flush them when they exit, so read after a stop."""
    if not ctx.pg:
        return {}
    with ctx.db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched, "
                "sessions, active_time FROM pg_stat_database WHERE datname = current_database()"
            )
        ).one()
    return {k: float(v) for k, v in row._mapping.items()}


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving this database (not the bench's own),
    sampled from /proc at each poll. A backend that exits loses its last interval and one that
    lives shorter than an interval is missed, so with connection churn this is a lower bound."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.sample(initial=True)

    def sample(self, *, initial: bool = False) -> None:
        if not self.ctx.pg:
            return
        with self.ctx.db.engine.connect() as conn:
            pids = conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND coalesce(application_name, '') <> 'orc-bench'"
                )
            ).scalars()
            for pid in pids:
                cpu = cpu_seconds([int(pid)])
                if initial:
                    self.base[int(pid)] = cpu
                self.last[int(pid)] = max(self.last.get(int(pid), 0.0), cpu)

    def total(self) -> float:
        return sum(v - self.base.get(pid, 0.0) for pid, v in self.last.items())


# --- processes --------------------------------------------------------------------------------
def touch_job_through_the_api(ctx: Context, job_id: uuid.UUID) -> None:
    """Let `orc up` on SQLite know about jobs the bench wrote straight into its database.

    SQLite has no NOTIFY: jobs written behind the service's back are seen when the scheduler
    next re-reads its jobs (every few seconds), and the first slots would measure that wait.
    A user's jobs arrive through the API, which wakes the scheduler at once; one update through
    the API (of a job, to what it already is) does the same for the bench's jobs.
    """
    base = f"http://127.0.0.1:{ctx.api_port}"
    token = admin_token(base)
    resp = httpx.patch(
        f"{base}/api/v1/jobs/{job_id}",
        json={"is_active": True},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    resp.raise_for_status()


def start_orc(ctx: Context, procs: list[OrcProcess], args: list[str], name: str) -> OrcProcess:
    extra: dict[str, str] = {}
    if args[0] == "up":
        ctx.api_port = free_port()
        extra = api_settings(ctx.api_port)
    proc = OrcProcess(args, {**ctx.env, **extra}, ctx.work, name)
    procs.append(proc)
    return proc


class Profiler:
    """py-spy on each given PID (with its executor children) while a trial runs, if asked."""

    def __init__(self, ctx: Context, label: str, pids: list[int]) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.outputs: list[str] = []
        if ctx.opts.profile_dir is None:
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(py_spy).exists():
            raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
        ctx.opts.profile_dir.mkdir(parents=True, exist_ok=True)
        for i, pid in enumerate(pids):
            out = ctx.opts.profile_dir / f"{ctx.db.backend}-{label}-p{i}.txt"
            self.outputs.append(str(out))
            self.procs.append(
                subprocess.Popen(
                    [
                        py_spy,
                        "record",
                        "--pid",
                        str(pid),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--subprocesses",
                        "--nonblocking",
                        "--output",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# --- (a) throughput ---------------------------------------------------------------------------
def enqueue_manual(ctx: Context, job_id: uuid.UUID, count: int) -> tuple[datetime, datetime]:
    """`count` queued manual runs in one transaction + NOTIFY; returns (created_at, committed)."""
    marker = datetime.now(UTC)
    rows = [
        {
            "run_id": uuid.uuid4(),
            "job_id": job_id,
            "status": "queued",
            "triggered_by": "manual",
            "created_at": marker,
        }
        for _ in range(count)
    ]
    with ctx.db.engine.begin() as conn:
        conn.execute(sa.insert(job_runs), rows)
        if ctx.pg:
            conn.execute(sa.text("SELECT pg_notify('orc_runs', '')"))
    return marker, datetime.now(UTC)


def analyze_runs(ctx: Context) -> None:
    with ctx.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE job_runs")


def throughput_trial(
    ctx: Context, job_id: uuid.UUID, workers: int, concurrency: int, *, analyze: bool = False
) -> dict[str, Any]:
    """Start the processes, enqueue `--runs` manual runs at once, time until all succeeded.

    `analyze` (a diagnostic): refresh the planner's statistics right after the enqueue, which
    autovacuum would not do for a 1M-row table (its threshold is 10 % of the rows changed).
    """
    runs = ctx.opts.runs
    label = f"w{workers}c{concurrency}" if ctx.pg else f"up-c{concurrency}"
    label += "-analyzed" if analyze else ""
    with process_group() as procs:
        if ctx.pg:
            for i in range(workers):
                start_orc(ctx, procs, ["worker", "--concurrency", str(concurrency)], f"{label}-{i}")
            wait_live(ctx, {"worker": [p.pid for p in procs]})
        else:
            start_orc(ctx, procs, ["up", "--concurrency", str(concurrency)], label)
            pid = procs[0].pid
            wait_live(ctx, {"worker": [pid], "scheduler": [pid]})
        trees = [p.tree() for p in procs]
        all_pids = [pid for tree in trees for pid in tree]
        cpu0, machine0, stats0 = cpu_seconds(all_pids), machine_cpu(), pg_stats(ctx)
        backends = BackendCpu(ctx)
        profiler = Profiler(ctx, label, [p.pid for p in procs])
        try:
            marker, committed = enqueue_manual(ctx, job_id, runs)
            if analyze:
                analyze_runs(ctx)
            t0 = time.monotonic()
            wait_idle(ctx, max(120.0, runs / 10), procs, backends.sample)
            wall = time.monotonic() - t0
        finally:
            profiler.stop()
        machine1 = machine_cpu()
        all_pids = sorted({*all_pids, *(pid for p in procs for pid in p.tree())})
        cpu1 = cpu_seconds(all_pids)
        for p in procs:
            p.stop()
    stats1 = pg_stats(ctx)  # after the workers' backends exited and flushed their counters

    with ctx.db.engine.connect() as conn:
        summary = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(job_runs.c.status == "success"),
                sa.func.min(job_runs.c.started_at),
                sa.func.max(job_runs.c.finished_at),
            ).where(job_runs.c.job_id == job_id, job_runs.c.created_at == marker)
        ).one()
        trial_runs = (
            sa.select(job_runs.c.run_id)
            .where(job_runs.c.job_id == job_id, job_runs.c.created_at == marker)
            .scalar_subquery()
        )
        tasks = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(task_runs.c.status == "success"),
                sa.func.count(sa.distinct(task_runs.c.run_id)),
            ).where(task_runs.c.run_id.in_(trial_runs))
        ).one()
        per_worker = sorted(
            int(n)
            for n in conn.execute(
                sa.select(sa.func.count())
                .where(job_runs.c.job_id == job_id, job_runs.c.created_at == marker)
                .group_by(job_runs.c.worker_id)
            ).scalars()
        )
        logs = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(run_logs.c.run_id))).where(
                run_logs.c.run_id.in_(trial_runs)
            )
        ).one()
    total, succeeded, first_start, last_finish = summary
    span = (last_finish - committed).total_seconds() if last_finish else math.nan
    steady = (
        (last_finish - first_start).total_seconds() if last_finish and first_start else math.nan
    )
    result: dict[str, Any] = {
        "analyzed": analyze,
        "workers": workers,
        "concurrency": concurrency,
        "runs": runs,
        "succeeded": succeeded,
        "rows": total,
        "seconds": span,
        "runs_per_s": runs / span if span and span > 0 else 0.0,
        "runs_per_s_polled": runs / wall if wall > 0 else 0.0,
        "runs_per_s_steady": runs / steady if steady and steady > 0 else 0.0,
        "first_start_ms": (first_start - committed).total_seconds() * 1000
        if first_start
        else math.nan,
        "runs_per_worker": per_worker,
        "task_runs": tasks[0],
        "task_runs_success": tasks[1],
        "runs_with_task_run": tasks[2],
        "log_lines": logs[0],
        "runs_with_logs": logs[1],
        "orc_cpu_ms_per_run": (cpu1 - cpu0) * 1000 / runs,
        "pg_cpu_ms_per_run": backends.total() * 1000 / runs if ctx.pg else None,
        "machine_cpu_busy": utilisation(machine0, machine1),
    }
    if ctx.pg and stats0 and stats1:
        for key in ("xact_commit", "tup_inserted", "tup_updated", "tup_fetched", "sessions"):
            result[f"pg_{key}_per_run"] = (stats1[key] - stats0[key]) / runs
        # Time the backends spent executing statements (ms): the server's share of a run.
        result["pg_active_ms_per_run"] = (stats1["active_time"] - stats0["active_time"]) / runs
    if ctx.opts.profile_dir is not None:
        result["profiles"] = profiler.outputs
    result["records_ok"] = (
        succeeded == runs
        and tasks[1] == runs
        and tasks[2] == runs
        and logs[1] == runs
        and logs[0] >= 3 * runs
    )
    return result


def run_throughput(ctx: Context) -> None:
    job_ids, _ = insert_jobs(
        ctx.db, "throughput", 1, schedule="0 0 1 1 *", is_active=True, max_active_runs=10_000
    )
    job_id = job_ids[0]
    history = ctx.opts.history if ctx.opts.history is not None else 0
    seconds = insert_history(ctx, job_id, history) if history else 0.0
    ctx.figures["history_runs"] = history
    ctx.figures["history_insert_s"] = seconds
    say(f"{ctx.section()}: {history:,} history runs inserted in {seconds:.1f} s")

    trials: list[dict[str, Any]] = []
    worker_counts = ctx.opts.worker_counts if ctx.pg else [1]
    for workers in worker_counts:
        for concurrency in ctx.opts.concurrency:
            result = throughput_trial(ctx, job_id, workers, concurrency)
            trials.append(result)
            say(
                f"  {'workers' if ctx.pg else 'orc up'} {workers} × concurrency {concurrency}: "
                f"{result['runs_per_s']:.0f} runs/s (records ok: {result['records_ok']}, "
                f"machine CPU {result['machine_cpu_busy']:.0%})"
            )
    ctx.figures["throughput_trials"] = trials
    best: dict[int, dict[str, Any]] = {}
    for t in trials:
        if t["workers"] not in best or t["runs_per_s"] > best[t["workers"]]["runs_per_s"]:
            best[t["workers"]] = t
    ctx.figures["throughput_best"] = {str(k): v for k, v in best.items()}
    sec = ctx.section()
    tried = ", ".join(str(c) for c in ctx.opts.concurrency)
    for workers, t in sorted(best.items()):
        name = f"{workers} worker{'s' if workers > 1 else ''}" if ctx.pg else "orc up"
        target = TARGET_PG_RUNS_PER_S if ctx.pg else TARGET_SQLITE_RUNS_PER_S
        gated = (ctx.pg and workers == 2) or not ctx.pg
        ctx.rows.append(
            Row(
                sec,
                f"(a) runs/s, {name} (best concurrency {t['concurrency']} of {tried})",
                f"{t['runs_per_s']:.0f}",
                f"≥ {target:.0f}" if gated else "",
                verdict(t["runs_per_s"], at_least=target) if gated else "",
            )
        )
        ctx.rows.append(
            Row(
                sec,
                "    steady rate (first start → last finish); first start after commit",
                f"{t['runs_per_s_steady']:.0f}/s; {t['first_start_ms']:.0f} ms",
            )
        )
        ctx.rows.append(
            Row(
                sec,
                "    task runs / runs with logs / log lines (of runs)",
                f"{t['task_runs_success']}/{t['runs_with_logs']}/{t['log_lines']} ({t['runs']})",
                "all recorded",
                "PASS" if t["records_ok"] else "MISS",
            )
        )
        cost = f"orc {t['orc_cpu_ms_per_run']:.2f}"
        if ctx.pg:
            cost += f", pg CPU ≥ {t['pg_cpu_ms_per_run']:.2f}"
            cost += f" (active {t['pg_active_ms_per_run']:.2f})"
        ctx.rows.append(
            Row(
                sec,
                "    ms per run: orc CPU (worker + executors)"
                + (", pg CPU (active)" if ctx.pg else "")
                + "; machine busy",
                f"{cost}; {t['machine_cpu_busy']:.0%}",
            )
        )
        if len(t.get("runs_per_worker", [])) > 1:
            ctx.rows.append(
                Row(
                    sec, "    runs taken by each worker", " / ".join(map(str, t["runs_per_worker"]))
                )
            )
        if ctx.pg and "pg_xact_commit_per_run" in t:
            ctx.rows.append(
                Row(
                    sec,
                    "    per run: commits / rows inserted / updated / fetched / new connections",
                    f"{t['pg_xact_commit_per_run']:.1f} / {t['pg_tup_inserted_per_run']:.1f} / "
                    f"{t['pg_tup_updated_per_run']:.1f} / {t['pg_tup_fetched_per_run']:.0f} / "
                    f"{t['pg_sessions_per_run']:.2f}",
                )
            )
    others = [
        f"{'w' if ctx.pg else 'up'}{t['workers']}×c{t['concurrency']}={t['runs_per_s']:.0f}"
        for t in trials
    ]
    ctx.rows.append(Row(sec, "    all trials (runs/s)", " ".join(others)))
    if ctx.pg and 2 in best:
        t = throughput_trial(ctx, job_id, 2, best[2]["concurrency"], analyze=True)
        ctx.figures["throughput_analyzed"] = t
        say(f"  diagnostic with ANALYZE after the enqueue: {t['runs_per_s']:.0f} runs/s")
        ctx.rows.append(
            Row(
                sec,
                f"    diagnostic: 2 workers × {t['concurrency']}, ANALYZE job_runs right after "
                "the enqueue",
                f"{t['runs_per_s']:.0f} runs/s",
            )
        )
        ctx.rows.append(
            Row(
                sec,
                "    diagnostic: ms per run orc CPU / pg CPU; rows fetched per run",
                f"{t['orc_cpu_ms_per_run']:.2f} / {t['pg_cpu_ms_per_run']:.2f}; "
                f"{t.get('pg_tup_fetched_per_run', math.nan):.0f}",
            )
        )


def best_concurrency(ctx: Context, workers: int) -> int:
    best = ctx.figures.get("throughput_best", {})
    key = str(workers if ctx.pg else 1)
    if key in best:
        return int(best[key]["concurrency"])
    return max(ctx.opts.concurrency)


# --- (b) start delay and burst ----------------------------------------------------------------
def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


def _floor_s(t: datetime) -> datetime:
    return t.replace(microsecond=0)


def start_delay(ctx: Context, procs: list[OrcProcess]) -> None:
    n = ctx.opts.delay_jobs
    job_ids, created = insert_jobs(
        ctx.db, "every-second", n, schedule="* * * * * *", is_active=True, max_active_runs=2
    )
    if not ctx.pg:
        touch_job_through_the_api(ctx, job_ids[-1])
    deadline = time.monotonic() + ctx.opts.delay_seconds
    while time.monotonic() < deadline:
        for p in procs:
            p.check_alive()
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    paused = set_active(ctx.db, job_ids, False)
    wait_idle(ctx, max(120.0, n * ctx.opts.delay_seconds / 10), procs)

    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                job_runs.c.job_id,
                job_runs.c.scheduled_for,
                job_runs.c.created_at,
                job_runs.c.started_at,
                job_runs.c.status,
            ).where(job_runs.c.job_id.in_(job_ids))
        ).all()
    delays = [_ms(r.started_at - r.scheduled_for) for r in rows if r.started_at]
    enqueue = [_ms(r.created_at - r.scheduled_for) for r in rows]
    by_job: dict[uuid.UUID, list[datetime]] = {j: [] for j in job_ids}
    for r in rows:
        by_job[r.job_id].append(r.scheduled_for)
    first_expected = _floor_s(created) + timedelta(seconds=1)
    last_expected = _floor_s(paused)
    missed = duplicated = after_pause = before_pickup = 0
    pickup: list[float] = []
    for slots in by_job.values():
        duplicated += len(slots) - len(set(slots))
        in_window = sorted({s for s in slots if s <= last_expected})
        after_pause += len({s for s in slots if s > last_expected})
        if not in_window:
            missed += int((last_expected - first_expected).total_seconds()) + 1
            continue
        first = in_window[0]
        pickup.append(_ms(first - first_expected))
        before_pickup += int((first - first_expected).total_seconds())
        expected = int((last_expected - first).total_seconds()) + 1
        missed += max(0, expected - len(in_window))
    statuses = Counter(r.status for r in rows)
    # Where a tail comes from: the slowest slots, when they fell and whether the enqueue or the
    # start was late.
    per_slot: dict[datetime, list[Any]] = {}
    for r in rows:
        per_slot.setdefault(r.scheduled_for, []).append(r)
    slot_summaries = [
        {
            "second": int((slot - first_expected).total_seconds()),
            "enqueue_max_ms": max(_ms(r.created_at - slot) for r in slot_rows),
            "start_max_ms": max(
                (_ms(r.started_at - slot) for r in slot_rows if r.started_at), default=math.nan
            ),
        }
        for slot, slot_rows in per_slot.items()
    ]
    # A slot none of whose runs started sorts first: that is the worst of all.
    worst_slots = sorted(
        slot_summaries,
        key=lambda w: math.inf if math.isnan(w["start_max_ms"]) else w["start_max_ms"],
        reverse=True,
    )[:3]
    fig: dict[str, Any] = {
        "jobs": n,
        "window_s": ctx.opts.delay_seconds,
        "worst_slots": worst_slots,
        "runs": len(rows),
        "statuses": dict(statuses),
        "p50_ms": percentile(delays, 50),
        "p90_ms": percentile(delays, 90),
        "p99_ms": percentile(delays, 99),
        "max_ms": max(delays) if delays else math.nan,
        "enqueue_p50_ms": percentile(enqueue, 50),
        "enqueue_p99_ms": percentile(enqueue, 99),
        "enqueue_max_ms": max(enqueue) if enqueue else math.nan,
        "missed_slots": missed,
        "slots_before_first_pickup": before_pickup,
        "first_pickup_max_ms": max(pickup) if pickup else math.nan,
        "duplicated_slots": duplicated,
        "slots_after_pause": after_pause,
    }
    ctx.figures["start_delay"] = fig
    sec = ctx.section()
    ctx.rows += [
        Row(
            sec,
            f"(b) start delay p50, {n} jobs every second for {ctx.opts.delay_seconds:g} s",
            f"{fig['p50_ms']:.0f} ms",
            f"≤ {TARGET_DELAY_P50_MS:.0f} ms",
            verdict(fig["p50_ms"], at_most=TARGET_DELAY_P50_MS),
        ),
        Row(sec, "    start delay p90", f"{fig['p90_ms']:.0f} ms"),
        Row(
            sec,
            "    start delay p99",
            f"{fig['p99_ms']:.0f} ms",
            f"≤ {TARGET_DELAY_P99_MS:.0f} ms",
            verdict(fig["p99_ms"], at_most=TARGET_DELAY_P99_MS),
        ),
        Row(sec, "    start delay max", f"{fig['max_ms']:.0f} ms"),
        Row(
            sec,
            "    slowest slots: second of the window, enqueue / start max ms",
            "; ".join(
                f"{w['second']}s: {w['enqueue_max_ms']:.0f}/{w['start_max_ms']:.0f}"
                for w in fig["worst_slots"]
            ),
        ),
        Row(
            sec,
            "    of which enqueue (created_at − slot) p50 / p99 / max",
            f"{fig['enqueue_p50_ms']:.0f} / {fig['enqueue_p99_ms']:.0f} / "
            f"{fig['enqueue_max_ms']:.0f} ms",
        ),
        Row(
            sec,
            f"    runs ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))})",
            f"{len(rows)}",
        ),
        Row(
            sec,
            "    slots missed (after first pickup)",
            str(missed),
            "0",
            "PASS" if missed == 0 else "MISS",
        ),
        Row(
            sec,
            "    slots before the scheduler saw the new jobs (max lag)",
            f"{before_pickup} ({fig['first_pickup_max_ms']:.0f} ms)",
        ),
        Row(
            sec,
            "    slots duplicated",
            str(duplicated),
            "0",
            "PASS" if duplicated == 0 else "MISS",
        ),
        Row(sec, "    slots enqueued after the jobs were paused", str(after_pause)),
    ]


def burst(ctx: Context, procs: list[OrcProcess]) -> None:
    n = ctx.opts.burst_jobs
    lead = 12.0  # enough for an SQLite scheduler, which re-reads jobs every 5 s
    slot = _floor_s(datetime.now(UTC)) + timedelta(seconds=lead)
    schedule = f"{slot.second} {slot.minute} {slot.hour} * * *"
    job_ids, _ = insert_jobs(
        ctx.db, "burst", n, schedule=schedule, is_active=True, max_active_runs=1
    )
    started_q = (
        sa.select(sa.func.count())
        .select_from(job_runs.join(job_definitions))
        .where(job_definitions.c.job_name.like("burst-%"), job_runs.c.started_at.is_not(None))
    )

    def all_started() -> bool:
        for p in procs:
            p.check_alive()
        with ctx.db.engine.connect() as conn:
            return int(conn.scalar(started_q) or 0) >= n

    timed_out = False
    try:
        wait_until(all_started, lead + max(120.0, n / 10), POLL_S, f"{n} burst runs started")
    except BenchError:
        timed_out = True
    set_active(ctx.db, job_ids, False)
    wait_idle(ctx, max(120.0, n / 10), procs)
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                job_runs.c.scheduled_for,
                job_runs.c.created_at,
                job_runs.c.started_at,
                job_runs.c.finished_at,
            ).where(job_runs.c.job_id.in_(job_ids))
        ).all()
    starts = [_ms(r.started_at - slot) for r in rows if r.started_at]
    enq = [_ms(r.created_at - slot) for r in rows]
    fin = [_ms(r.finished_at - slot) for r in rows if r.finished_at]
    fig: dict[str, Any] = {
        "jobs": n,
        "runs": len(rows),
        "started": len(starts),
        "timed_out": timed_out,
        "all_started_ms": max(starts) if len(starts) == n else math.nan,
        "start_p50_ms": percentile(starts, 50),
        "all_enqueued_ms": max(enq) if enq else math.nan,
        "first_enqueued_ms": min(enq) if enq else math.nan,
        "all_finished_ms": max(fin) if fin else math.nan,
        "slot_mismatch": sum(1 for r in rows if r.scheduled_for != slot),
    }
    ctx.figures["burst"] = fig
    sec = ctx.section()
    ctx.rows += [
        Row(
            sec,
            f"(b) burst: {n} runs due the same second, last started after",
            f"{fig['all_started_ms']:.0f} ms",
            f"≤ {TARGET_BURST_MS:.0f} ms",
            verdict(fig["all_started_ms"], at_most=TARGET_BURST_MS),
        ),
        Row(sec, "    median start after the slot", f"{fig['start_p50_ms']:.0f} ms"),
        Row(
            sec,
            "    enqueued: first / last after the slot",
            f"{fig['first_enqueued_ms']:.0f} / {fig['all_enqueued_ms']:.0f} ms",
        ),
        Row(sec, "    all finished after the slot", f"{fig['all_finished_ms']:.0f} ms"),
        Row(sec, "    runs created / started", f"{len(rows)} / {len(starts)} of {n}"),
    ]


def run_schedules(ctx: Context) -> None:
    with process_group() as procs:
        if ctx.pg:
            concurrency = ctx.opts.schedule_concurrency or best_concurrency(ctx, 2)
            sched = start_orc(ctx, procs, ["scheduler"], "scheduler")
            workers = [
                start_orc(ctx, procs, ["worker", "--concurrency", str(concurrency)], f"sw-{i}")
                for i in range(2)
            ]
            wait_live(ctx, {"scheduler": [sched.pid], "worker": [w.pid for w in workers]})
            ctx.figures["schedule_processes"] = f"1 scheduler + 2 workers × {concurrency}"
        else:
            concurrency = ctx.opts.schedule_concurrency or best_concurrency(ctx, 1)
            up = start_orc(ctx, procs, ["up", "--concurrency", str(concurrency)], "up-schedules")
            wait_live(ctx, {"scheduler": [up.pid], "worker": [up.pid]})
            ctx.figures["schedule_processes"] = f"orc up × {concurrency}"
        say(f"{ctx.section()}: start delay ({ctx.figures['schedule_processes']})")
        start_delay(ctx, procs)
        say(f"{ctx.section()}: burst of {ctx.opts.burst_jobs}")
        burst(ctx, procs)


# --- (c) ceiling --------------------------------------------------------------------------------
PGBENCH_SINGLE = """\
BEGIN;
SELECT run_id AS rid FROM job_runs WHERE status = 'queued' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED \\gset
UPDATE job_runs SET status = 'success', started_at = now(), finished_at = now(), heartbeat_at = now(), worker_id = 'pgbench' WHERE run_id = :rid;
END;
"""  # noqa: E501

PGBENCH_BATCH = """\
WITH c AS (SELECT run_id FROM job_runs WHERE status = 'queued' ORDER BY created_at LIMIT 50 FOR UPDATE SKIP LOCKED) UPDATE job_runs AS r SET status = 'success', started_at = now(), finished_at = now(), heartbeat_at = now(), worker_id = 'pgbench' FROM c WHERE r.run_id = c.run_id;
"""  # noqa: E501


def _pgbench_path() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    return None


def fill_queue(ctx: Context, job_id: uuid.UUID, count: int) -> None:
    with ctx.db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO job_runs (run_id, job_id, status, triggered_by, created_at) "
                "SELECT gen_random_uuid(), :job_id, 'queued', 'manual', "
                "now() + make_interval(secs => i / 1e6) FROM generate_series(1, :n) AS i"
            ),
            {"job_id": job_id, "n": count},
        )


def run_pgbench(ctx: Context, pgbench: str, name: str, script: str, fill: int) -> dict[str, Any]:
    job_ids, _ = insert_jobs(
        ctx.db, f"pgbench-{name}", 1, schedule="0 0 1 1 *", is_active=False, max_active_runs=10_000
    )
    fill_queue(ctx, job_ids[0], fill)
    with ctx.db.engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                sa.text(
                    "EXPLAIN SELECT run_id FROM job_runs WHERE status = 'queued' "
                    "ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
                )
            ).scalars()
        )
    path = ctx.work / f"pgbench-{name}.sql"
    path.write_text(script)
    before = live_counts(ctx)[0]
    seconds = ctx.opts.pgbench_seconds
    args = [pgbench, "-n", "-M", "prepared", "-f", str(path), "-c", "4", "-j", "2"]
    args += ["-T", str(seconds), ctx.db.libpq_uri()]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=False)
    elapsed = time.monotonic() - started
    after = live_counts(ctx)[0]
    tps_match = re.search(r"tps = ([\d.]+)", done.stdout)
    claimed = before - after
    duration_match = re.search(r"duration: (\d+) s", done.stdout)
    duration = float(duration_match.group(1)) if duration_match else elapsed
    return {
        "exit_code": done.returncode,
        "error": done.stderr.strip()[-400:] if done.returncode else None,
        "tps": float(tps_match.group(1)) if tps_match else math.nan,
        "runs_claimed": claimed,
        "runs_per_s": claimed / duration if duration else math.nan,
        "queue_exhausted": after == 0,
        "uses_partial_index": "idx_job_runs_queued" in plan,
        "plan": plan,
    }


def run_ceiling(ctx: Context) -> None:
    pgbench = _pgbench_path()
    sec = ctx.section()
    if pgbench is None:
        ctx.rows.append(Row(sec, "(c) pgbench ceiling", "pgbench not found"))
        return
    say(f"{sec}: pgbench ceiling ({ctx.opts.pgbench_seconds} s per variant)")
    single = run_pgbench(ctx, pgbench, "single", PGBENCH_SINGLE, fill=60_000)
    batch = run_pgbench(ctx, pgbench, "batch50", PGBENCH_BATCH, fill=400_000)
    ctx.figures["pgbench"] = {"single": single, "batch50": batch}
    ours = ctx.figures.get("throughput_best", {})
    best2 = ours.get("2", ours.get(str(max((int(k) for k in ours), default=0)), {}))
    ours_rate = float(best2.get("runs_per_s", math.nan)) if best2 else math.nan
    ctx.figures["ours_vs_pgbench_single"] = ours_rate / single["runs_per_s"]
    ctx.figures["ours_vs_pgbench_batch50"] = ours_rate / batch["runs_per_s"]
    for name, res in (("1 run/txn", single), ("50 runs/txn", batch)):
        note = "" if res["exit_code"] == 0 else f" (pgbench exit {res['exit_code']})"
        if res["queue_exhausted"]:
            note += " (queue ran out: a lower bound)"
        ctx.rows.append(
            Row(
                sec,
                f"(c) pgbench claim+finish, {name}, 4 clients, partial index "
                f"{'yes' if res['uses_partial_index'] else 'NO'}",
                f"{res['runs_per_s']:.0f} runs/s{note}",
            )
        )
    ctx.rows.append(
        Row(
            sec,
            "    ours (2 workers) ÷ pgbench 1 run/txn; ÷ 50 runs/txn",
            f"{ctx.figures['ours_vs_pgbench_single']:.2f}; "
            f"{ctx.figures['ours_vs_pgbench_batch50']:.3f}",
        )
    )


# --- driver -------------------------------------------------------------------------------------
def run_backend(backend: str, opts: Options) -> tuple[list[Row], dict[str, Any]]:
    with workdir() as work, fresh_database(backend, work) as db:
        migrate.upgrade(db.parsed)
        env = clean_env(database_url=db.url, data_dir=work / "data", log_level=opts.log_level)
        if backend == "sqlite" and opts.history is None:
            history: int | None = 10_000 if opts.quick else 100_000
        elif opts.history is None:
            history = 100_000 if opts.quick else 1_000_000
        else:
            history = opts.history
        ctx = Context(db, Options(**{**opts.__dict__, "history": history}), work, env)
        ctx.figures["database"] = db.name if db.is_postgres else "temp file"
        ctx.figures["log_level"] = opts.log_level
        started = time.monotonic()
        try:
            if "throughput" in opts.parts:
                run_throughput(ctx)
            if "schedules" in opts.parts:
                run_schedules(ctx)
            if ctx.pg and "ceiling" in opts.parts:
                run_ceiling(ctx)
        except BenchError as exc:
            ctx.figures["error"] = str(exc)
            ctx.rows.append(Row(ctx.section(), "ERROR", str(exc)[:200]))
            say(f"{ctx.section()}: {exc}")
            for log in sorted(work.glob("*.log")):
                say(f"--- {log.name} (tail)\n" + "\n".join(log.read_text().splitlines()[-20:]))
        ctx.figures["bench_seconds"] = time.monotonic() - started
        ctx.rows.insert(
            0,
            Row(
                ctx.section(),
                "set-up: history runs in job_runs; worker log level",
                f"{history:,}; {opts.log_level}",
            ),
        )
        return ctx.rows, ctx.figures


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["postgresql", "sqlite", "both"], default="both")
    parser.add_argument("--runs", type=int, default=None, help="runs per throughput trial")
    parser.add_argument(
        "--history",
        type=int,
        default=None,
        help="finished runs in job_runs [1,000,000 on PostgreSQL, 100,000 on SQLite]",
    )
    parser.add_argument("--delay-seconds", type=float, default=None)
    parser.add_argument("--delay-jobs", type=int, default=100)
    parser.add_argument("--burst-jobs", type=int, default=1000)
    parser.add_argument(
        "--concurrency",
        default=None,
        help="worker concurrencies to try, comma-separated [4,8,16; quick: 8]",
    )
    parser.add_argument("--workers", default="1,2", help="worker process counts (PostgreSQL)")
    parser.add_argument(
        "--schedule-concurrency",
        type=int,
        default=64,
        help=(
            "worker concurrency for the start-delay and burst parts [64: with 2 workers, a free "
            "executor for each of the 100 jobs due at once; 0: the best throughput one]"
        ),
    )
    parser.add_argument("--log-level", default="WARNING", help="ORC_LOG_LEVEL of the processes")
    parser.add_argument("--pgbench-seconds", type=int, default=None)
    parser.add_argument(
        "--profile", type=Path, default=None, help="record py-spy raw stacks into this folder"
    )
    parser.add_argument("--quick", action="store_true", help="small and short, for debugging")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"which parts to run [{','.join(PARTS)}]"
    )
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    concurrency = args.concurrency or ("8" if quick else "4,8,16")
    return Options(
        backends=["postgresql", "sqlite"] if args.backend == "both" else [args.backend],
        runs=args.runs or (1000 if quick else 5000),
        history=args.history,
        delay_seconds=args.delay_seconds or (15.0 if quick else 60.0),
        delay_jobs=args.delay_jobs,
        burst_jobs=args.burst_jobs,
        concurrency=[int(c) for c in concurrency.split(",") if c.strip()],
        worker_counts=[int(c) for c in args.workers.split(",") if c.strip()],
        log_level=args.log_level.upper(),
        pgbench_seconds=args.pgbench_seconds or (5 if quick else 10),
        profile_dir=args.profile,
        quick=quick,
        parts=[p.strip() for p in args.parts.split(",") if p.strip() in PARTS],
        schedule_concurrency=args.schedule_concurrency or None,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)

    exit_on_sigterm()
    all_rows: list[Row] = []
    payload: dict[str, Any] = {
        "bench": "control_plane",
        "runs": opts.runs,
        "delay_seconds": opts.delay_seconds,
        "log_level": opts.log_level,
        "quick": opts.quick,
        "cpus": os.cpu_count(),
    }
    for backend in opts.backends:
        rows, figures = run_backend(backend, opts)
        all_rows += rows
        payload[backend] = figures
    print_table("orc-rust-ator control plane", all_rows)
    print(json_line(payload), flush=True)
    failed = any("error" in payload.get(b, {}) for b in opts.backends)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
