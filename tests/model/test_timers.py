"""Timer values and schedule arithmetic (model/timers.py): every form, edges and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from procflow.model.expression import ExpressionSyntaxError
from procflow.model.timers import (
    InvalidTimer,
    TimerKind,
    TimerSpec,
    check_timer_value,
    first_due,
    next_due,
    parse_duration,
    timer_spec,
)

NOW = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
DURATION, DATE, CYCLE, CRON = TimerKind.DURATION, TimerKind.DATE, TimerKind.CYCLE, TimerKind.CRON


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "due"),
    [
        ("PT15S", at(2027, 1, 31, 12, 0, 15)),
        ("P1DT2H", at(2027, 2, 1, 14)),
        ("PT1H30M", at(2027, 1, 31, 13, 30)),
        ("P2W", at(2027, 2, 14, 12)),
        ("PT0.5S", NOW + timedelta(milliseconds=500)),
        ("PT0S", NOW),
        # Calendar months: January 31st plus one month is the last day of February.
        ("P1M", at(2027, 2, 28, 12)),
        ("P1Y2M", at(2028, 3, 31, 12)),
        ("P1Y", at(2028, 1, 31, 12)),
    ],
)
def test_duration_is_due_that_long_after_now(value: str, due: datetime) -> None:
    assert first_due(DURATION, value, NOW) == due
    assert next_due(DURATION, value, due, 1) is None


def test_month_durations_add_to_aware_datetimes() -> None:
    duration = parse_duration("P1M")
    assert at(2028, 1, 31) + duration == at(2028, 2, 29)  # leap year
    assert parse_duration("PT90M") == timedelta(minutes=90)


def test_utc_has_no_daylight_saving_jump() -> None:
    # 2027-03-28 is the EU spring-forward night; in UTC a day is still 24 hours.
    assert first_due(DURATION, "P1D", at(2027, 3, 27, 12)) == at(2027, 3, 28, 12)
    assert first_due(DURATION, "PT24H", at(2027, 3, 27, 12)) == at(2027, 3, 28, 12)


def test_results_are_utc_whatever_the_offset_of_now() -> None:
    local_now = datetime(2027, 1, 31, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    due = first_due(DURATION, "PT1M", local_now)
    assert due == at(2027, 1, 31, 12, 1)
    assert due.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "due"),
    [
        ("2027-06-01T09:00:00Z", at(2027, 6, 1, 9)),
        ("2027-06-01T09:00:00", at(2027, 6, 1, 9)),  # no offset: UTC
        ("2027-06-01T11:00:00+02:00", at(2027, 6, 1, 9)),
        ("20270601T090000Z", at(2027, 6, 1, 9)),
        ("2020-01-01T00:00:00Z", at(2020, 1, 1)),  # in the past: due at once
    ],
)
def test_date_is_due_at_that_instant(value: str, due: datetime) -> None:
    assert first_due(DATE, value, NOW) == due
    assert first_due(DATE, value, NOW).tzinfo is UTC
    assert next_due(DATE, value, due, 1) is None


def test_cycle_without_start_counts_firings() -> None:
    first = first_due(CYCLE, "R3/PT10S", NOW)
    assert first == NOW + timedelta(seconds=10)
    second = next_due(CYCLE, "R3/PT10S", first, 1)
    assert second == NOW + timedelta(seconds=20)
    assert second is not None
    third = next_due(CYCLE, "R3/PT10S", second, 2)
    assert third == NOW + timedelta(seconds=30)
    assert third is not None
    assert next_due(CYCLE, "R3/PT10S", third, 3) is None


def test_cycle_without_repetitions_never_ends() -> None:
    assert first_due(CYCLE, "R/PT1H", NOW) == at(2027, 1, 31, 13)
    assert next_due(CYCLE, "R/PT1H", at(2027, 1, 31, 13), 10_000) == at(2027, 1, 31, 14)


def test_cycle_with_a_future_start_is_first_due_at_the_start() -> None:
    value = "R5/2027-03-01T00:00:00Z/P1D"
    assert first_due(CYCLE, value, NOW) == at(2027, 3, 1)
    dues = [at(2027, 3, 1)]
    while (following := next_due(CYCLE, value, dues[-1], len(dues))) is not None:
        dues.append(following)
    assert dues == [at(2027, 3, day) for day in range(1, 6)]


def test_cycle_with_a_past_start_skips_missed_occurrences_and_they_count() -> None:
    # Occurrences on Jan 30, 31 (12:00 is past midnight), Feb 1, 2, 3: three are left.
    value = "R5/2027-01-30T00:00:00Z/P1D"
    assert first_due(CYCLE, value, NOW) == at(2027, 2, 1)
    assert next_due(CYCLE, value, at(2027, 2, 1), 1) == at(2027, 2, 2)
    assert next_due(CYCLE, value, at(2027, 2, 3), 2) is None


def test_cycle_occurrence_exactly_now_is_due_now() -> None:
    assert first_due(CYCLE, "R/2027-01-31T00:00:00Z/PT6H", NOW) == NOW


def test_cycle_of_months_stays_on_the_anchor_day() -> None:
    value = "R/2027-01-31T00:00:00Z/P1M"
    assert first_due(CYCLE, value, at(2027, 1, 1)) == at(2027, 1, 31)
    assert next_due(CYCLE, value, at(2027, 1, 31), 1) == at(2027, 2, 28)
    # Multiplied from the anchor, not added up: March 31st, not March 28th.
    assert next_due(CYCLE, value, at(2027, 2, 28), 2) == at(2027, 3, 31)
    assert first_due(CYCLE, value, at(2027, 6, 15)) == at(2027, 6, 30)


def test_cycle_long_past_start_is_found_without_walking_every_occurrence() -> None:
    assert first_due(CYCLE, "R/2000-01-01T00:00:00Z/PT1S", NOW) == NOW
    elapsed = int((NOW - at(2000, 1, 1)).total_seconds())
    occurrences = -(-elapsed // 7)  # rounded up: the first one not before now
    expected = at(2000, 1, 1) + timedelta(seconds=7 * occurrences)
    assert first_due(CYCLE, "R/2000-01-01T00:00:00Z/PT7S", NOW) == expected
    assert NOW < expected < NOW + timedelta(seconds=7)


def test_cycle_that_is_over_is_refused() -> None:
    with pytest.raises(InvalidTimer, match=r"last one was 2027-01-03T00:00:00"):
        first_due(CYCLE, "R3/2027-01-01T00:00:00Z/P1D", NOW)


def test_cron_is_strictly_after_now_in_utc() -> None:
    weekdays = "0 9 * * MON-FRI"
    assert first_due(CRON, weekdays, NOW) == at(2027, 2, 1, 9)  # Jan 31st 2027 is a Sunday
    assert first_due(CRON, weekdays, at(2027, 2, 1, 9)) == at(2027, 2, 2, 9)
    assert next_due(CRON, weekdays, at(2027, 2, 5, 9), 500) == at(2027, 2, 8, 9)
    assert first_due(CRON, "*/15 * * * *", NOW) == at(2027, 1, 31, 12, 15)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        (DURATION, "", "empty"),
        (DURATION, "15S", "not an ISO 8601 duration"),
        (DURATION, "PT", "not an ISO 8601 duration"),
        (DURATION, "P1DT", "not an ISO 8601 duration"),
        (DURATION, "P", "not an ISO 8601 duration"),
        (DURATION, "-P1D", "negative"),
        (DURATION, "P1.5M", "cannot be added to a date"),
        (DURATION, "P99999Y", "cannot be added to a date"),
        (DURATION, "${wait}", "JUEL"),
        (DURATION, "#{wait}", "JUEL"),
        (DATE, "2027-01-01", "has no time"),
        (DATE, "2027-13-01T00:00:00Z", "not an ISO 8601 date-time"),
        (DATE, "tomorrow", "has no time"),
        (DATE, "2027-01-01Tnoon", "not an ISO 8601 date-time"),
        (CYCLE, "PT1H", "not an ISO 8601 repeating interval"),
        (CYCLE, "R3", "not an ISO 8601 repeating interval"),
        (CYCLE, "Rx/PT1H", "not an ISO 8601 repeating interval"),
        (CYCLE, "R0/PT1H", "repeats 0 times"),
        (CYCLE, "R/PT0S", "zero period"),
        (CYCLE, "R/PT", "not an ISO 8601 duration"),
        (CYCLE, "R/2027-01-01T00:00:00Z/2027-02-01T00:00:00Z", "ends at a date"),
        (CYCLE, "R2/PT1H/2027-02-01T00:00:00Z", "ends at a date"),
        (CYCLE, "R2/2027-01-01/PT1H", "has no time"),
        (CYCLE, "0 9 * * MON-FRI", "for a cron schedule use a cron timer"),
        (CRON, "0 9 * *", "five cron fields"),
        (CRON, "0 0 9 * * MON-FRI", "five cron fields"),
        (CRON, "61 * * * *", "out of range"),
        (CRON, "*/0 * * * *", "five cron fields"),
        (CRON, "0 0 30 2 *", "never matches a date"),
        (CRON, "@daily", "five cron fields"),
    ],
)
def test_malformed_literal_is_refused_with_a_reason(
    kind: TimerKind, value: str, message: str
) -> None:
    with pytest.raises(InvalidTimer, match=message):
        check_timer_value(kind, value)
    with pytest.raises(InvalidTimer, match=message):
        first_due(kind, value, NOW)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (DURATION, "PT15S"),
        (DATE, "2027-01-01T00:00:00Z"),
        (CYCLE, "R5/2027-01-01T00:00:00Z/P1D"),
        (CYCLE, "R/PT1H"),
        (CRON, "0 9 * * MON-FRI"),
        (CRON, "0 0 L * *"),
    ],
)
def test_well_formed_literal_passes(kind: TimerKind, value: str) -> None:
    check_timer_value(kind, value)


def test_a_value_after_equals_is_cel() -> None:
    spec = timer_spec(DURATION, "  = input.wait ")
    assert spec.value == "input.wait"
    assert spec.expression is not None
    assert spec.expression.source == "input.wait"
    assert not spec.is_literal
    assert timer_spec(DATE, " 2027-01-01T00:00:00Z ") == TimerSpec(DATE, "2027-01-01T00:00:00Z")


@pytest.mark.parametrize("raw", ["=", "= input.", "=wait"])
def test_cel_that_does_not_compile_is_an_expression_error(raw: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        timer_spec(DURATION, raw)


def test_naive_now_is_a_programming_error_not_a_bad_timer() -> None:
    with pytest.raises(ValueError, match="timezone-aware") as caught:
        first_due(DURATION, "PT1S", datetime(2027, 1, 1))
    assert not isinstance(caught.value, InvalidTimer)
