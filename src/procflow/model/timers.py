"""Timer values and their schedule arithmetic: when a timer is first due, and when it repeats.

Pure: no I/O and no clock; ``now`` is always passed in, and every datetime given or returned
is timezone-aware and returned in UTC (UTC has no daylight-saving jumps, so ``PT1H`` is always
3600 s). The four forms (``docs/definitions.md``, "Timers"):

- ``duration``: an ISO 8601 duration (``PT15S``, ``P1DT2H``, ``P1M``); due = now + duration.
- ``date``: an ISO 8601 date-time; a value without an offset is UTC.
- ``cycle``: an ISO 8601 repeating interval, ``R[n]/[start/]period``; ``n`` counts firings,
  no ``n`` repeats forever.
- ``cron``: five cron fields (minute hour day-of-month month day-of-week), evaluated in UTC,
  repeating forever.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias

import isodate
from croniter import CroniterBadDateError, CroniterError, croniter

from procflow.model.expression import Expression, ExpressionSyntaxError


class TimerKind(StrEnum):
    DURATION = "duration"
    DATE = "date"
    CYCLE = "cycle"
    CRON = "cron"


@dataclass(frozen=True)
class TimerSpec:
    """A timer as written: ``value`` is the literal, or the CEL source when ``expression`` is
    set (the value is then computed when a token arrives, and checked only then)."""

    kind: TimerKind
    value: str
    expression: Expression | None = None

    @property
    def is_literal(self) -> bool:
        return self.expression is None


class InvalidTimer(ValueError):
    """A timer value that cannot be scheduled; the message says what is wrong."""


# A duration that datetimes accept: timedelta, or isodate's Duration for years and months.
TimerDuration: TypeAlias = timedelta | isodate.Duration

CEL_PREFIX = "="
_JUEL = re.compile(r"^[$#]\{")
# isodate takes "P" and "PT" (no component at all) as zero; a written duration needs a number.
_HAS_COMPONENT = re.compile(r"\d")
_REPEAT = re.compile(r"^R(\d*)$")
_CRON_FIELDS = 5
# Arithmetic with months needs a real date; this one only measures sign and rough length.
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)

_EXAMPLES = {
    TimerKind.DURATION: "an ISO 8601 duration like PT15S, P1DT2H or P1M",
    TimerKind.DATE: "an ISO 8601 date-time like 2027-01-01T09:00:00Z",
    TimerKind.CYCLE: "an ISO 8601 repeating interval like R3/PT10S, R/PT1H or "
    "R5/2027-01-01T00:00:00Z/P1D",
    TimerKind.CRON: "five cron fields (minute hour day-of-month month day-of-week) like "
    "'0 9 * * MON-FRI'",
}


def timer_spec(kind: TimerKind, raw: str) -> TimerSpec:
    """The spec for a value as written; ``=<CEL>`` is compiled (``ExpressionSyntaxError``).

    Literals are not checked here but by ``check_timer_value``, so that the graph validation
    reports them for YAML and BPMN alike.
    """
    value = raw.strip()
    if not value.startswith(CEL_PREFIX):
        return TimerSpec(kind, value)
    source = value.removeprefix(CEL_PREFIX).strip()
    if not source:
        raise ExpressionSyntaxError("'=' must be followed by a CEL expression")
    return TimerSpec(kind, source, Expression.compile(source))


def check_timer_value(kind: TimerKind, value: str) -> None:
    """Raise ``InvalidTimer`` unless ``value`` is a well-formed literal of ``kind``."""
    match kind:
        case TimerKind.DURATION:
            parse_duration(value)
        case TimerKind.DATE:
            parse_date(value)
        case TimerKind.CYCLE:
            _parse_cycle(value)
        case TimerKind.CRON:
            _check_cron(value)


def first_due(kind: TimerKind, value: str, now: datetime) -> datetime:
    """When a timer that starts waiting at ``now`` is first due.

    A date in the past is due at once (the returned date is before ``now``). A cycle with a
    start in the past is due at its first occurrence not before ``now``: occurrences missed
    before ``now`` are skipped, not caught up, and count as used.
    """
    now = _aware(now)
    match kind:
        case TimerKind.DURATION:
            return _add(now, parse_duration(value))
        case TimerKind.DATE:
            return parse_date(value)
        case TimerKind.CYCLE:
            return _parse_cycle(value).first_due(now)
        case TimerKind.CRON:
            return _cron_after(value, now)


def next_due(kind: TimerKind, value: str, previous_due: datetime, fired: int) -> datetime | None:
    """The occurrence after ``previous_due`` of a repeating timer that has fired ``fired``
    times (the one at ``previous_due`` included); ``None`` once its repetitions are used up.
    Durations and dates fire once: always ``None``."""
    previous_due = _aware(previous_due)
    match kind:
        case TimerKind.DURATION | TimerKind.DATE:
            return None
        case TimerKind.CYCLE:
            return _parse_cycle(value).next_due(previous_due, fired)
        case TimerKind.CRON:
            return _cron_after(value, previous_due)


def parse_duration(value: str) -> TimerDuration:
    """An ISO 8601 duration, zero or positive; months and years are calendar months/years."""
    _refuse_juel(value, TimerKind.DURATION)
    if not _HAS_COMPONENT.search(value) or value.endswith("T"):
        raise _invalid(TimerKind.DURATION, value)
    try:
        duration: TimerDuration = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError, OverflowError) as error:
        raise _invalid(TimerKind.DURATION, value) from error
    try:
        later = _add(_REFERENCE, duration)
    except InvalidTimer as error:
        raise InvalidTimer(f"duration {value!r}: {error}") from error
    if later < _REFERENCE:
        raise InvalidTimer(f"duration {value!r} is negative; a timer cannot wait back in time")
    return duration


def parse_date(value: str) -> datetime:
    """An ISO 8601 date-time as an aware UTC datetime; without an offset it is UTC."""
    _refuse_juel(value, TimerKind.DATE)
    if "T" not in value:
        raise InvalidTimer(
            f"date {value!r} has no time; write {_EXAMPLES[TimerKind.DATE]} (a value "
            "without an offset is UTC)"
        )
    try:
        parsed: datetime = isodate.parse_datetime(value)
    except (isodate.ISO8601Error, ValueError, OverflowError) as error:
        raise _invalid(TimerKind.DATE, value) from error
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class _Cycle:
    """``R[n]/[start/]period``. Anchored at ``start``, occurrence ``k`` is ``start + k *
    period`` (multiplied, not added up, so ``P1M`` from Jan 31 stays on month ends); without a
    start each occurrence is the previous one plus the period."""

    repetitions: int | None
    start: datetime | None
    period: TimerDuration

    def first_due(self, now: datetime) -> datetime:
        if self.start is None:
            return _add(now, self.period)
        index = self._first_index(now, strictly_after=False)
        if self.repetitions is not None and index >= self.repetitions:
            last = self._occurrence(self.repetitions - 1)
            raise InvalidTimer(
                f"every repetition of the cycle is over: its last one was {last.isoformat()}"
            )
        return self._occurrence(index)

    def next_due(self, previous_due: datetime, fired: int) -> datetime | None:
        if self.start is None:
            if self.repetitions is not None and fired >= self.repetitions:
                return None
            return _add(previous_due, self.period)
        index = self._first_index(previous_due, strictly_after=True)
        if self.repetitions is not None and index >= self.repetitions:
            return None
        return self._occurrence(index)

    def _occurrence(self, index: int) -> datetime:
        assert self.start is not None
        return _add(self.start, self.period * index)

    def _first_index(self, moment: datetime, strictly_after: bool) -> int:
        """The first ``k >= 0`` whose occurrence is at or after (strictly after) ``moment``."""
        assert self.start is not None

        def early(index: int) -> bool:
            occurrence = self._occurrence(index)
            return occurrence <= moment if strictly_after else occurrence < moment

        # An estimate from the period's length, then a few exact steps: month lengths vary.
        length = _add(_REFERENCE, self.period) - _REFERENCE
        index = max(0, (moment - self.start) // length) if moment > self.start else 0
        while index > 0 and not early(index - 1):
            index -= 1
        while early(index):
            index += 1
        return index


def _parse_cycle(value: str) -> _Cycle:
    _refuse_juel(value, TimerKind.CYCLE)
    parts = value.split("/")
    repeat = _REPEAT.match(parts[0])
    if repeat is None or len(parts) not in (2, 3):
        raise _invalid(TimerKind.CYCLE, value, _cron_hint(value))
    if repeat.group(1) and int(repeat.group(1)) == 0:
        raise InvalidTimer(f"cycle {value!r} repeats 0 times and would never fire; use R1 or more")
    repetitions = int(repeat.group(1)) if repeat.group(1) else None
    if len(parts) == 3 and not parts[2].startswith("P"):
        raise InvalidTimer(
            f"cycle {value!r} ends at a date; only R[n]/<period> and R[n]/<start>/<period> "
            "are supported"
        )
    start = parse_date(parts[1]) if len(parts) == 3 else None
    period = parse_duration(parts[-1])
    if _add(_REFERENCE, period) == _REFERENCE:
        raise InvalidTimer(f"cycle {value!r} has a zero period; it would fire without end")
    return _Cycle(repetitions, start, period)


def _cron_hint(value: str) -> str:
    if len(value.split()) == _CRON_FIELDS:
        return "; for a cron schedule use a cron timer (procflow:cron in BPMN)"
    return ""


def _check_cron(value: str) -> None:
    _cron_after(value, _REFERENCE)


def _cron_after(value: str, moment: datetime) -> datetime:
    """The first time strictly after ``moment`` that ``value`` matches, in UTC."""
    _refuse_juel(value, TimerKind.CRON)
    if len(value.split()) != _CRON_FIELDS:
        raise _invalid(TimerKind.CRON, value)
    try:
        following: datetime = croniter(value, moment).get_next(datetime)
    except CroniterBadDateError as error:
        raise InvalidTimer(f"cron {value!r} never matches a date") from error
    except CroniterError as error:
        raise _invalid(TimerKind.CRON, value, f" ({error})") from error
    except (ValueError, KeyError, OverflowError) as error:
        raise _invalid(TimerKind.CRON, value) from error
    return following.astimezone(UTC)


def _add(moment: datetime, duration: TimerDuration) -> datetime:
    try:
        result: datetime = moment + duration
    except OverflowError as error:
        raise InvalidTimer(f"{moment.isoformat()} plus the duration is past year 9999") from error
    except ValueError as error:
        # isodate refuses fractional months ("P1.5M") and years out of range here.
        raise InvalidTimer(f"the duration cannot be added to a date: {error}") from error
    return result.astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        # A caller's bug, not a bad timer: the engine's clock is always aware.
        raise ValueError("timer arithmetic needs timezone-aware datetimes")
    return moment.astimezone(UTC)


def _refuse_juel(value: str, kind: TimerKind) -> None:
    if _JUEL.match(value):
        raise InvalidTimer(
            f"{kind} {value!r} is a JUEL expression, which Procflow does not run; write the "
            "value as =<CEL>, e.g. =input.wait"
        )
    if not value:
        raise InvalidTimer(f"the {kind} timer is empty; write {_EXAMPLES[kind]}")


def _invalid(kind: TimerKind, value: str, extra: str = "") -> InvalidTimer:
    return InvalidTimer(f"{kind} {value!r} is not {_EXAMPLES[kind]}{extra}")
