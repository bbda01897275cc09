"""Which slots of a job are due now: pure, `now` passed in, no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from orcrustator.scheduler.cron import CronSchedule, fire_times_between

# The longest gap between two fire times of any cron schedule is a few years (Feb 29 on a
# given weekday); searching backwards in windows that grow 8× at a time finds the latest slot
# in a few steps without listing every slot of a fast schedule.
_FIRST_WINDOW = timedelta(seconds=64)
_WINDOW_GROWTH = 8
_MAX_LISTED = 100_000


def latest_slot(
    schedule: CronSchedule, tz: ZoneInfo, after: datetime, now: datetime
) -> datetime | None:
    """The last fire time t with after < t <= now, or None."""
    window = _FIRST_WINDOW
    while True:
        low = max(after, now - window)
        times = fire_times_between(schedule, tz, low, now, _MAX_LISTED)
        if times:
            return times[-1]
        if low == after:
            return None
        window *= _WINDOW_GROWTH


def due_slots(
    schedule: CronSchedule,
    tz: ZoneInfo,
    *,
    after: datetime,
    now: datetime,
    catchup: bool,
    max_catchup: int,
) -> list[datetime]:
    """Slots to enqueue now: the latest missed one, or (catchup) up to `max_catchup` of them.

    `after` is the job's last enqueued slot (or its creation time): nothing at or before it.
    """
    if not catchup:
        latest = latest_slot(schedule, tz, after, now)
        return [] if latest is None else [latest]
    times = fire_times_between(schedule, tz, after, now, _MAX_LISTED)
    if len(times) == _MAX_LISTED:
        # Even the listing was cut: keep the newest slots we can see.
        latest = latest_slot(schedule, tz, after, now)
        if latest is not None and latest != times[-1]:
            times = fire_times_between(
                schedule, tz, max(after, latest - (times[-1] - times[0])), now, _MAX_LISTED
            )
    return times[-max_catchup:]


def slots_to_enqueue(
    schedule: CronSchedule,
    tz: ZoneInfo,
    *,
    after: datetime,
    looked_at: datetime | None,
    now: datetime,
    catchup: bool,
    max_catchup: int,
) -> list[datetime]:
    """The slots a running scheduler enqueues now.

    `looked_at` is when this scheduler last looked at its jobs (None on its first look). Slots
    up to then that are still missing were missed while nobody looked (downtime, an outage):
    the catch-up rule of `due_slots` applies to them. Slots since then are not missed, only
    late (a slow wake-up on a busy machine): every one of them is due, bounded like catch-up.
    """
    if looked_at is None:
        return due_slots(
            schedule, tz, after=after, now=now, catchup=catchup, max_catchup=max_catchup
        )
    missed: list[datetime] = []
    if looked_at > after:
        missed = due_slots(
            schedule, tz, after=after, now=looked_at, catchup=catchup, max_catchup=max_catchup
        )
    late = due_slots(
        schedule,
        tz,
        after=max(after, looked_at),
        now=now,
        catchup=True,
        max_catchup=max_catchup,
    )
    return (missed + late)[-max_catchup:]
