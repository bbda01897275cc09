"""Stored records as the response models read them, with what is derived (next_run_at)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from orcrustator.scheduler.cron import CronSchedule, next_fire_time, parse_schedule


@lru_cache(maxsize=4096)
def _schedule(expression: str) -> CronSchedule:
    return parse_schedule(expression)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


# (schedule, timezone) → (computed at, next fire time). No slot lies between the two, so the
# answer holds for any `now` in that interval: a page of jobs sharing a few schedules costs a
# few cron evaluations, not one per job.
_next_fire: dict[tuple[str, str], tuple[datetime, datetime | None]] = {}
_NEXT_FIRE_ENTRIES = 4096


def next_run_at(job: dict[str, Any], now: datetime) -> datetime | None:
    if not job["is_active"]:
        return None
    key = (job["schedule"], job["timezone"])
    known = _next_fire.get(key)
    if known is not None and known[1] is not None and known[0] <= now < known[1]:
        return known[1]
    try:
        upcoming = next_fire_time(_schedule(key[0]), _zone(key[1]), now)
    except ValueError:
        # A schedule stored before validation existed (e.g. by the seed) must not break listing.
        return None
    if len(_next_fire) >= _NEXT_FIRE_ENTRIES:
        _next_fire.clear()
    _next_fire[key] = (now, upcoming)
    return upcoming


def job_public(job: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A job's data as `JobPublic` reads it."""
    return {**job, "next_run_at": next_run_at(job, now)}


def job_detail(job: dict[str, Any], tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """A job and its tasks as `JobDetail` reads them."""
    return {**job_public(job, datetime.now(UTC)), "tasks": tasks}


def run_detail(run: dict[str, Any], task_runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A run and its task runs as `RunDetail` reads them."""
    return {**run, "task_runs": task_runs}
