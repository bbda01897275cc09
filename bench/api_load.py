"""API load: 50 concurrent clients on the list and detail endpoints of a real `orc api` serving
a PostgreSQL database with 10,000 jobs and 200,000 runs, against a ceiling measured in the same
run with the same clients.

    .venv/bin/python bench/api_load.py [--seconds 60] [--clients 50] [--jobs 10000]
        [--runs 200000] [--quick]

A fresh database `orc_bench_<random>` on the server named by ORC_BENCH_POSTGRES_URL (dropped at
the end) is migrated and seeded with set-based INSERT … SELECT statements (jobs with a task
each; runs spread over the jobs and over the last weeks, with a task run and log lines each),
then `VACUUM ANALYZE`d. One `orc api` child (one process, as deployed) listens on a free
loopback port; the bench logs in as the bootstrap admin and, after a correctness pass, drives
it with `--clients` keep-alive connections (a lean HTTP/1.1 client on uvloop, `_lean_http.py`,
so that the load generator does not take the api's core):

1. ceiling: `GET /health` (routing, one `SELECT 1`) and `GET /api/v1/users/me` (routing, token
   check, one user lookup: the least an authenticated request costs), `--ceiling-seconds` each;
2. the mix, `--seconds`: each client repeatedly picks one of the endpoints below at random. Its
   deep pages are read the way the API offers for depth: `after=` a cursor (`X-Next-Cursor`)
   taken beforehand from pages at random offsets all through the lists;
3. the same mix with those deep pages read by `offset=` instead, `--offset-seconds`: what a
   client that pages by offset costs (the database walks past every earlier row). Reported, no
   target: the target is the mix of 2.

Prints per endpoint requests, p50, p99, max and errors, the mix against the ceilings, then one
JSON line. Exits 1 on any error response or failed check.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvloop

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
    free_port,
    fresh_database,
    machine_cpu,
    percentile,
    process_group,
    report,
    say,
    utilisation,
    verdict,
    wait_until,
    workdir,
)
from bench._lean_http import LeanConnection, LeanHttpError
from orcrustator.db import migrate

PAGE = 50
# Targets (../shared/targets.md, "API").
TARGET_P99_MS = 100.0
TARGET_RPS = 500.0

SCHEDULES = ("*/5 * * * *", "0 * * * *", "@daily", "30 2 * * 1", "*/15 * * * * *")
TIMEZONES = ("UTC", "Europe/Paris", "America/New_York")
STATUSES = ("success", "failed", "cancelled", "queued", "running")


@dataclass
class Options:
    seconds: float
    offset_seconds: float
    ceiling_seconds: float
    warmup_seconds: float
    clients: int
    jobs: int
    runs: int
    log_level: str
    quick: bool


# --- seeding ------------------------------------------------------------------------------------
SEED_JOBS = """
INSERT INTO job_definitions (job_id, job_name, description, schedule, is_active, created_at,
    updated_at, timezone, max_active_runs)
SELECT gen_random_uuid(), 'load-' || lpad(i::text, 6, '0'), 'seeded by bench/api_load.py',
    (CAST(:schedules AS text[]))[1 + i % 5], i % 5 <> 0,
    now() - interval '90 days' + make_interval(secs => i), now() - interval '90 days',
    (CAST(:timezones AS text[]))[1 + i % 3], 1
FROM generate_series(1, :jobs) AS i
"""

SEED_TASKS = """
INSERT INTO task_definitions (task_id, job_id, task_order, extractor_config, loader_config)
SELECT gen_random_uuid(), job_id, 1, '{"type": "generate", "rows": 1000}'::jsonb,
    '{"type": "null"}'::jsonb
FROM job_definitions
"""

# Run i belongs to job i mod jobs and was created (and scheduled) 10 s after run i - 1, so the
# history spans weeks; 2 % failed, 1 % cancelled, the newest few queued or running.
SEED_RUNS = """
WITH j AS (
    SELECT job_id, (row_number() OVER (ORDER BY job_name)) - 1 AS n FROM job_definitions
), r AS (
    SELECT i, now() - make_interval(secs => (:runs - i) * 10) AS ts,
        CASE WHEN i > :runs - 100 THEN 'queued'
             WHEN i > :runs - 150 THEN 'running'
             WHEN i % 100 < 2 THEN 'failed'
             WHEN i % 100 = 2 THEN 'cancelled'
             ELSE 'success' END AS status
    FROM generate_series(1, :runs) AS i
)
INSERT INTO job_runs (run_id, job_id, status, triggered_by, started_at, finished_at,
    error_message, created_at, scheduled_for, attempt, worker_id, heartbeat_at)
SELECT gen_random_uuid(), j.job_id, r.status,
    CASE WHEN r.i % 20 = 0 THEN 'manual' ELSE 'scheduled' END,
    CASE WHEN r.status IN ('queued', 'cancelled') THEN NULL
         ELSE r.ts + interval '30 milliseconds' END,
    CASE WHEN r.status IN ('queued', 'running') THEN NULL ELSE r.ts + interval '2 seconds' END,
    CASE WHEN r.status = 'failed' THEN 'generate: boom' END,
    r.ts, r.ts, 1, CASE WHEN r.status <> 'queued' THEN 'bench-worker' END,
    CASE WHEN r.status <> 'queued' THEN r.ts + interval '2 seconds' END
FROM r JOIN j ON j.n = r.i % :jobs
"""

SEED_TASK_RUNS = """
INSERT INTO task_runs (task_run_id, run_id, task_id, task_order, attempt, status, started_at,
    finished_at, rows_extracted, rows_loaded, bytes_loaded, error_message)
SELECT gen_random_uuid(), r.run_id, t.task_id, 1, 1, r.status, r.started_at, r.finished_at,
    1000, CASE WHEN r.status = 'success' THEN 1000 ELSE 0 END, 64000, r.error_message
FROM job_runs AS r JOIN task_definitions AS t ON t.job_id = r.job_id
WHERE r.started_at IS NOT NULL
"""

SEED_LOGS = """
INSERT INTO run_logs (run_id, ts, level, message)
SELECT r.run_id, r.started_at + make_interval(secs => g.k * 0.5),
    CASE WHEN g.k = 3 AND r.status = 'failed' THEN 'ERROR' ELSE 'INFO' END,
    CASE g.k WHEN 1 THEN 'run started on bench-worker'
             WHEN 2 THEN 'task 1: 1000 rows extracted, 1000 rows loaded'
             ELSE 'run finished: ' || r.status END
FROM job_runs AS r CROSS JOIN generate_series(1, 3) AS g(k)
WHERE r.started_at IS NOT NULL
"""


def seed(db: BenchDatabase, jobs: int, runs: int) -> dict[str, float]:
    """Fill the database set-based; returns seconds per step."""
    timings: dict[str, float] = {}
    params: dict[str, Any] = {
        "jobs": jobs,
        "runs": runs,
        "schedules": list(SCHEDULES),
        "timezones": list(TIMEZONES),
    }
    with db.engine.begin() as conn:
        for name, sql in (
            ("jobs", SEED_JOBS),
            ("tasks", SEED_TASKS),
            ("runs", SEED_RUNS),
            ("task_runs", SEED_TASK_RUNS),
            ("run_logs", SEED_LOGS),
        ):
            started = time.monotonic()
            conn.execute(sa.text(sql), params)
            timings[name] = time.monotonic() - started
    started = time.monotonic()
    # A settled database, as autovacuum leaves it after a bulk load: fresh statistics and a
    # visibility map, so the plans are the ones production sees.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    timings["vacuum_analyze"] = time.monotonic() - started
    return timings


def sample_ids(db: BenchDatabase, count: int) -> tuple[list[str], list[str]]:
    """Random job and run ids to read, spread over the whole table."""
    with db.engine.connect() as conn:
        jobs = conn.execute(
            sa.text("SELECT job_id::text FROM job_definitions ORDER BY random() LIMIT :n"),
            {"n": count},
        ).scalars()
        job_ids = [str(j) for j in jobs]
        runs = conn.execute(
            sa.text("SELECT run_id::text FROM job_runs ORDER BY random() LIMIT :n"), {"n": count}
        ).scalars()
        run_ids = [str(r) for r in runs]
    return job_ids, run_ids


# --- the endpoints ------------------------------------------------------------------------------
Picker = Callable[[random.Random], str]


@dataclass
class Endpoint:
    name: str
    path: Picker
    is_list: bool


JOBS_PATH = "/api/v1/jobs"
RUNS_PATH = "/api/v1/runs"
# The three deep lists: (name, path and filter, total rows of the list as seeded).
DEEP_LISTS: tuple[tuple[str, str, Callable[[Options], int]], ...] = (
    ("jobs", f"{JOBS_PATH}?", lambda o: o.jobs),
    ("jobs: is_active", f"{JOBS_PATH}?is_active=true&", lambda o: o.jobs - o.jobs // 5),
    ("runs", f"{RUNS_PATH}?", lambda o: o.runs),
)


def deep_offset_endpoints(opts: Options) -> list[Endpoint]:
    """The deep lists read at a random offset: the database walks past every earlier row."""

    def picker(prefix: str, total: int) -> Picker:
        return lambda rnd: f"{prefix}limit={PAGE}&offset={rnd.randrange(0, max(1, total - PAGE))}"

    return [
        Endpoint(f"{name}: deep offset", picker(prefix, total(opts)), True)
        for name, prefix, total in DEEP_LISTS
    ]


def deep_cursor_endpoints(base: str, token: str, opts: Options) -> list[Endpoint]:
    """The deep lists read `after=` a cursor, each cursor from a page at a random offset.

    A client that walks a list follows the cursors; taking them from random depths first
    spreads the load over the whole list as the offset variant does.
    """
    auth = {"Authorization": f"Bearer {token}"}
    count = 20 if opts.quick else 200
    rnd = random.Random(11)
    found: list[Endpoint] = []
    with httpx.Client(base_url=base, headers=auth, timeout=30.0) as client:
        for name, prefix, total in DEEP_LISTS:
            cursors: list[str] = []
            for _ in range(count):
                offset = rnd.randrange(0, max(1, total(opts) - 2 * PAGE))
                resp = client.get(f"{prefix}limit={PAGE}&offset={offset}")
                if resp.status_code != 200 or "x-next-cursor" not in resp.headers:
                    raise BenchError(f"no cursor from {prefix}offset={offset}: {resp.text[:200]}")
                cursors.append(resp.headers["x-next-cursor"])
            found.append(
                Endpoint(
                    f"{name}: deep page (after)",
                    lambda r, p=prefix, c=tuple(cursors): f"{p}limit={PAGE}&after={r.choice(c)}",
                    True,
                )
            )
    return found


def endpoints(job_ids: list[str], run_ids: list[str], deep_pages: list[Endpoint]) -> list[Endpoint]:
    """The mix: the first pages, the deep pages given, filtered lists, details and logs."""
    jp, rp = JOBS_PATH, RUNS_PATH
    jobs_deep, active_deep, runs_deep = deep_pages
    return [
        Endpoint("jobs: first page", lambda rnd: f"{jp}?limit={PAGE}", True),
        jobs_deep,
        active_deep,
        Endpoint("job detail", lambda rnd: f"{jp}/{rnd.choice(job_ids)}", False),
        Endpoint("job's runs", lambda rnd: f"{jp}/{rnd.choice(job_ids)}/runs?limit=20", True),
        Endpoint("runs: first page", lambda rnd: f"{rp}?limit={PAGE}", True),
        runs_deep,
        Endpoint(
            "runs: by status",
            lambda rnd: (
                f"{rp}?status={rnd.choice(STATUSES)}&limit={PAGE}"
                f"&offset={rnd.choice((0, 0, 50, 500, 2000))}"
            ),
            True,
        ),
        Endpoint(
            "runs: by job", lambda rnd: f"{rp}?job_id={rnd.choice(job_ids)}&limit={PAGE}", True
        ),
        Endpoint("run detail", lambda rnd: f"{rp}/{rnd.choice(run_ids)}", False),
        Endpoint("run logs", lambda rnd: f"{rp}/{rnd.choice(run_ids)}/logs", False),
    ]


# --- load ---------------------------------------------------------------------------------------
@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def record(self, name: str, ms: float, error: str | None) -> None:
        self.latencies.setdefault(name, []).append(ms)
        if error is not None:
            self.errors[name] += 1
            self.examples.setdefault(name, error)

    def all_latencies(self) -> list[float]:
        return [ms for values in self.latencies.values() for ms in values]


def _connection(base: str, headers: dict[str, str]) -> LeanConnection:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    return LeanConnection(host, int(port), headers)


async def drive(
    base: str,
    token: str | None,
    choices: list[Endpoint],
    clients: int,
    seconds: float,
    seed: int,
) -> tuple[Stats, float]:
    """`clients` loops, each on its own keep-alive connection, for `seconds`."""
    stats = Stats()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    connections = [_connection(base, headers) for _ in range(clients)]
    stop_at = time.monotonic() + seconds

    async def one_client(index: int) -> None:
        rnd = random.Random(seed * 1000 + index)
        connection = connections[index]
        while time.monotonic() < stop_at:
            endpoint = rnd.choice(choices)
            path = endpoint.path(rnd)
            started = time.perf_counter()
            error: str | None = None
            try:
                resp = await connection.get(path)
                if resp.status != 200:
                    error = f"GET {path}: HTTP {resp.status} {resp.text[:200]}"
                elif endpoint.is_list and "x-total-count" not in resp.headers:
                    error = f"GET {path}: no X-Total-Count"
            except LeanHttpError as exc:
                error = f"GET {path}: {exc}"
            stats.record(endpoint.name, (time.perf_counter() - started) * 1000, error)

    started = time.monotonic()
    try:
        await asyncio.gather(*(one_client(i) for i in range(clients)))
    finally:
        elapsed = time.monotonic() - started
        for connection in connections:
            await connection.close()
    return stats, elapsed


async def _serial(base: str, token: str, path: Picker, count: int) -> None:
    connection = _connection(base, {"Authorization": f"Bearer {token}"})
    rnd = random.Random(7)
    try:
        for _ in range(count):
            resp = await connection.get(path(rnd))
            if resp.status != 200:
                raise BenchError(f"serial pass: HTTP {resp.status} {resp.text[:200]}")
    finally:
        await connection.close()


def cpu_by_endpoint(
    db: BenchDatabase,
    api: OrcProcess,
    base: str,
    token: str,
    choices: list[Endpoint],
    count: int,
) -> dict[str, tuple[float, float]]:
    """CPU milliseconds per request of each endpoint, one request at a time: the api's, and
    its PostgreSQL backends'.

    Under load the CPU share of each endpoint cannot be told apart; one client asking one
    endpoint `count` times can: what the processes spent, divided by the requests.
    """
    costs: dict[str, tuple[float, float]] = {}
    for endpoint in choices:
        before, db_before = cpu_seconds([api.pid]), backend_cpu(db)
        uvloop.run(_serial(base, token, endpoint.path, count))
        api_ms = 1000 * (cpu_seconds([api.pid]) - before) / count
        db_spent = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in backend_cpu(db).items())
        costs[endpoint.name] = (api_ms, 1000 * db_spent / count)
    return costs


def check_answers(base: str, token: str, job_ids: list[str], opts: Options) -> list[str]:
    """A correctness pass before the load: totals, page sizes, a deep page, the details."""
    problems: list[str] = []
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30.0) as client:

        def get(path: str) -> httpx.Response:
            resp = client.get(path)
            if resp.status_code != 200:
                problems.append(f"GET {path}: HTTP {resp.status_code}")
            return resp

        expect = {
            "/api/v1/jobs?limit=50": (opts.jobs, 50),
            f"/api/v1/jobs?limit=50&offset={opts.jobs - 10}": (opts.jobs, 10),
            "/api/v1/jobs?is_active=true&limit=50": (opts.jobs - opts.jobs // 5, 50),
            "/api/v1/runs?limit=50": (opts.runs, 50),
            f"/api/v1/runs?limit=50&offset={opts.runs - 7}": (opts.runs, 7),
            "/api/v1/runs?status=queued&limit=50": (100, 50),
            "/api/v1/runs?status=running&limit=1000": (50, 50),
        }
        for path, (total, size) in expect.items():
            resp = get(path)
            got = (int(resp.headers.get("x-total-count", -1)), len(resp.json()))
            if got != (total, size):
                problems.append(f"GET {path}: (total, items) {got}, expected {(total, size)}")
        # Pages must be disjoint and ordered: two neighbouring deep pages share no run.
        middle = opts.runs // 2
        first = [r["run_id"] for r in get(f"/api/v1/runs?limit=50&offset={middle}").json()]
        second = [r["run_id"] for r in get(f"/api/v1/runs?limit=50&offset={middle + 50}").json()]
        if set(first) & set(second) or len(first) != 50 or len(second) != 50:
            problems.append("neighbouring deep pages of /api/v1/runs overlap or are short")
        # The page after a deep page's cursor is the page at the next offset.
        for prefix, depth in (("/api/v1/runs?", middle), ("/api/v1/jobs?", opts.jobs // 2)):
            deep = get(f"{prefix}limit=50&offset={depth}")
            by_offset = get(f"{prefix}limit=50&offset={depth + 50}").json()
            by_cursor = get(f"{prefix}limit=50&after={deep.headers.get('x-next-cursor')}").json()
            if by_cursor != by_offset or len(by_cursor) != 50:
                problems.append(f"{prefix}: the page after a cursor is not the next offset's")
        job = get(f"/api/v1/jobs/{job_ids[0]}").json()
        if len(job.get("tasks", [])) != 1:
            problems.append("job detail: expected one task")
        runs = get(f"/api/v1/jobs/{job_ids[0]}/runs?limit=100").json()
        per_job = opts.runs // opts.jobs
        if not per_job <= len(runs) <= per_job + 1:
            problems.append(f"job's runs: {len(runs)}, expected about {per_job}")
        finished = next((r for r in runs if r["status"] == "success"), None)
        if finished is not None:
            detail = get(f"/api/v1/runs/{finished['run_id']}").json()
            if len(detail.get("task_runs", [])) != 1:
                problems.append("run detail: expected one task run")
            if len(get(f"/api/v1/runs/{finished['run_id']}/logs").json()) != 3:
                problems.append("run logs: expected three lines")
    return problems


def backend_cpu(db: BenchDatabase) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving the api (not the bench's own)."""
    with db.engine.connect() as conn:
        pids = conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND coalesce(application_name, '') <> 'orc-bench'"
            )
        ).scalars()
        return {int(pid): cpu_seconds([int(pid)]) for pid in pids}


@dataclass
class Phase:
    name: str
    stats: Stats
    elapsed: float
    api_cpu: float  # share of one core
    machine: float  # busy share of all cores
    api_cpu_seconds: float
    db_cpu_seconds: float  # a lower bound: a backend that came and went between reads is missed

    @property
    def requests(self) -> int:
        return len(self.stats.all_latencies())

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else math.nan

    def summary(self) -> dict[str, Any]:
        lat = self.stats.all_latencies()
        return {
            "requests": self.requests,
            "rps": self.rps,
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else math.nan,
            "errors": sum(self.stats.errors.values()),
            "api_cpu_percent": 100 * self.api_cpu,
            "machine_busy_percent": 100 * self.machine,
            # CPU per request hardly depends on how busy the machine is: the figure to compare.
            "api_cpu_ms_per_request": 1000 * self.api_cpu_seconds / max(1, self.requests),
            "db_cpu_ms_per_request": 1000 * self.db_cpu_seconds / max(1, self.requests),
        }


def run_phase(
    name: str,
    db: BenchDatabase,
    api: OrcProcess,
    base: str,
    token: str | None,
    choices: list[Endpoint],
    opts: Options,
    seconds: float,
    seed: int,
) -> Phase:
    cpu_before, machine_before = cpu_seconds([api.pid]), machine_cpu()
    db_before = backend_cpu(db)
    stats, elapsed = uvloop.run(drive(base, token, choices, opts.clients, seconds, seed))
    api.check_alive()
    api_cpu = cpu_seconds([api.pid]) - cpu_before
    db_cpu = sum(cpu - db_before.get(pid, 0.0) for pid, cpu in backend_cpu(db).items())
    return Phase(
        name,
        stats,
        elapsed,
        api_cpu / elapsed,
        utilisation(machine_before, machine_cpu()),
        api_cpu,
        db_cpu,
    )


def load(opts: Options) -> tuple[list[Row], dict[str, Any], bool]:
    figures: dict[str, Any] = {}
    rows: list[Row] = []
    with workdir("orc-api-load-") as work, fresh_database("postgresql", work) as db:
        migrate.upgrade(db.parsed)
        figures["database"] = db.name
        say(f"api_load: seeding {opts.jobs:,} jobs and {opts.runs:,} runs")
        timings = seed(db, opts.jobs, opts.runs)
        figures["seed_seconds"] = timings
        job_ids, run_ids = sample_ids(db, 2000)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = clean_env(
            database_url=db.url,
            data_dir=work / "data",
            log_level=opts.log_level,
            extra=api_settings(port),
        )
        with process_group() as started:
            api = OrcProcess(["api"], env, work, "api")
            started.append(api)

            def healthy() -> bool:
                api.check_alive()
                try:
                    return httpx.get(f"{base}/health", timeout=2.0).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(healthy, 120.0, 0.2, "orc api healthy")
            token = admin_token(base)
            problems = check_answers(base, token, job_ids, opts)
            figures["check_problems"] = problems
            say("api_load: cursors of deep pages")
            mix = endpoints(job_ids, run_ids, deep_cursor_endpoints(base, token, opts))
            deep_offsets = deep_offset_endpoints(opts)
            offset_mix = endpoints(job_ids, run_ids, deep_offsets)
            health = [Endpoint("GET /health", lambda rnd: "/health", False)]
            me = [Endpoint("GET /api/v1/users/me", lambda rnd: "/api/v1/users/me", False)]
            say("api_load: warm-up")
            run_phase("warm-up", db, api, base, token, mix, opts, opts.warmup_seconds, 0)
            say("api_load: CPU per request of each endpoint, one client")
            serial_cpu = cpu_by_endpoint(
                db, api, base, token, mix + deep_offsets, 50 if opts.quick else 300
            )
            say(f"api_load: ceilings, {opts.ceiling_seconds:g} s each")
            ceil_health = run_phase(
                "health", db, api, base, None, health, opts, opts.ceiling_seconds, 1
            )
            ceil_me = run_phase("users/me", db, api, base, token, me, opts, opts.ceiling_seconds, 2)
            say(f"api_load: {opts.clients} clients on the mix for {opts.seconds:g} s")
            main = run_phase("mix", db, api, base, token, mix, opts, opts.seconds, 3)
            say(f"api_load: the mix with deep offsets for {opts.offset_seconds:g} s")
            by_offset = run_phase(
                "offsets", db, api, base, token, offset_mix, opts, opts.offset_seconds, 4
            )
            api_log_tail = api.tail(5)

    total = main.summary()
    errors = sum(p.summary()["errors"] for p in (main, by_offset, ceil_health, ceil_me))
    per_endpoint: dict[str, Any] = {}
    for phase, named in ((main, mix), (by_offset, deep_offsets)):
        for endpoint in named:
            lat = phase.stats.latencies.get(endpoint.name, [])
            per_endpoint[endpoint.name] = {
                "requests": len(lat),
                "p50_ms": percentile(lat, 50),
                "p99_ms": percentile(lat, 99),
                "max_ms": max(lat) if lat else math.nan,
                "errors": phase.stats.errors.get(endpoint.name, 0),
                "api_cpu_ms_one_client": serial_cpu[endpoint.name][0],
                "db_cpu_ms_one_client": serial_cpu[endpoint.name][1],
            }
    figures.update(
        {
            "jobs": opts.jobs,
            "runs": opts.runs,
            "clients": opts.clients,
            "seconds": opts.seconds,
            "ceiling_health": ceil_health.summary(),
            "ceiling_users_me": ceil_me.summary(),
            "mix": total,
            "offset_seconds": opts.offset_seconds,
            "mix_with_deep_offsets": by_offset.summary(),
            "endpoints": per_endpoint,
            "errors": errors,
            "error_examples": {
                **main.stats.examples,
                **by_offset.stats.examples,
                **ceil_health.stats.examples,
                **ceil_me.stats.examples,
            },
            "rps_vs_health": total["rps"] / ceil_health.rps,
            "rps_vs_users_me": total["rps"] / ceil_me.rps,
            "p99_vs_health": total["p99_ms"] / ceil_health.summary()["p99_ms"],
            "p99_vs_users_me": total["p99_ms"] / ceil_me.summary()["p99_ms"],
            "api_cpu_per_request_vs_health": total["api_cpu_ms_per_request"]
            / ceil_health.summary()["api_cpu_ms_per_request"],
            "load_average_end": os.getloadavg()[0],
        }
    )
    if errors:
        figures["api_log_tail"] = api_log_tail
    ok = errors == 0 and not problems
    figures["ok"] = ok

    seeded = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
    rows.append(Row("set-up", f"{opts.jobs:,} jobs, {opts.runs:,} runs; seed s", seeded))
    rows.append(
        Row(
            "set-up",
            "correctness pass (totals, page sizes, deep pages)",
            "ok" if not problems else "; ".join(problems)[:60],
            "",
            "PASS" if not problems else "MISS",
        )
    )
    for endpoint in mix + deep_offsets:
        e = per_endpoint[endpoint.name]
        in_mix = endpoint in mix
        rows.append(
            Row(
                "mix" if in_mix else "offsets",
                f"{endpoint.name}: n; p50 / p99 / max ms; errors; CPU ms api, db (1 client)",
                f"{e['requests']}; {e['p50_ms']:.0f} / {e['p99_ms']:.0f} / "
                f"{e['max_ms']:.0f}; {e['errors']}; {e['api_cpu_ms_one_client']:.2f}, "
                f"{e['db_cpu_ms_one_client']:.2f}",
                f"p99 ≤ {TARGET_P99_MS:.0f}" if in_mix else "",
                verdict(e["p99_ms"], at_most=TARGET_P99_MS) if in_mix else "",
            )
        )
    for label, phase in (
        ("ceiling: GET /health", ceil_health),
        ("ceiling: GET /users/me", ceil_me),
        (f"mix, {opts.clients} clients", main),
        (f"mix with deep offsets, {opts.clients} clients", by_offset),
    ):
        s = phase.summary()
        rows.append(
            Row(
                "total",
                f"{label}: req/s; p50 / p99 / max ms; errors",
                f"{s['rps']:.0f}; {s['p50_ms']:.0f} / {s['p99_ms']:.0f} / {s['max_ms']:.0f}; "
                f"{s['errors']}",
                f"≥ {TARGET_RPS:.0f} req/s" if phase is main else "",
                verdict(s["rps"], at_least=TARGET_RPS) if phase is main else "",
            )
        )
        if phase is main:
            rows.append(
                Row(
                    "",
                    "    p99 latency, ms",
                    f"{s['p99_ms']:.0f}",
                    f"≤ {TARGET_P99_MS:.0f}",
                    verdict(s["p99_ms"], at_most=TARGET_P99_MS),
                )
            )
        rows.append(
            Row(
                "",
                "    CPU ms a request: api process; its PostgreSQL backends",
                f"{s['api_cpu_ms_per_request']:.2f}; {s['db_cpu_ms_per_request']:.2f}",
            )
        )
        rows.append(
            Row(
                "",
                "    api process CPU; machine busy",
                f"{s['api_cpu_percent']:.0f} %; {s['machine_busy_percent']:.0f} %",
            )
        )
    rows += [
        Row(
            "ratio",
            "mix req/s ÷ /health req/s; ÷ /users/me req/s",
            f"{figures['rps_vs_health']:.2f}; {figures['rps_vs_users_me']:.2f}",
        ),
        Row(
            "ratio",
            "mix p99 ÷ /health p99; ÷ /users/me p99",
            f"{figures['p99_vs_health']:.2f}; {figures['p99_vs_users_me']:.2f}",
        ),
        Row(
            "ratio",
            "mix api CPU a request ÷ /health's",
            f"{figures['api_cpu_per_request_vs_health']:.2f}",
        ),
        Row("machine", "load average (1 min) at the end", f"{figures['load_average_end']:.1f}"),
        Row("errors", "all phases", str(errors), "0", "PASS" if errors == 0 else "MISS"),
    ]
    return rows, figures, ok


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=None, help="the mix [60; quick: 10]")
    parser.add_argument(
        "--offset-seconds",
        type=float,
        default=None,
        help="the mix with deep pages by offset [30; quick: 4]",
    )
    parser.add_argument(
        "--ceiling-seconds", type=float, default=None, help="each ceiling [15; quick: 4]"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200_000)
    parser.add_argument("--log-level", default="WARNING", help="ORC_LOG_LEVEL of the api")
    parser.add_argument("--quick", action="store_true", help="short phases, for CI")
    args = parser.parse_args(argv)
    quick = bool(args.quick)
    if args.jobs < 10 or args.runs < args.jobs * 2:
        parser.error("need at least 10 jobs and two runs per job")
    return Options(
        seconds=args.seconds or (10.0 if quick else 60.0),
        offset_seconds=args.offset_seconds or (4.0 if quick else 30.0),
        ceiling_seconds=args.ceiling_seconds or (4.0 if quick else 15.0),
        warmup_seconds=2.0 if quick else 5.0,
        clients=int(args.clients),
        jobs=int(args.jobs),
        runs=int(args.runs),
        log_level=str(args.log_level).upper(),
        quick=quick,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    payload: dict[str, Any] = {"bench": "api_load", "quick": opts.quick, "cpus": os.cpu_count()}
    return report("orc-rust-ator API load", payload, lambda: load(opts))


if __name__ == "__main__":
    sys.exit(main())
