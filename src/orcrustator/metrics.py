"""Prometheus metrics.

Two kinds: events counted where they happen (a worker finishing a run: status, duration, start
delay, rows) in this process's registry; and the shared state read from the database when
`/metrics` is scraped (queue depth, live workers, the scheduler's heartbeat age), so any api
process reports the same truth. In `orc up` both come out of the one `/metrics`; a separate
`orc worker` or `orc scheduler` serves its own registry on ORC_METRICS_PORT.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS_FINISHED = Counter(
    "orc_runs_finished",
    "Runs that reached a final status (or were queued for a retry), by job and status.",
    ["job", "status"],
    registry=REGISTRY,
)
START_DELAY = Histogram(
    "orc_run_start_delay_seconds",
    "Scheduled runs: started_at - scheduled_for.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
RUN_DURATION = Histogram(
    "orc_run_duration_seconds",
    "Run attempts from start to finish, by job.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 10800),
    registry=REGISTRY,
)
ROWS_LOADED = Counter(
    "orc_rows_loaded",
    "Rows written by loaders, by job.",
    ["job"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class DatabaseState:
    """One snapshot of the shared state, read from the database for one scrape."""

    runs_by_status: dict[str, int]
    queue_depth: int
    live_workers: int
    live_schedulers: int
    scheduler_heartbeat_age: float | None


class DatabaseStateCollector(Collector):
    def __init__(self, state: DatabaseState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        runs = GaugeMetricFamily(
            "orc_runs", "Runs now queued or running, by status.", labels=["status"]
        )
        for status, count in sorted(state.runs_by_status.items()):
            runs.add_metric([status], float(count))
        yield runs
        yield GaugeMetricFamily(
            "orc_queue_depth",
            "Queued runs that may start now (not waiting for a retry backoff).",
            value=float(state.queue_depth),
        )
        yield GaugeMetricFamily(
            "orc_live_workers",
            "Worker processes that heart-beat within the lease.",
            value=float(state.live_workers),
        )
        yield GaugeMetricFamily(
            "orc_live_schedulers",
            "Scheduler processes that heart-beat within the lease.",
            value=float(state.live_schedulers),
        )
        age = state.scheduler_heartbeat_age
        yield GaugeMetricFamily(
            "orc_scheduler_heartbeat_age_seconds",
            "Seconds since the last scheduler heartbeat (+Inf when none was ever seen).",
            value=float("inf") if age is None else age,
        )
