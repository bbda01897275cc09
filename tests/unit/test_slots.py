"""Which slots are due: the latest missed one, or (catchup) a bounded list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orcrustator.scheduler.cron import parse_schedule
from orcrustator.scheduler.slots import due_slots, latest_slot, slots_to_enqueue

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


def _every_second(after: datetime, looked_at: datetime | None, now: datetime) -> list[datetime]:
    return slots_to_enqueue(
        parse_schedule("* * * * * *"),
        UTC_ZONE,
        after=after,
        looked_at=looked_at,
        now=now,
        catchup=False,
        max_catchup=100,
    )


def test_a_late_wake_up_of_a_running_scheduler_skips_no_slot() -> None:
    # The scheduler looked at NOW-3 s and enqueued that slot; a busy machine wakes it 3 s late.
    looked = NOW - timedelta(seconds=3)
    assert _every_second(after=looked, looked_at=looked, now=NOW) == [
        NOW - timedelta(seconds=2),
        NOW - timedelta(seconds=1),
        NOW,
    ]


def test_slots_missed_before_the_scheduler_looked_follow_the_catchup_rule() -> None:
    after = NOW - timedelta(minutes=10)  # the last slot enqueued before a downtime
    looked = NOW - timedelta(seconds=2)  # this scheduler's previous look (its write failed)
    assert _every_second(after=after, looked_at=looked, now=NOW) == [
        looked,  # the latest slot of the downtime, once (catchup off)
        NOW - timedelta(seconds=1),
        NOW,
    ]
    # The first look after a start is all downtime: only the latest slot.
    assert _every_second(after=after, looked_at=None, now=NOW) == [NOW]


def test_late_slots_are_bounded_like_catchup() -> None:
    looked = NOW - timedelta(minutes=5)
    slots = slots_to_enqueue(
        parse_schedule("* * * * * *"),
        UTC_ZONE,
        after=looked,
        looked_at=looked,
        now=NOW,
        catchup=False,
        max_catchup=10,
    )
    assert slots == [NOW - timedelta(seconds=s) for s in range(9, -1, -1)]
