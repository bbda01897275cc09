"""Cron schedules: parsing, next-fire-time arithmetic and plain-English descriptions.

The module is pure on purpose: it never reads the clock (callers pass `after`) and keeps no
mutable state, so the scheduler can call it for thousands of jobs per tick and tests can pin
every edge case with fixed datetimes.

Why hand-written rather than a library: croniter reads a sixth field as *trailing* seconds (we
promise seconds-*first*, `*/5 * * * * *`), cronsim has no seconds field at all, and neither lets
us state the DST rules below as a contract of our own. The matcher is small: each field becomes
a sorted tuple of allowed values and the search jumps straight to the next allowed value of each
field (carrying second -> minute -> hour -> day -> month -> year), so a lookup costs a handful
of steps instead of a minute-by-minute scan.

Syntax: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first; `*`,
`a`, `a-b`, `*/n`, `a-b/n`, `a/n` (= a to the field maximum, step n), lists `a,b`, names
JAN-DEC and SUN-SAT (any case), day-of-week 0-7 with both 0 and 7 meaning Sunday; macros
@yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly.

Day rule (Vixie cron / cronie): if both day-of-month and day-of-week are restricted, a day
matches when EITHER matches; otherwise both must match. As in Vixie cron, a field counts as
unrestricted when it starts with `*` (so `*/2` is unrestricted for this rule only).

Time zones and DST. Fields match the wall clock of the job's IANA zone. Two rules, as in cronie:

* Fixed-hour schedules - the hour field does not cover all 24 hours (`30 2 * * *`,
  `0 9-17 * * *`, `0 */2 * * *`) - follow the wall clock:
  - a wall time skipped by spring-forward fires once, at the first valid instant after the gap
    (`30 2 * * *` in Europe/Berlin on 2025-03-30 fires at 03:00 CEST = 01:00 UTC); several
    skipped times (`*/15 2 * * *`) collapse into that one firing;
  - a wall time repeated by fall-back fires once, at its first occurrence (fold=0).
* Hourly-or-finer schedules - the hour field covers all 24 hours (`*`, `*/1`, `0-23`) - follow
  elapsed time: they fire at every real instant whose local wall time matches. So `0 * * * *`
  fires at both 01:00 EDT and 01:00 EST when New York falls back, `*/5 * * * * *` keeps
  ticking every 5 s through both transitions, and since wall times inside a spring-forward gap
  never happen, `30 * * * *` runs at 01:30 CET then 03:30 CEST - still exactly hourly.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CronSchedule",
    "InvalidScheduleError",
    "InvalidTimezoneError",
    "describe",
    "fire_times_between",
    "next_fire_time",
    "parse_schedule",
    "validate_timezone",
]


class InvalidScheduleError(ValueError):
    """A cron expression that cannot be parsed or can never fire; the message says why."""


class InvalidTimezoneError(ValueError):
    """A time zone name that is not a usable IANA zone."""


@dataclass(frozen=True)
class _Field:
    """Static description of one cron field, so parsing and messages share one source."""

    name: str
    low: int
    high: int
    names: Mapping[str, int]


_NO_NAMES: Mapping[str, int] = MappingProxyType({})
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

_SECOND = _Field("second", 0, 59, _NO_NAMES)
_MINUTE = _Field("minute", 0, 59, _NO_NAMES)
_HOUR = _Field("hour", 0, 23, _NO_NAMES)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, _NO_NAMES)
_MONTH = _Field(
    "month", 1, 12, MappingProxyType({n: i for i, n in enumerate(_MONTH_NAMES, start=1)})
)
_DAY_OF_WEEK = _Field(
    "day-of-week", 0, 7, MappingProxyType({n: i for i, n in enumerate(_DAY_NAMES)})
)

_MACROS: Mapping[str, str] = MappingProxyType(
    {
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    }
)

# Longest month length per month (February counted as 29), to reject `30 2`-style dates early.
_MAX_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# The calendar repeats every 28 years between century quirks, so any satisfiable schedule
# matches within this window; reaching its end means the schedule is impossible.
_SEARCH_YEARS = 30
# DST transitions are months apart; probing the UTC offset daily cannot step over two of them.
_OFFSET_PROBE = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALL_HOURS = tuple(range(24))
# Host-dependent or placeholder entries that ZoneInfo resolves but are not real IANA zones.
_NOT_IANA_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression; build it with `parse_schedule`, never by hand.

    Value tuples are sorted so the search can bisect to the next allowed value. Day-of-week
    uses 0 = Sunday (7 is folded into 0). For 5-field expressions `seconds` is `(0,)`.
    """

    expression: str
    has_seconds: bool
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: tuple[int, ...]
    months: tuple[int, ...]
    days_of_week: tuple[int, ...]
    # Vixie's rule needs to know whether the user *restricted* a day field, which the value
    # tuples alone cannot tell (`1-31` and `*` expand alike but behave differently).
    dom_restricted: bool
    dow_restricted: bool

    @property
    def follows_elapsed_time(self) -> bool:
        """True when the hour field covers every hour, which selects the elapsed-time DST rule."""
        return self.hours == _ALL_HOURS


# --------------------------------------------------------------------------------------------
# Parsing


def _error(expression: str, problem: str) -> InvalidScheduleError:
    return InvalidScheduleError(f"invalid schedule {expression!r}: {problem}")


def parse_schedule(expression: str) -> CronSchedule:
    """Parse a cron expression, failing loudly so users learn about typos at save time.

    Raises InvalidScheduleError naming the offending field and value.
    """
    expr = expression.strip()
    if not expr:
        raise _error(expr, "expression is empty")
    text = expr
    if expr.startswith("@"):
        macro = expr.lower()
        if macro == "@reboot":
            raise _error(expr, "@reboot is not supported (only time-based schedules are)")
        if macro not in _MACROS:
            supported = ", ".join(sorted(_MACROS))
            raise _error(expr, f"unknown macro {expr!r} (supported: {supported})")
        text = _MACROS[macro]
    parts = text.split()
    if len(parts) == 5:
        has_seconds = False
        second_text = "0"
    elif len(parts) == 6:
        has_seconds = True
        second_text, parts = parts[0], parts[1:]
    else:
        raise _error(
            expr,
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 with "
            f"seconds first, got {len(parts)}",
        )
    minute_text, hour_text, dom_text, month_text, dow_text = parts
    schedule = CronSchedule(
        expression=expr,
        has_seconds=has_seconds,
        seconds=_parse_field(second_text, _SECOND, expr),
        minutes=_parse_field(minute_text, _MINUTE, expr),
        hours=_parse_field(hour_text, _HOUR, expr),
        days_of_month=_parse_field(dom_text, _DAY_OF_MONTH, expr),
        months=_parse_field(month_text, _MONTH, expr),
        days_of_week=_parse_field(dow_text, _DAY_OF_WEEK, expr),
        dom_restricted=not dom_text.startswith("*"),
        dow_restricted=not dow_text.startswith("*"),
    )
    _check_satisfiable(schedule)
    return schedule


def _parse_field(text: str, spec: _Field, expr: str) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise _error(expr, f"{spec.name} field {text!r} has an empty list item")
        base, has_step, step_text = item.partition("/")
        step = 1
        if has_step:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise _error(
                    expr, f"{spec.name} step must be a positive integer, got {step_text!r}"
                )
            step = int(step_text)
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            if not start_text or not end_text or "-" in end_text:
                raise _error(expr, f"{spec.name} range {base!r} is malformed")
            low = _parse_value(start_text, spec, expr)
            high = _parse_value(end_text, spec, expr)
            if low > high:
                raise _error(
                    expr, f"{spec.name} range {base} is reversed (start must not exceed end)"
                )
        else:
            low = _parse_value(base, spec, expr)
            # `a/n` means "from a to the field's maximum, every n" (cronie's reading).
            high = spec.high if has_step else low
        values.update(range(low, high + 1, step))
    if spec is _DAY_OF_WEEK and 7 in values:
        values.discard(7)
        values.add(0)
    return tuple(sorted(values))


def _parse_value(token: str, spec: _Field, expr: str) -> int:
    if token.isascii() and token.isdigit():
        value = int(token)
    elif spec.names and token.isascii() and token.isalpha():
        named = spec.names.get(token.upper())
        if named is None:
            raise _error(expr, f"unknown {spec.name} name {token!r}")
        value = named
    elif spec.names:
        raise _error(expr, f"{spec.name} value {token!r} is neither a number nor a name")
    else:
        raise _error(expr, f"{spec.name} value {token!r} is not a number")
    if not spec.low <= value <= spec.high:
        raise _error(expr, f"{spec.name} value {value} is out of range {spec.low}-{spec.high}")
    return value


def _check_satisfiable(schedule: CronSchedule) -> None:
    """Reject dates no calendar has (30 February) instead of searching for them forever.

    Only a restricted day-of-month paired with an unrestricted day-of-week can be impossible:
    a restricted day-of-week always matches some day, and an unrestricted day-of-month always
    contains day 1 (every `*`-based range starts there).
    """
    if not schedule.dom_restricted or schedule.dow_restricted:
        return
    longest = max(_MAX_MONTH_DAYS[m] for m in schedule.months)
    if schedule.days_of_month[0] > longest:
        days = ",".join(str(d) for d in schedule.days_of_month)
        months = ", ".join(calendar.month_name[m] for m in schedule.months)
        raise _error(
            schedule.expression, f"never fires: day-of-month {days} never occurs in {months}"
        )


# --------------------------------------------------------------------------------------------
# Wall-clock search (naive local datetimes)


def _next_value(values: tuple[int, ...], at_least: int) -> int | None:
    index = bisect_left(values, at_least)
    return values[index] if index < len(values) else None


def _day_matches(schedule: CronSchedule, day: int, weekday: int) -> bool:
    dom_ok = day in schedule.days_of_month
    dow_ok = weekday in schedule.days_of_week
    if schedule.dom_restricted and schedule.dow_restricted:
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def _next_day(schedule: CronSchedule, year: int, month: int, day: int) -> int | None:
    length = calendar.monthrange(year, month)[1]
    if day > length:
        return None
    weekday = (date(year, month, day).weekday() + 1) % 7  # cron counts Sunday as 0
    for candidate in range(day, length + 1):
        if _day_matches(schedule, candidate, weekday):
            return candidate
        weekday = (weekday + 1) % 7
    return None


def _next_wall(schedule: CronSchedule, start: datetime) -> datetime:
    """First naive wall time >= `start` matching every field, ignoring time zones.

    Each field jumps to its next allowed value; running past a field's end carries into the
    next larger unit and resets the smaller ones, like an odometer.
    """
    year, month, day = start.year, start.month, start.day
    hour, minute, second = start.hour, start.minute, start.second
    last_year = min(start.year + _SEARCH_YEARS, datetime.max.year)
    while year <= last_year:
        found_month = _next_value(schedule.months, month)
        if found_month is None:
            year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
            continue
        if found_month != month:
            month, day, hour, minute, second = found_month, 1, 0, 0, 0
        found_day = _next_day(schedule, year, month, day)
        if found_day is None:
            month, day, hour, minute, second = month + 1, 1, 0, 0, 0
            if month > 12:
                year, month = year + 1, 1
            continue
        if found_day != day:
            day, hour, minute, second = found_day, 0, 0, 0
        found_hour = _next_value(schedule.hours, hour)
        if found_hour is None:
            day, hour, minute, second = day + 1, 0, 0, 0
            continue
        if found_hour != hour:
            hour, minute, second = found_hour, 0, 0
        found_minute = _next_value(schedule.minutes, minute)
        if found_minute is None:
            hour, minute, second = hour + 1, 0, 0
            continue
        if found_minute != minute:
            minute, second = found_minute, 0
        found_second = _next_value(schedule.seconds, second)
        if found_second is None:
            minute, second = minute + 1, 0
            continue
        return datetime(year, month, day, hour, minute, found_second)
    raise _error(
        schedule.expression, f"never fires (no match within {_SEARCH_YEARS} years of {start})"
    )


# --------------------------------------------------------------------------------------------
# Time zone helpers (instants are aware UTC datetimes with whole seconds)


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    if offset is None:  # only possible with a broken tzinfo; ZoneInfo always answers
        raise ValueError(f"time zone of {moment!r} gives no UTC offset")
    return offset


def _offset_at(tz: tzinfo, instant: datetime) -> timedelta:
    return _offset(instant.astimezone(tz))


def _first_change(tz: tzinfo, low: datetime, high: datetime) -> datetime:
    """The transition instant: first whole second in (low, high] whose offset differs from low's.

    Callers guarantee the offsets at `low` and `high` differ and that at most one transition
    lies between them, so a bisection on the offset finds it in ~12 steps for an hour window.
    """
    base = _offset_at(tz, low)
    low_s = int((low - _EPOCH).total_seconds())
    high_s = int((high - _EPOCH).total_seconds())
    while high_s - low_s > 1:
        mid_s = (low_s + high_s) // 2
        if _offset_at(tz, _EPOCH + timedelta(seconds=mid_s)) == base:
            low_s = mid_s
        else:
            high_s = mid_s
    return _EPOCH + timedelta(seconds=high_s)


def _transition_within(
    tz: tzinfo, low: datetime, high: datetime, offset: timedelta
) -> datetime | None:
    """First instant in (low, high] whose offset is not `offset` (the offset at `low`), if any."""
    probe_from = low
    while probe_from < high:
        probe = min(probe_from + _OFFSET_PROBE, high)
        if _offset_at(tz, probe) != offset:
            return _first_change(tz, probe_from, probe)
        probe_from = probe
    return None


def _resolve_wall(tz: tzinfo, wall: datetime) -> datetime:
    """Instant a fixed-hour job fires for local `wall`: first occurrence, or end of the gap."""
    offset_first = _offset(wall.replace(tzinfo=tz, fold=0))
    offset_second = _offset(wall.replace(tzinfo=tz, fold=1))
    if offset_first >= offset_second:  # normal time, or a repeated one: take the first
        return (wall - offset_first).replace(tzinfo=UTC)
    # In a gap, fold=0 applies the pre-transition offset: the two readings straddle the jump.
    before = (wall - offset_second).replace(tzinfo=UTC)
    after = (wall - offset_first).replace(tzinfo=UTC)
    return _first_change(tz, before, after)


# --------------------------------------------------------------------------------------------
# Next fire time


def _next_by_wall_clock(schedule: CronSchedule, tz: tzinfo, after: datetime) -> datetime:
    """Fixed-hour rule. Wall time -> instant is monotonic, so the first candidate wins."""
    local = after.astimezone(tz)
    wall = local.replace(tzinfo=None, fold=0)
    offset_now = _offset(local)
    offset_first = _offset(local.replace(fold=0))
    if local.fold == 1 and offset_first > offset_now:
        # `after` is inside the repeated hour, second pass: every wall time of that hour has
        # already fired at its first occurrence, so resume where the repetition ends.
        twin = after - (offset_first - offset_now)
        start = (_first_change(tz, twin, after) + offset_first).replace(tzinfo=None)
    else:
        start = wall + _ONE_SECOND
    candidate = _next_wall(schedule, start)
    while True:  # runs once in practice; guards the monotonicity argument above
        instant = _resolve_wall(tz, candidate)
        if instant > after:
            return instant
        candidate = _next_wall(schedule, candidate + _ONE_SECOND)


def _next_by_elapsed_time(schedule: CronSchedule, tz: tzinfo, after: datetime) -> datetime:
    """Hourly-or-finer rule: walk the real timeline one constant-offset stretch at a time."""
    low = after + _ONE_SECOND  # inclusive lower bound from here on
    while True:
        local = low.astimezone(tz)
        offset = _offset(local)
        candidate = _next_wall(schedule, local.replace(tzinfo=None, fold=0))
        instant = (candidate - offset).replace(tzinfo=UTC)
        transition = _transition_within(tz, low, instant, offset)
        if transition is None:
            return instant
        low = transition  # the offset changed first: search again with the new offset


def _to_utc_seconds(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC).replace(microsecond=0)


def next_fire_time(schedule: CronSchedule, tz: ZoneInfo, after: datetime) -> datetime:
    """First fire time strictly after `after`, as an aware UTC datetime with microsecond=0.

    `after` may be in any zone; `tz` is the job's zone the fields are read in. Raises
    InvalidScheduleError if nothing fires in the representable future, ValueError if `after`
    is naive (a naive datetime would silently mean "server local time").
    """
    start = _to_utc_seconds(after, "after")
    try:
        if schedule.follows_elapsed_time:
            return _next_by_elapsed_time(schedule, tz, start)
        return _next_by_wall_clock(schedule, tz, start)
    except OverflowError:
        raise _error(
            schedule.expression, f"never fires after {after.isoformat()} (beyond year 9999)"
        ) from None


def fire_times_between(
    schedule: CronSchedule, tz: ZoneInfo, after: datetime, until: datetime, limit: int
) -> list[datetime]:
    """Fire times t with after < t <= until, oldest first, at most `limit` (for catch-up runs).

    The limit bounds work when a long outage meets a per-second schedule.
    """
    _to_utc_seconds(until, "until")  # reject naive `until` up front, like `after`
    times: list[datetime] = []
    current = after
    while len(times) < limit:
        fire = next_fire_time(schedule, tz, current)
        if fire > until:
            break
        times.append(fire)
        current = fire
    return times


# --------------------------------------------------------------------------------------------
# Descriptions and time zones


def _covers(values: tuple[int, ...], low: int, high: int) -> bool:
    return values == tuple(range(low, high + 1))


def _uniform_step(values: tuple[int, ...], low: int, high: int) -> int | None:
    """The n in "every n units" if `values` tick evenly round the whole cycle, else None."""
    if len(values) < 2:  # one value is "at", not "every"; the caller phrases that itself
        return None
    span = high - low + 1
    step = values[1] - values[0]
    if values[0] != low or span % step:
        return None
    return step if values == tuple(range(low, high + 1, step)) else None


def _every(step: int, unit: str) -> str:
    return f"every {unit}" if step == 1 else f"every {step} {unit}s"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def describe(schedule: CronSchedule) -> str:
    """Short English for UIs and logs; returns the expression itself when no phrase fits.

    Only common shapes get words: a wrong-but-fluent description is worse than the raw cron.
    """
    s = schedule
    any_dom = not s.dom_restricted and _covers(s.days_of_month, 1, 31)
    any_dow = not s.dow_restricted and _covers(s.days_of_week, 0, 6)
    any_date = any_dom and any_dow and _covers(s.months, 1, 12)
    on_the_minute = s.seconds == (0,)

    if any_date and s.follows_elapsed_time:
        if s.has_seconds and _covers(s.minutes, 0, 59):
            step = _uniform_step(s.seconds, 0, 59)
            if step is not None:
                return _every(step, "second")
        if on_the_minute:
            step = _uniform_step(s.minutes, 0, 59)
            if step is not None:
                return _every(step, "minute")
    if any_date and on_the_minute and len(s.minutes) == 1:
        step = _uniform_step(s.hours, 0, 23)
        if step is not None:
            return f"at minute {s.minutes[0]} past {_every(step, 'hour')}"
    if len(s.seconds) == 1 and len(s.minutes) == 1 and len(s.hours) == 1:
        at = f"{s.hours[0]:02d}:{s.minutes[0]:02d}"
        if not on_the_minute:
            at += f":{s.seconds[0]:02d}"
        every_month = _covers(s.months, 1, 12)
        if any_date:
            return f"every day at {at}"
        if any_dom and every_month and s.dow_restricted:
            if s.days_of_week == (1, 2, 3, 4, 5):
                return f"every weekday at {at}"
            if _covers(s.days_of_week, 0, 6):
                return f"every day at {at}"
            # Monday-first, as people say it: "every Monday and Sunday".
            names = [calendar.day_name[d] for d in sorted((d - 1) % 7 for d in s.days_of_week)]
            return f"every {_join(names)} at {at}"
        if any_dow and s.dom_restricted and len(s.days_of_month) == 1:
            day = s.days_of_month[0]
            if every_month:
                return f"on day {day} of every month at {at}"
            if len(s.months) == 1:
                return f"every year on {calendar.month_name[s.months[0]]} {day} at {at}"
    return s.expression


def validate_timezone(name: str) -> ZoneInfo:
    """Load an IANA zone, turning zoneinfo's assorted failures into one clear error."""
    if name in _NOT_IANA_ZONES:
        raise InvalidTimezoneError(f"unknown timezone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: malformed keys ("", "/etc/x", "../x"); OSError: directories ("America").
        raise InvalidTimezoneError(f"unknown timezone {name!r}") from None
