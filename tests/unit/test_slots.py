"""Which slots are due: the latest missed one, or (catchup) a bounded list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orcrustator.scheduler.cron import parse_schedule
from orcrustator.scheduler.slots import due_slots, latest_slot

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)


def test_nothing_due_before_the_first_slot() -> None:
    schedule = parse_schedule("0 13 * * *")
    assert (
        due_slots(
            schedule,
            UTC_ZONE,
            after=NOW - timedelta(hours=1),
            now=NOW,
            catchup=False,
            max_catchup=10,
        )
        == []
    )


def test_without_catchup_only_the_latest_missed_slot() -> None:
    schedule = parse_schedule("*/5 * * * * *")
    after = NOW - timedelta(days=2)
    assert due_slots(schedule, UTC_ZONE, after=after, now=NOW, catchup=False, max_catchup=10) == [
        datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
    ]


def test_latest_slot_of_a_weekly_schedule_far_back() -> None:
    schedule = parse_schedule("@weekly")
    after = datetime(2026, 1, 1, tzinfo=UTC)
    assert latest_slot(schedule, UTC_ZONE, after, NOW) == datetime(2026, 3, 8, tzinfo=UTC)


def test_latest_slot_is_strictly_after_the_last_one() -> None:
    schedule = parse_schedule("0 12 * * *")
    slot = datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert latest_slot(schedule, UTC_ZONE, slot, NOW) is None
    assert latest_slot(schedule, UTC_ZONE, slot - timedelta(seconds=1), NOW) == slot


def test_catchup_lists_every_missed_slot_oldest_first() -> None:
    schedule = parse_schedule("0 * * * *")
    after = NOW - timedelta(hours=3, minutes=30)
    assert due_slots(schedule, UTC_ZONE, after=after, now=NOW, catchup=True, max_catchup=10) == [
        datetime(2026, 3, 10, hour, tzinfo=UTC) for hour in (9, 10, 11, 12)
    ]


def test_catchup_is_bounded_to_the_newest_slots() -> None:
    schedule = parse_schedule("* * * * *")
    after = NOW - timedelta(days=1)
    slots = due_slots(schedule, UTC_ZONE, after=after, now=NOW, catchup=True, max_catchup=5)
    assert len(slots) == 5
    assert slots[-1] == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert slots[0] == datetime(2026, 3, 10, 11, 56, tzinfo=UTC)
