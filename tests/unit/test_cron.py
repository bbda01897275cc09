"""Unit tests for the pure cron maths: every datetime is fixed, no clock is read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from orcrustator.scheduler.cron import (
    CronSchedule,
    InvalidScheduleError,
    InvalidTimezoneError,
    describe,
    fire_times_between,
    next_fire_time,
    parse_schedule,
    validate_timezone,
)

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def nxt(expression: str, after: datetime, tz: ZoneInfo = UTC_ZONE) -> datetime:
    return next_fire_time(parse_schedule(expression), tz, after)


def between(
    expression: str, tz: ZoneInfo, after: datetime, until: datetime, limit: int = 1000
) -> list[datetime]:
    return fire_times_between(parse_schedule(expression), tz, after, until, limit)


def local_clock(times: list[datetime], tz: ZoneInfo) -> list[str]:
    return [t.astimezone(tz).strftime("%H:%M %Z") for t in times]


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "attribute", "expected"),
    [
        ("* * * * *", "minutes", tuple(range(60))),
        ("5 * * * *", "minutes", (5,)),
        ("10-15 * * * *", "minutes", (10, 11, 12, 13, 14, 15)),
        ("*/15 * * * *", "minutes", (0, 15, 30, 45)),
        ("10-30/10 * * * *", "minutes", (10, 20, 30)),
        ("50/5 * * * *", "minutes", (50, 55)),
        ("30,1,2 * * * *", "minutes", (1, 2, 30)),
        ("0 1-3,22/1 * * *", "hours", (1, 2, 3, 22, 23)),
        ("0 0 1,15,31 * *", "days_of_month", (1, 15, 31)),
        ("0 0 * JAN,jul *", "months", (1, 7)),
        ("0 0 * mar-May *", "months", (3, 4, 5)),
        ("0 0 * */4 *", "months", (1, 5, 9)),
        ("0 0 * * MON-FRI", "days_of_week", (1, 2, 3, 4, 5)),
        ("0 0 * * sun,Sat", "days_of_week", (0, 6)),
        ("0 0 * * 7", "days_of_week", (0,)),
        ("0 0 * * 0-7", "days_of_week", (0, 1, 2, 3, 4, 5, 6)),
        ("0 0 * * 5-7", "days_of_week", (0, 5, 6)),
        ("0 0 * * FRI-7", "days_of_week", (0, 5, 6)),
    ],
)
def test_parse_field_syntax(expression: str, attribute: str, expected: tuple[int, ...]) -> None:
    assert getattr(parse_schedule(expression), attribute) == expected


def test_five_field_form_has_no_seconds_and_keeps_stripped_expression() -> None:
    schedule = parse_schedule("  30 2 * * *\n")
    assert schedule.expression == "30 2 * * *"
    assert schedule.has_seconds is False
    assert schedule.seconds == (0,)


def test_six_field_form_reads_seconds_first() -> None:
    schedule = parse_schedule("*/5 1 2 * * *")
    assert schedule.has_seconds is True
    assert schedule.seconds == tuple(range(0, 60, 5))
    assert (schedule.minutes, schedule.hours) == ((1,), (2,))


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_macros_expand_to_their_five_field_equivalent(macro: str, equivalent: str) -> None:
    schedule = parse_schedule(macro)
    assert schedule.expression == macro
    assert dataclasses.replace(schedule, expression=equivalent) == parse_schedule(equivalent)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("", "expression is empty"),
        ("   ", "expression is empty"),
        ("* * * *", "expected 5 fields"),
        ("* * * *", "got 4"),
        ("* * * * * * *", "got 7"),
        ("60 * * * * *", "second value 60 is out of range 0-59"),
        ("* 24 * * *", "hour value 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month value 0 is out of range 1-31"),
        ("0 0 32 * *", "day-of-month value 32 is out of range 1-31"),
        ("0 0 * 13 *", "month value 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week value 8 is out of range 0-7"),
        ("0-60 * * * *", "minute value 60 is out of range 0-59"),
        ("*/0 * * * *", "minute step must be a positive integer, got '0'"),
        ("*/ * * * *", "minute step must be a positive integer, got ''"),
        ("0 */x * * *", "hour step must be a positive integer, got 'x'"),
        ("5-2 * * * *", "minute range 5-2 is reversed"),
        ("0 0 * * FRI-MON", "day-of-week range FRI-MON is reversed"),
        ("0 0 * FOO *", "unknown month name 'FOO'"),
        ("0 0 * * funday", "unknown day-of-week name 'funday'"),
        ("MON * * * *", "minute value 'MON' is not a number"),
        ("0 0 * 1x *", "month value '1x' is neither a number nor a name"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
        ("1, * * * *", "has an empty list item"),
        ("1- * * * *", "minute range '1-' is malformed"),
        ("-5 * * * *", "minute range '-5' is malformed"),
        ("1-2-3 * * * *", "minute range '1-2-3' is malformed"),
        ("@reboot", "@reboot is not supported"),
        ("@fortnightly", "unknown macro '@fortnightly'"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
        ("0 0 30 2 */1", "never fires"),  # '*'-prefixed day-of-week keeps the AND rule
    ],
)
def test_invalid_expressions_name_the_problem(expression: str, problem: str) -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        parse_schedule(expression)
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"invalid schedule {expression.strip()!r}: ")


def test_out_of_range_message_is_exact_and_a_value_error() -> None:
    with pytest.raises(ValueError, match="minute") as caught:
        parse_schedule("61 * * * *")
    assert isinstance(caught.value, InvalidScheduleError)
    assert str(caught.value) == (
        "invalid schedule '61 * * * *': minute value 61 is out of range 0-59"
    )


def test_impossible_date_message_names_day_and_month() -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        parse_schedule("0 0 30 2 *")
    assert str(caught.value) == (
        "invalid schedule '0 0 30 2 *': never fires: day-of-month 30 never occurs in February"
    )


def test_schedule_is_frozen_hashable_and_comparable() -> None:
    schedule = parse_schedule("*/5 * * * *")
    assert schedule == parse_schedule("*/5 * * * *")
    assert len({schedule, parse_schedule("*/5 * * * *")}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        schedule.expression = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "elapsed"),
    [
        ("0 * * * *", True),
        ("*/5 * * * * *", True),
        ("0 */1 * * *", True),
        ("0 0-23 * * *", True),
        ("0 */2 * * *", False),
        ("30 2 * * *", False),
        ("* 9-17 * * *", False),
    ],
)
def test_only_schedules_covering_every_hour_follow_elapsed_time(
    expression: str, elapsed: bool
) -> None:
    assert parse_schedule(expression).follows_elapsed_time is elapsed


# --- next_fire_time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 * * * *", utc(2025, 6, 1, 12), utc(2025, 6, 1, 13)),
        ("0 * * * *", utc(2025, 6, 1, 11, 59, 59), utc(2025, 6, 1, 12)),
        ("0 * * * *", utc(2025, 6, 1, 12).replace(microsecond=500_000), utc(2025, 6, 1, 13)),
        (
            "0 * * * *",
            utc(2025, 6, 1, 11, 59, 59).replace(microsecond=999_999),
            utc(2025, 6, 1, 12),
        ),
        ("*/5 * * * * *", utc(2025, 6, 1, 12), utc(2025, 6, 1, 12, 0, 5)),
        ("*/5 * * * * *", utc(2025, 6, 1, 12, 0, 3), utc(2025, 6, 1, 12, 0, 5)),
        ("* * * * *", utc(2025, 6, 1, 12, 0, 1), utc(2025, 6, 1, 12, 1)),
    ],
)
def test_next_fire_time_is_strictly_after(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert nxt(expression, after) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 0 1 1 *", utc(2025, 12, 31, 12), utc(2026, 1, 1)),  # year carry
        ("0 0 31 * *", utc(2025, 4, 1), utc(2025, 5, 31)),  # skips 30-day April
        ("59 23 * * *", utc(2025, 2, 28, 23, 59), utc(2025, 3, 1, 23, 59)),  # month carry
        ("59 59 23 31 12 *", utc(2025, 6, 1), utc(2025, 12, 31, 23, 59, 59)),
        ("30 15 10 * * *", utc(2025, 6, 1, 10, 15, 30), utc(2025, 6, 2, 10, 15, 30)),
        ("0 0 * * 0", utc(2025, 10, 22, 12), utc(2025, 10, 26)),  # Wednesday -> Sunday
        ("@weekly", utc(2025, 10, 26), utc(2025, 11, 2)),
        ("0 0 * * 7", utc(2025, 10, 22), utc(2025, 10, 26)),  # 7 is Sunday too
        ("0 12 * JUN-AUG SAT", utc(2025, 9, 1), utc(2026, 6, 6, 12)),
    ],
)
def test_next_fire_time_carries_between_fields(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert nxt(expression, after) == expected


def test_result_is_aware_utc_with_whole_seconds() -> None:
    result = nxt("*/5 * * * * *", utc(2025, 6, 1, 12, 0, 3).replace(microsecond=123))
    assert result.tzinfo is UTC
    assert result.microsecond == 0


def test_after_may_be_in_any_zone() -> None:
    tokyo_after = datetime(2025, 6, 1, 21, 0, tzinfo=ZoneInfo("Asia/Tokyo"))  # 12:00 UTC
    assert nxt("30 * * * *", tokyo_after) == utc(2025, 6, 1, 12, 30)
    assert nxt("30 14 * * *", tokyo_after, BERLIN) == utc(2025, 6, 1, 12, 30)


def test_naive_datetimes_are_rejected() -> None:
    schedule = parse_schedule("* * * * *")
    with pytest.raises(ValueError, match="after must be a timezone-aware datetime"):
        next_fire_time(schedule, UTC_ZONE, datetime(2025, 6, 1))
    with pytest.raises(ValueError, match="until must be a timezone-aware datetime"):
        fire_times_between(schedule, UTC_ZONE, utc(2025, 6, 1), datetime(2025, 6, 2), 5)


def test_fields_are_read_on_the_jobs_local_clock() -> None:
    # 09:00 in New York is 13:00 UTC in summer (EDT) and 14:00 UTC in winter (EST).
    assert nxt("0 9 * * *", utc(2025, 7, 1), NEW_YORK) == utc(2025, 7, 1, 13)
    assert nxt("0 9 * * *", utc(2025, 1, 1), NEW_YORK) == utc(2025, 1, 1, 14)


# --- day-of-month / day-of-week rule ------------------------------------------------------


def test_both_days_restricted_means_either_matches() -> None:
    # June 2025: Fridays are 6, 13, 20, 27 and the 13th is itself a Friday (fires once).
    fires = between("0 0 13,16 * FRI", UTC_ZONE, utc(2025, 6, 1), utc(2025, 6, 30))
    assert [t.day for t in fires] == [6, 13, 16, 20, 27]


@pytest.mark.parametrize(
    ("expression", "days"),
    [
        ("0 0 13 * *", [13]),  # only day-of-month restricted
        ("0 0 * * FRI", [6, 13, 20, 27]),  # only day-of-week restricted
    ],
)
def test_single_restricted_day_field_alone_decides(expression: str, days: list[int]) -> None:
    fires = between(expression, UTC_ZONE, utc(2025, 6, 1), utc(2025, 6, 30))
    assert [t.day for t in fires] == days


def test_star_prefixed_day_field_keeps_and_rule_like_vixie_cron() -> None:
    # Days 1, 11, 21, 31 that are also Fridays; an OR would fire on 2025-01-01.
    fires = between("0 0 */10 * FRI", UTC_ZONE, utc(2024, 12, 31), utc(2025, 3, 1))
    assert fires == [utc(2025, 1, 31), utc(2025, 2, 21)]


def test_impossible_day_of_month_with_weekday_fires_on_the_weekday() -> None:
    # 30 February never exists, but with a restricted weekday the OR rule makes it Mondays.
    assert nxt("0 0 30 2 MON", utc(2025, 1, 1)) == utc(2025, 2, 3)


# --- leap days and far futures ------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "tz", "expected"),
    [
        (utc(2025, 3, 1), UTC_ZONE, utc(2028, 2, 29)),
        (utc(2097, 1, 1), UTC_ZONE, utc(2104, 2, 29)),  # 2100 is not a leap year
        (utc(2097, 1, 1), BERLIN, utc(2104, 2, 28, 23)),  # midnight CET
    ],
)
def test_leap_day_schedule_finds_far_future(
    after: datetime, tz: ZoneInfo, expected: datetime
) -> None:
    assert nxt("0 0 29 2 *", after, tz) == expected


def test_hourly_leap_day_schedule_in_a_dst_zone() -> None:
    assert nxt("0 * 29 2 *", utc(2025, 6, 1), BERLIN) == utc(2028, 2, 28, 23)


def test_past_year_9999_is_reported_not_crashed() -> None:
    with pytest.raises(InvalidScheduleError, match="never fires"):
        nxt("0 0 1 1 *", utc(9999, 6, 1))


# --- fire_times_between -------------------------------------------------------------------


def test_between_excludes_after_and_includes_until() -> None:
    fires = between("0 * * * *", UTC_ZONE, utc(2025, 6, 1, 10), utc(2025, 6, 1, 13))
    assert fires == [utc(2025, 6, 1, 11), utc(2025, 6, 1, 12), utc(2025, 6, 1, 13)]


def test_between_limit_keeps_the_oldest() -> None:
    fires = between("0 * * * *", UTC_ZONE, utc(2025, 6, 1, 10), utc(2025, 6, 2), limit=2)
    assert fires == [utc(2025, 6, 1, 11), utc(2025, 6, 1, 12)]


@pytest.mark.parametrize(
    ("after", "until", "limit"),
    [
        (utc(2025, 6, 1, 13), utc(2025, 6, 1, 13), 10),  # empty window
        (utc(2025, 6, 1, 14), utc(2025, 6, 1, 13), 10),  # reversed window
        (utc(2025, 6, 1, 10), utc(2025, 6, 1, 13), 0),  # zero limit
        (utc(2025, 6, 1, 10, 1), utc(2025, 6, 1, 10, 59, 59), 10),  # nothing due in window
    ],
)
def test_between_returns_empty_when_nothing_fits(
    after: datetime, until: datetime, limit: int
) -> None:
    assert between("0 * * * *", UTC_ZONE, after, until, limit) == []


def test_between_compares_until_exactly_across_zones() -> None:
    until = datetime(2025, 6, 1, 15, 0, 0, 500_000, tzinfo=BERLIN)  # 13:00:00.5 UTC
    fires = between("0 * * * *", UTC_ZONE, utc(2025, 6, 1, 11, 30), until)
    assert fires == [utc(2025, 6, 1, 12), utc(2025, 6, 1, 13)]


# --- DST: fixed-hour schedules follow the wall clock --------------------------------------


@pytest.mark.parametrize(
    ("expression", "tz", "after", "until", "expected"),
    [
        # Berlin springs forward 2025-03-30 02:00 CET -> 03:00 CEST: 02:30 fires at 03:00.
        (
            "30 2 * * *",
            BERLIN,
            utc(2025, 3, 29),
            utc(2025, 4, 1),
            [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1), utc(2025, 3, 31, 0, 30)],
        ),
        # New York springs forward 2025-03-09 02:00 EST -> 03:00 EDT.
        (
            "30 2 * * *",
            NEW_YORK,
            utc(2025, 3, 8),
            utc(2025, 3, 11),
            [utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7), utc(2025, 3, 10, 6, 30)],
        ),
        # Berlin falls back 2025-10-26 03:00 CEST -> 02:00 CET: 02:30 fires once (CEST).
        (
            "30 2 * * *",
            BERLIN,
            utc(2025, 10, 25),
            utc(2025, 10, 28),
            [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)],
        ),
        # New York falls back 2025-11-02 02:00 EDT -> 01:00 EST: 01:30 fires once (EDT).
        (
            "30 1 * * *",
            NEW_YORK,
            utc(2025, 11, 1),
            utc(2025, 11, 4),
            [utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)],
        ),
        # Several gap times collapse into one firing at the end of the gap.
        (
            "*/20 2 * * *",
            BERLIN,
            utc(2025, 3, 29, 23),
            utc(2025, 3, 30, 23),
            [utc(2025, 3, 30, 1)],
        ),
        # A stepped hour field is still fixed-hour: 02:00 fires once on the fall-back night.
        (
            "0 */2 * * *",
            BERLIN,
            utc(2025, 10, 25, 21),
            utc(2025, 10, 26, 4),
            [utc(2025, 10, 25, 22), utc(2025, 10, 26, 0), utc(2025, 10, 26, 3)],
        ),
    ],
)
def test_fixed_hour_daily_jobs_across_dst(
    expression: str, tz: ZoneInfo, after: datetime, until: datetime, expected: list[datetime]
) -> None:
    assert between(expression, tz, after, until) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("30 1 * * *", utc(2025, 11, 3, 6, 30)),  # 01:30 already fired in the first pass
        ("0 2 * * *", utc(2025, 11, 2, 7)),  # 02:00 EST comes right after the repeat
    ],
)
def test_fixed_hour_job_asked_during_the_repeated_hour(expression: str, expected: datetime) -> None:
    during_second_pass = utc(2025, 11, 2, 6, 15)  # 01:15 EST
    assert nxt(expression, during_second_pass, NEW_YORK) == expected


# --- DST: hourly-or-finer schedules follow elapsed time -----------------------------------


@pytest.mark.parametrize(
    ("tz", "after", "until", "expected_clock"),
    [
        (
            NEW_YORK,
            utc(2025, 11, 2, 4, 30),
            utc(2025, 11, 2, 8),
            ["01:00 EDT", "01:00 EST", "02:00 EST", "03:00 EST"],
        ),
        (
            NEW_YORK,
            utc(2025, 3, 9, 5, 30),
            utc(2025, 3, 9, 8),
            ["01:00 EST", "03:00 EDT", "04:00 EDT"],
        ),
        (
            BERLIN,
            utc(2025, 10, 25, 23, 30),
            utc(2025, 10, 26, 2),
            ["02:00 CEST", "02:00 CET", "03:00 CET"],
        ),
        (
            BERLIN,
            utc(2025, 3, 29, 23, 30),
            utc(2025, 3, 30, 2),
            ["01:00 CET", "03:00 CEST", "04:00 CEST"],
        ),
    ],
)
def test_hourly_job_keeps_hourly_rhythm_across_dst(
    tz: ZoneInfo, after: datetime, until: datetime, expected_clock: list[str]
) -> None:
    fires = between("0 * * * *", tz, after, until)
    assert local_clock(fires, tz) == expected_clock
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(fires))


def test_half_past_hourly_job_skips_the_nonexistent_half_hour() -> None:
    fires = between("30 * * * *", BERLIN, utc(2025, 3, 30), utc(2025, 3, 30, 2))
    assert local_clock(fires, BERLIN) == ["01:30 CET", "03:30 CEST"]


@pytest.mark.parametrize(
    ("tz", "transition"),
    [
        (BERLIN, utc(2025, 3, 30, 1)),
        (BERLIN, utc(2025, 10, 26, 1)),
        (NEW_YORK, utc(2025, 3, 9, 7)),
        (NEW_YORK, utc(2025, 11, 2, 6)),
    ],
)
def test_every_five_seconds_never_goes_silent_across_dst(
    tz: ZoneInfo, transition: datetime
) -> None:
    after, until = transition - timedelta(hours=2), transition + timedelta(hours=2)
    fires = between("*/5 * * * * *", tz, after, until, limit=10_000)
    assert len(fires) == 4 * 720
    assert all(b - a == timedelta(seconds=5) for a, b in pairwise(fires))
    assert transition in fires


# --- describe -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("*/5 * * * * *", "every 5 seconds"),
        ("* * * * * *", "every second"),
        ("* * * * *", "every minute"),
        ("*/15 * * * *", "every 15 minutes"),
        ("0 */10 * * * *", "every 10 minutes"),
        ("0 * * * *", "at minute 0 past every hour"),
        ("@hourly", "at minute 0 past every hour"),
        ("30 */2 * * *", "at minute 30 past every 2 hours"),
        ("30 2 * * *", "every day at 02:30"),
        ("@daily", "every day at 00:00"),
        ("15 30 4 * * *", "every day at 04:30:15"),
        ("0 9 * * MON", "every Monday at 09:00"),
        ("0 9 * * 1-5", "every weekday at 09:00"),
        ("0 9 * * SUN,MON,wed", "every Monday, Wednesday and Sunday at 09:00"),
        ("@weekly", "every Sunday at 00:00"),
        ("@monthly", "on day 1 of every month at 00:00"),
        ("0 6 15 * *", "on day 15 of every month at 06:00"),
        ("@yearly", "every year on January 1 at 00:00"),
        ("0 0 29 2 *", "every year on February 29 at 00:00"),
    ],
)
def test_describe_common_shapes(expression: str, text: str) -> None:
    assert describe(parse_schedule(expression)) == text


@pytest.mark.parametrize(
    "expression",
    [
        "*/7 * * * *",  # uneven: 56 -> 0 is only 4 minutes
        "0 0 13 * FRI",  # either-day rule has no short phrase
        "5,10 9 * * *",
        "0 9-17 * * *",
        "30 * * * * *",
        "0 0 1 * MON",
    ],
)
def test_describe_falls_back_to_the_expression(expression: str) -> None:
    assert describe(parse_schedule(expression)) == expression


# --- validate_timezone --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"])
def test_validate_timezone_accepts_iana_names(name: str) -> None:
    zone = validate_timezone(name)
    assert isinstance(zone, ZoneInfo)
    assert zone.key == name


@pytest.mark.parametrize(
    "name", ["Mars/Base", "", "America", "/etc/passwd", "../etc/passwd", "localtime", "Factory"]
)
def test_validate_timezone_rejects_unknown_names(name: str) -> None:
    with pytest.raises(InvalidTimezoneError) as caught:
        validate_timezone(name)
    assert str(caught.value) == f"unknown timezone {name!r}"
    assert isinstance(caught.value, ValueError)


def test_unknown_timezone_message_matches_contract() -> None:
    with pytest.raises(InvalidTimezoneError, match=r"^unknown timezone 'Mars/Base'$"):
        validate_timezone("Mars/Base")


def test_parsed_schedule_type_is_cron_schedule() -> None:
    assert isinstance(parse_schedule("@daily"), CronSchedule)
