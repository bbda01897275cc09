"""next_run_at on job responses: remembered per schedule, and right at every instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from orcrustator.api.presenters import next_run_at
from orcrustator.scheduler.cron import next_fire_time, parse_schedule

START = datetime(2026, 3, 29, 0, 0, 30, tzinfo=UTC)  # the night Berlin springs forward


def job(schedule: str, timezone: str = "UTC", *, active: bool = True) -> dict[str, Any]:
    return {"schedule": schedule, "timezone": timezone, "is_active": active}


@pytest.mark.parametrize(
    ("schedule", "timezone"),
    [("*/15 * * * * *", "UTC"), ("0 * * * *", "Europe/Berlin"), ("30 2 * * *", "Europe/Berlin")],
)
def test_remembered_answers_equal_a_fresh_evaluation_at_every_instant(
    schedule: str, timezone: str
) -> None:
    expected_schedule = parse_schedule(schedule)
    zone = ZoneInfo(timezone)
    now = START
    for _ in range(400):  # 400 steps of 37 s: across many slots and the DST jump
        assert next_run_at(job(schedule, timezone), now) == next_fire_time(
            expected_schedule, zone, now
        )
        now += timedelta(seconds=37)


def test_an_earlier_now_than_the_remembered_one_is_evaluated_afresh() -> None:
    later = START + timedelta(hours=5)
    assert next_run_at(job("0 * * * *"), later) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert next_run_at(job("0 * * * *"), START) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_paused_jobs_have_no_next_run() -> None:
    assert next_run_at(job("* * * * *", active=False), START) is None
