"""How long a batch lane waits before its next slice: a rate cap, a duty cycle, and a
back-off that adapts to contention.

Three limits, the strictest wins:

- **Rate cap.** A lane's slices, all lanes together, apply at most ``items_per_second``.
- **Duty cycle.** A lane keeps its worker and its database connection busy at most
  ``duty_cycle`` of the time: after a slice that was busy for ``b`` seconds the lane rests
  so that ``b`` is that share of the slice's whole period. Since a slice's busy time grows
  with the cost of its items and with the load on the machine, so do the rests: the batch
  takes a share of the machine, not a fixed number of items.
- **Contention back-off** (TCP Vegas with AIMD, as the gh-ost and Vitess throttlers back
  off on replication lag). The lane keeps a smoothed busy time per item (``recent``: slices
  of a few dozen items on a shared machine vary several-fold one to the next) and the lowest
  value it took (``base``: the cost of an item when nothing else competed). When ``recent``
  is more than ``1 + tolerance`` times ``base``, other work (live requests included) is
  competing for the CPU or the database, so the lane multiplies its ``slowdown`` (up to
  ``max_slowdown``), which divides the duty cycle; each slice without contention takes a
  step off it. A batch thus gives way within a few slices when the load rises, and comes
  back gradually when it falls.

The lane's state (``Pace``) travels in its next slice's job payload: it survives restarts
and follows the lane to whichever worker claims the slice. Everything here is pure: the
slice's busy time is measured by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How much a slice's busy time per item moves ``recent`` (an exponential moving average).
SMOOTHING = 0.25
# Each slice lets ``base`` rise by this fraction before comparing: a base measured on one
# idle moment does not hold the lane back forever, and a batch whose later items cost more
# is not taken for contention for long.
BASE_DRIFT = 0.01
# The multiplicative decrease (of the duty cycle) and the additive increase.
BACK_OFF_FACTOR = 1.5
RECOVERY_STEP = 0.25


@dataclass(frozen=True)
class ThrottleSettings:
    items_per_second: float = 500.0  # 0: no rate cap
    duty_cycle: float = 1.0  # 1: no rest for the duty cycle
    max_slowdown: float = 4.0  # 1: no contention back-off
    tolerance: float = 1.0


@dataclass(frozen=True)
class Pace:
    """A lane's throttle state: its smoothed and its lowest busy seconds per item (None
    before its first slice), and how far it is slowed down now (1: not at all)."""

    recent_seconds_per_item: float | None = None
    base_seconds_per_item: float | None = None
    slowdown: float = 1.0

    def to_payload(self) -> dict[str, Any]:
        return {
            "recentSecondsPerItem": self.recent_seconds_per_item,
            "baseSecondsPerItem": self.base_seconds_per_item,
            "slowdown": self.slowdown,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Pace:
        """The pace a slice job carries (jobs queued before the throttle: a fresh one)."""
        recent, base = payload.get("recentSecondsPerItem"), payload.get("baseSecondsPerItem")
        if recent is None or base is None:
            return cls(slowdown=max(1.0, float(payload.get("slowdown", 1.0))))
        return cls(float(recent), float(base), max(1.0, float(payload.get("slowdown", 1.0))))


@dataclass(frozen=True)
class Decision:
    pace: Pace  # for the lane's next slice
    # From the slice's start to its successor's: the slice's own busy time included.
    period_seconds: float
    contended: bool


def after_slice(
    settings: ThrottleSettings, pace: Pace, items: int, busy_seconds: float, lanes: int
) -> Decision:
    """The lane's next pace and period after a slice that applied ``items`` in
    ``busy_seconds`` (``lanes`` share the rate cap)."""
    next_pace, contended = _adapt(settings, pace, items, busy_seconds)
    period = max(
        _rate_period(settings, items, lanes),
        _duty_period(settings, next_pace, busy_seconds),
    )
    return Decision(next_pace, period, contended)


def _rate_period(settings: ThrottleSettings, items: int, lanes: int) -> float:
    if settings.items_per_second <= 0:
        return 0.0
    return items * lanes / settings.items_per_second


def _duty_period(settings: ThrottleSettings, pace: Pace, busy_seconds: float) -> float:
    duty = settings.duty_cycle / pace.slowdown
    if duty >= 1:
        return 0.0
    return busy_seconds / duty


def _adapt(
    settings: ThrottleSettings, pace: Pace, items: int, busy_seconds: float
) -> tuple[Pace, bool]:
    if items <= 0 or settings.max_slowdown <= 1:
        return pace, False
    per_item = busy_seconds / items
    if pace.recent_seconds_per_item is None or pace.base_seconds_per_item is None:
        return Pace(per_item, per_item, pace.slowdown), False
    recent = pace.recent_seconds_per_item + SMOOTHING * (per_item - pace.recent_seconds_per_item)
    base = min(recent, pace.base_seconds_per_item * (1 + BASE_DRIFT))
    if recent > base * (1 + settings.tolerance):
        slowdown = min(settings.max_slowdown, pace.slowdown * BACK_OFF_FACTOR)
        return Pace(recent, base, slowdown), True
    return Pace(recent, base, max(1.0, pace.slowdown - RECOVERY_STEP)), False
