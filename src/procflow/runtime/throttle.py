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
  off on replication lag). The lane remembers the lowest busy time per item it has seen
  (``base``: the cost of an item on an idle machine); a slice whose items took more than
  ``1 + tolerance`` times that was slowed by other work, live requests included, so the
  lane doubles its ``slowdown`` (up to ``max_slowdown``), which divides the duty cycle; a
  slice near the base takes a step off it. A batch thus gives way within a few slices when
  live traffic rises, and comes back gradually when it falls.

The lane's state (``Pace``) travels in its next slice's job payload: it survives restarts
and follows the lane to whichever worker claims the slice. Everything here is pure: the
slice's busy time is measured by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Each slice lets ``base`` rise by this fraction before comparing: a base measured once
# on an idle moment (or on a slice of cheap, failing items) does not hold the lane back
# forever, and a batch whose later items cost more is not taken for contention for long.
BASE_DRIFT = 0.02
# How much of the slowdown a slice without contention takes off (the additive increase).
RECOVERY_STEP = 0.5


@dataclass(frozen=True)
class ThrottleSettings:
    items_per_second: float = 500.0  # 0: no rate cap
    duty_cycle: float = 0.5  # 1: no rest for the duty cycle
    max_slowdown: float = 8.0  # 1: no contention back-off
    tolerance: float = 0.5


@dataclass(frozen=True)
class Pace:
    """A lane's throttle state: the lowest busy seconds per item seen, and how far it is
    slowed down now (1: not at all)."""

    base_seconds_per_item: float | None = None
    slowdown: float = 1.0

    def to_payload(self) -> dict[str, Any]:
        return {"baseSecondsPerItem": self.base_seconds_per_item, "slowdown": self.slowdown}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Pace:
        """The pace a slice job carries (jobs queued before the throttle: a fresh one)."""
        base = payload.get("baseSecondsPerItem")
        return cls(
            base_seconds_per_item=float(base) if base is not None else None,
            slowdown=max(1.0, float(payload.get("slowdown", 1.0))),
        )


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
    if pace.base_seconds_per_item is None:
        return Pace(per_item, pace.slowdown), False
    drifted = pace.base_seconds_per_item * (1 + BASE_DRIFT)
    base = min(per_item, drifted)
    if per_item > drifted * (1 + settings.tolerance):
        return Pace(base, min(settings.max_slowdown, pace.slowdown * 2)), True
    return Pace(base, max(1.0, pace.slowdown - RECOVERY_STEP)), False
