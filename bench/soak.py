"""Soak: `orc api`, `orc scheduler` and two `orc worker`s on PostgreSQL for a long while, with
50 jobs due every second. Does the memory of every process stay flat, and is no run lost?

    .venv/bin/python bench/soak.py [--minutes 30] [--jobs 50] [--concurrency 4]

A fresh database `orc_bench_<random>` on the server named by ORC_BENCH_POSTGRES_URL (dropped at
the end), migrated; the jobs are written straight into it; the processes are real `orc`
children, started and stopped by PID, with all traffic on loopback. The bench reads the RSS of
every process (and of each worker's executor processes together) from /proc every few seconds
and polls the API lightly so the api process has work too. Prints a table, then one JSON line;
exits 1 when a promise fails.

Promises checked:
- memory flat: the run is cut into quarters; the first is warm-up (pools fill, caches warm).
  The median RSS of the last quarter may exceed the median of the second quarter by at most
  max(FLAT_MB, FLAT_PCT % of it). Medians shrug off a single GC or allocator spike; a leak
  shows as a steady climb between the two. The JSON line also gives the smallest per-run leak
  the check would catch over this run's length (at 30 minutes ~200 bytes a run, at 2 ~3 KB).
- no run lost: for every job, every whole-second slot from its first run to one second before
  the jobs were paused has exactly one run; every run reaches a final status: after the pause
  the queue drains (a backlog on a busy machine is slow, not lost) and a run still queued or
  running once the count has stopped falling for the grace period is stuck; every run succeeded
  (the task is trivial).
Whether the workers kept up with the schedule (the backlog at the pause) and the start delay
are reported, not promised: they measure the machine as much as the code.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchDatabase,
    OrcProcess,
    Row,
    admin_token,
    api_settings,
    clean_env,
    cpu_seconds,
    descendants,
    free_port,
    fresh_database,
    insert_jobs,
    percentile,
    process_group,
    report,
    say,
    set_active,
    verdict,
    wait_until,
    workdir,
)
from orcrustator.db import migrate
from orcrustator.db.tables import job_runs, service_instances

FINAL_STATUSES = ("success", "failed", "cancelled")

# "Flat" (see the module docstring): a few MB is allocator and arena noise in a Python process
# of 60-150 MB; a percentage keeps the check fair for the bigger ones.
FLAT_MB = 5.0
FLAT_PCT = 5.0
LIVE_TIMEOUT_S = 120.0


@dataclass
class Options:
    minutes: float
    jobs: int
    concurrency: int
    sample_seconds: float
    grace_seconds: float
    max_drain_seconds: float
    log_level: str


@dataclass
class Series:
    """RSS samples (seconds since start, MB) of one process, or of a group of processes."""

    name: str
    samples: list[tuple[float, float]] = field(default_factory=list)

    def window(self, start: float, end: float) -> list[float]:
        return [mb for t, mb in self.samples if start <= t < end]


def rss_mb(pid: int) -> float | None:
    """Resident set size of a live process in MB (VmRSS), None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def wait_live(db: BenchDatabase, expected: dict[str, list[int]], procs: list[OrcProcess]) -> None:
    def live() -> bool:
        for p in procs:
            p.check_alive()
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.select(service_instances.c.role, service_instances.c.pid).where(
                    service_instances.c.stopped_at.is_(None)
                )
            ).all()
        seen = {(r.role, r.pid) for r in rows}
        return all((role, pid) in seen for role, pids in expected.items() for pid in pids)

    wait_until(live, LIVE_TIMEOUT_S, 0.2, f"processes live {expected}")


def unfinished(db: BenchDatabase) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(job_runs)
                .where(job_runs.c.status.in_(("queued", "running")))
            )
            or 0
        )


def drain(db: BenchDatabase, procs: list[OrcProcess], opts: Options) -> float:
    """Wait until nothing is queued or running. A backlog (workers slower than the schedule on
    a busy machine) is not a stuck run: the wait goes on while the count keeps falling, and
    ends when it has not fallen for `grace_seconds`, or after `max_drain_seconds`."""
    started = time.monotonic()
    deadline = started + opts.max_drain_seconds
    best, best_at = unfinished(db), started
    while best and time.monotonic() < deadline:
        for p in procs:
            p.check_alive()
        time.sleep(0.5)
        now_left = unfinished(db)
        if now_left < best:
            best, best_at = now_left, time.monotonic()
        elif time.monotonic() - best_at > opts.grace_seconds:
            break
    return time.monotonic() - started


# --- the soak -------------------------------------------------------------------------------------
class Sampler:
    """RSS of each `orc` process, and of each worker's executor processes summed (they are
    replaced when a task times out, so their PIDs are not stable but their total is)."""

    def __init__(self, procs: dict[str, OrcProcess], workers: list[str]) -> None:
        self.procs = procs
        self.workers = workers
        self.series: dict[str, Series] = {name: Series(name) for name in procs}
        for name in workers:
            self.series[f"{name} executors"] = Series(f"{name} executors")
        self.t0 = time.monotonic()
        self.cpu0 = {name: cpu_seconds(p.tree()) for name, p in procs.items()}

    def sample(self) -> None:
        t = time.monotonic() - self.t0
        for name, proc in self.procs.items():
            proc.check_alive()
            mb = rss_mb(proc.pid)
            if mb is not None:
                self.series[name].samples.append((t, mb))
            if name in self.workers:
                kids = [rss_mb(pid) for pid in descendants(proc.pid)]
                total = sum(k for k in kids if k is not None)
                self.series[f"{name} executors"].samples.append((t, total))

    def cpu_percent(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.t0
        return {
            name: 100 * (cpu_seconds(p.tree()) - self.cpu0[name]) / elapsed
            for name, p in self.procs.items()
        }


class ApiPoller:
    """Light, steady API traffic (health, metrics, a runs page) so the api process works too."""

    def __init__(self, base: str) -> None:
        self.base = base
        # Polls come every few seconds: drop the idle connection before uvicorn's 5 s keep-alive
        # timeout does, or a poll can race the server closing it.
        self.client = httpx.Client(
            base_url=base, timeout=10.0, limits=httpx.Limits(keepalive_expiry=1.0)
        )
        self.requests = 0
        self.errors: Counter[str] = Counter()
        self.token = ""

    def login(self) -> None:
        self.token = admin_token(self.base)

    def poll(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        for path in ("/health", "/metrics", "/api/v1/runs?limit=50", "/api/v1/jobs?limit=50"):
            self.requests += 1
            try:
                resp = self.client.get(path, headers=headers)
                if resp.status_code != 200:
                    self.errors[f"{path}: HTTP {resp.status_code}"] += 1
            except httpx.HTTPError as exc:
                self.errors[f"{path}: {type(exc).__name__}"] += 1

    def close(self) -> None:
        self.client.close()


def memory_figures(sampler: Sampler, duration: float, runs_between: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    q = duration / 4
    for name, s in sampler.series.items():
        q2, q4 = s.window(q, 2 * q), s.window(3 * q, duration + 1)
        if not q2 or not q4:
            out[name] = {"flat": False, "reason": "too few samples"}
            continue
        m2, m4 = statistics.median(q2), statistics.median(q4)
        growth = m4 - m2
        pct = 100 * growth / m2 if m2 > 0 else 0.0
        allowed = max(FLAT_MB, FLAT_PCT / 100 * m2)
        out[name] = {
            "start_mb": s.samples[0][1],
            "q2_median_mb": m2,
            "q4_median_mb": m4,
            "peak_mb": max(mb for _, mb in s.samples),
            "growth_mb": growth,
            "growth_pct": pct,
            "allowed_mb": allowed,
            # The smallest steady leak per run that would push growth past the allowance.
            "detectable_leak_bytes_per_run": allowed * 2**20 / runs_between
            if runs_between > 0
            else math.nan,
            "samples": len(s.samples),
            "flat": growth <= allowed,
        }
    return out


def run_figures(
    db: BenchDatabase, job_ids: list[uuid.UUID], created: datetime, paused: datetime
) -> dict[str, Any]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                job_runs.c.job_id,
                job_runs.c.scheduled_for,
                job_runs.c.started_at,
                job_runs.c.status,
                job_runs.c.triggered_by,
                job_runs.c.error_message,
            ).where(job_runs.c.job_id.in_(job_ids))
        ).all()
    # The slot of the pause's own second may or may not have been enqueued before the pause
    # landed; one second earlier it must have been.
    last_expected = paused.replace(microsecond=0) - timedelta(seconds=1)
    first_possible = created.replace(microsecond=0) + timedelta(seconds=1)
    by_job: dict[uuid.UUID, list[datetime]] = {j: [] for j in job_ids}
    for r in rows:
        if r.scheduled_for is not None:
            by_job[r.job_id].append(r.scheduled_for)
    missing = duplicated = expected_total = 0
    lag_slots: list[int] = []
    missing_at: Counter[str] = Counter()
    for slots in by_job.values():
        duplicated += len(slots) - len(set(slots))
        in_window = sorted({s for s in slots if s <= last_expected})
        if not in_window:
            missing += int((last_expected - first_possible).total_seconds()) + 1
            continue
        first = in_window[0]
        lag_slots.append(int((first - first_possible).total_seconds()))
        expected = int((last_expected - first).total_seconds()) + 1
        expected_total += expected
        missing += expected - len(in_window)
        if expected != len(in_window):
            present = set(in_window)
            slot = first
            while slot <= last_expected:
                if slot not in present:
                    missing_at[slot.isoformat()] += 1
                slot += timedelta(seconds=1)
    statuses = Counter(str(r.status) for r in rows)
    timed = [
        (r.scheduled_for, (r.started_at - r.scheduled_for).total_seconds() * 1000)
        for r in rows
        if r.started_at is not None and r.scheduled_for is not None
    ]
    delays = [d for _, d in timed]
    # Per quarter of the window: a delay that creeps up over the run is a slow leak too.
    span = max((last_expected - first_possible).total_seconds(), 1.0)
    quarters: list[list[float]] = [[], [], [], []]
    for slot, delay in timed:
        index = int(4 * (slot - first_possible).total_seconds() / span)
        quarters[min(max(index, 0), 3)].append(delay)
    return {
        "runs": len(rows),
        "expected_slots": expected_total,
        "missing_slots": missing,
        # Which seconds were missed and by how many jobs: all jobs at one second points at the
        # scheduler, scattered ones at the insert.
        "missing_slot_times": dict(sorted(missing_at.items())[:20]),
        "slot_of_pause": paused.replace(microsecond=0).isoformat(),
        "failures": [str(r.error_message) for r in rows if r.status == "failed"][:5],
        "duplicated_slots": duplicated,
        "not_scheduled": sum(1 for r in rows if r.triggered_by != "scheduled"),
        "statuses": dict(statuses),
        "not_final": sum(v for k, v in statuses.items() if k not in FINAL_STATUSES),
        "not_success": sum(v for k, v in statuses.items() if k != "success"),
        "first_pickup_max_slots": max(lag_slots) if lag_slots else None,
        "start_delay_p50_ms": percentile(delays, 50),
        "start_delay_p90_ms": percentile(delays, 90),
        "start_delay_p99_ms": percentile(delays, 99),
        "start_delay_max_ms": max(delays) if delays else math.nan,
        "start_delay_quarters_p50_ms": [percentile(q, 50) for q in quarters],
        "start_delay_quarters_p99_ms": [percentile(q, 99) for q in quarters],
    }


def soak(opts: Options) -> tuple[list[Row], dict[str, Any], bool]:
    rows: list[Row] = []
    figures: dict[str, Any] = {}
    duration = opts.minutes * 60
    with workdir("orc-soak-") as work, fresh_database("postgresql", work) as db:
        migrate.upgrade(db.parsed)
        figures["database"] = db.name
        port = free_port()
        env = clean_env(
            database_url=db.url,
            data_dir=work / "data",
            log_level=opts.log_level,
            extra=api_settings(port),
        )
        with process_group() as started:
            named: dict[str, OrcProcess] = {}
            for name, args in (
                ("api", ["api"]),
                ("scheduler", ["scheduler"]),
                ("worker-1", ["worker", "--concurrency", str(opts.concurrency)]),
                ("worker-2", ["worker", "--concurrency", str(opts.concurrency)]),
            ):
                named[name] = OrcProcess(args, env, work, name)
                started.append(named[name])
            wait_live(
                db,
                {
                    "scheduler": [named["scheduler"].pid],
                    "worker": [named["worker-1"].pid, named["worker-2"].pid],
                },
                started,
            )
            poller = ApiPoller(f"http://127.0.0.1:{port}")
            try:

                def api_up() -> bool:
                    named["api"].check_alive()
                    try:
                        return poller.client.get("/health").status_code == 200
                    except httpx.TransportError:
                        return False

                wait_until(api_up, LIVE_TIMEOUT_S, 0.2, "api healthy")
                poller.login()
                job_ids, created = insert_jobs(
                    db,
                    "soak",
                    opts.jobs,
                    schedule="* * * * * *",
                    is_active=True,
                    # A run that is briefly late must not hold back the next slot's run.
                    max_active_runs=2,
                )
                say(f"soak: {opts.jobs} jobs every second for {opts.minutes:g} min")
                sampler = Sampler(named, ["worker-1", "worker-2"])
                end = sampler.t0 + duration
                next_report = sampler.t0 + 60
                while (now := time.monotonic()) < end:
                    sampler.sample()
                    poller.poll()
                    if now >= next_report:
                        mem = ", ".join(
                            f"{n} {s.samples[-1][1]:.0f}"
                            for n, s in sampler.series.items()
                            if s.samples
                        )
                        say(f"soak: {(now - sampler.t0) / 60:.0f} min; RSS MB: {mem}")
                        next_report += 60
                    time.sleep(max(0.0, min(opts.sample_seconds, end - time.monotonic())))
                sampler.sample()
                cpu = sampler.cpu_percent()
                paused = set_active(db, job_ids, False)
                backlog = unfinished(db)
                drain_s = drain(db, started, opts)
                runs = run_figures(db, job_ids, created, paused)
                left = unfinished(db)
                api_requests, api_errors = poller.requests, dict(poller.errors)
            finally:
                poller.close()
    # Runs started between the mid-points of the second and the last quarter.
    runs_between = opts.jobs * duration / 2
    memory = memory_figures(sampler, duration, runs_between)
    figures.update(
        {
            "minutes": opts.minutes,
            "jobs": opts.jobs,
            "workers": 2,
            "concurrency": opts.concurrency,
            "sample_seconds": opts.sample_seconds,
            "memory": memory,
            "memory_flat": all(m.get("flat") for m in memory.values()),
            "cpu_percent": cpu,
            "unfinished_after_grace": left,
            "backlog_at_pause": backlog,
            "drain_seconds": drain_s,
            # Runs finished a second over the soak: below `jobs`, the workers fell behind.
            "finished_per_second": runs["statuses"].get("success", 0) / (duration + drain_s),
            "load_average_end": os.getloadavg()[0],
            "api_requests": api_requests,
            "api_errors": api_errors,
            **runs,
        }
    )
    figures["no_run_lost"] = (
        runs["missing_slots"] == 0
        and runs["duplicated_slots"] == 0
        and runs["not_final"] == 0
        and left == 0
    )
    ok = (
        figures["memory_flat"]
        and figures["no_run_lost"]
        and runs["not_success"] == 0
        and not api_errors
    )
    figures["ok"] = ok

    rows.append(
        Row(
            "set-up",
            "jobs × every second; workers × concurrency",
            f"{opts.jobs}; 2 × {opts.concurrency}",
        )
    )
    rows.append(
        Row(
            "set-up",
            "duration; RSS sample every",
            f"{opts.minutes:g} min; {opts.sample_seconds:g} s",
        )
    )
    for name, m in memory.items():
        if "growth_mb" not in m:
            rows.append(Row("memory", name, "too few samples", "", "MISS"))
            continue
        rows.append(
            Row(
                "memory",
                f"{name}: median Q2 → Q4 (peak)",
                f"{m['q2_median_mb']:.1f} → {m['q4_median_mb']:.1f} ({m['peak_mb']:.0f}) MB",
            )
        )
        rows.append(
            Row(
                "memory",
                f"    growth ({cpu.get(name, math.nan):.0f} % CPU)"
                if name in cpu
                else "    growth",
                f"{m['growth_mb']:+.1f} MB {m['growth_pct']:+.1f} %",
                f"≤ {m['allowed_mb']:.1f} MB",
                "PASS" if m["flat"] else "MISS",
            )
        )
    rows += [
        Row("runs", "runs created; expected slots", f"{runs['runs']}; {runs['expected_slots']}"),
        Row(
            "runs",
            "slots missing",
            str(runs["missing_slots"]),
            "0",
            "PASS" if runs["missing_slots"] == 0 else "MISS",
        ),
        *(
            [Row("runs", "    missed seconds (jobs)", str(runs["missing_slot_times"])[:60])]
            if runs["missing_slots"]
            else []
        ),
        Row(
            "runs",
            "slots duplicated",
            str(runs["duplicated_slots"]),
            "0",
            "PASS" if runs["duplicated_slots"] == 0 else "MISS",
        ),
        Row(
            "runs",
            "left queued or running at the pause; drain time",
            f"{backlog}; {drain_s:.0f} s",
            f"kept up: {opts.jobs} runs/s",
            "PASS" if backlog <= 4 * opts.jobs else "MISS",
        ),
        Row(
            "runs",
            "not final once the queue stopped draining",
            str(left),
            "0",
            "PASS" if left == 0 else "MISS",
        ),
        Row(
            "runs",
            f"statuses ({', '.join(f'{k} {v}' for k, v in sorted(runs['statuses'].items()))})",
            f"{runs['not_success']} not success",
            "0",
            "PASS" if runs["not_success"] == 0 else "MISS",
        ),
        Row(
            "runs",
            "slots before the scheduler saw the jobs (max)",
            str(runs["first_pickup_max_slots"]),
        ),
        Row(
            "start delay",
            "p50 / p90 / p99 / max",
            f"{runs['start_delay_p50_ms']:.0f} / {runs['start_delay_p90_ms']:.0f} / "
            f"{runs['start_delay_p99_ms']:.0f} / {runs['start_delay_max_ms']:.0f} ms",
            "p50 ≤ 50, p99 ≤ 250",
            "PASS"
            if verdict(runs["start_delay_p50_ms"], at_most=50) == "PASS"
            and verdict(runs["start_delay_p99_ms"], at_most=250) == "PASS"
            else "MISS",
        ),
        Row(
            "start delay",
            "p50 / p99 by quarter of the run",
            " | ".join(
                f"{a:.0f}/{b:.0f}"
                for a, b in zip(
                    runs["start_delay_quarters_p50_ms"],
                    runs["start_delay_quarters_p99_ms"],
                    strict=True,
                )
            )
            + " ms",
        ),
        Row("machine", "load average (1 min) at the end", f"{figures['load_average_end']:.1f}"),
        Row(
            "api",
            "requests; errors",
            f"{api_requests}; {sum(api_errors.values())}",
            "0 errors",
            "PASS" if not api_errors else "MISS",
        ),
    ]
    return rows, figures, ok


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4, help="runs at once per worker")
    parser.add_argument(
        "--sample-seconds",
        type=float,
        default=None,
        help="RSS sample interval [5 s, shorter for short runs so each quarter has 15 samples]",
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=60.0,
        help="after the pause, how long the count of unfinished runs may stay put",
    )
    parser.add_argument(
        "--max-drain-seconds",
        type=float,
        default=None,
        help="after the pause, the longest wait for the queue to drain [the soak's length, "
        "at least 300]",
    )
    parser.add_argument("--log-level", default="WARNING", help="ORC_LOG_LEVEL of the processes")
    args = parser.parse_args(argv)
    minutes = float(args.minutes)
    if minutes <= 0:
        parser.error("--minutes must be positive")
    sample = args.sample_seconds or min(5.0, minutes * 60 / 60)
    return Options(
        minutes=minutes,
        jobs=int(args.jobs),
        concurrency=int(args.concurrency),
        sample_seconds=float(sample),
        grace_seconds=float(args.grace_seconds),
        max_drain_seconds=float(args.max_drain_seconds or max(300.0, minutes * 60)),
        log_level=str(args.log_level).upper(),
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    return report(
        "orc-rust-ator soak", {"bench": "soak", "cpus": os.cpu_count()}, lambda: soak(opts)
    )


if __name__ == "__main__":
    sys.exit(main())
