"""The batch throttle's decisions, fed with measured busy times (no clock, no sleeping)."""

from __future__ import annotations

import pytest

from procflow.runtime.throttle import (
    BACK_OFF_FACTOR,
    RECOVERY_STEP,
    Decision,
    Pace,
    ThrottleSettings,
    after_slice,
)

MS = 0.001
ITEMS = 20
NO_ADAPT = dict(max_slowdown=1.0)


def _slice(settings: ThrottleSettings, pace: Pace, ms_per_item: float, lanes: int = 2) -> Decision:
    return after_slice(settings, pace, ITEMS, ITEMS * ms_per_item * MS, lanes)


def _run(settings: ThrottleSettings, ms_per_item: list[float]) -> list[Decision]:
    pace, decisions = Pace(), []
    for cost in ms_per_item:
        decision = _slice(settings, pace, cost)
        decisions.append(decision)
        pace = decision.pace
    return decisions


def test_a_cheap_slice_waits_for_its_lanes_share_of_the_rate() -> None:
    settings = ThrottleSettings(items_per_second=400, duty_cycle=1, **NO_ADAPT)
    # 20 items, two lanes sharing 400 items/s: each lane's slice every 0.1 s.
    assert _slice(settings, Pace(), 0.1).period_seconds == pytest.approx(0.1)


def test_a_slow_slice_rests_for_the_duty_cycle() -> None:
    settings = ThrottleSettings(items_per_second=400, duty_cycle=0.5, **NO_ADAPT)
    # Busy 0.2 s: at half duty the next slice comes 0.4 s after this one began.
    assert _slice(settings, Pace(), 10).period_seconds == pytest.approx(0.4)


def test_without_a_rate_cap_and_at_full_duty_slices_follow_at_once() -> None:
    settings = ThrottleSettings(items_per_second=0, duty_cycle=1, **NO_ADAPT)
    assert _slice(settings, Pace(), 50).period_seconds == 0


def test_the_first_slice_sets_the_base_and_is_not_contended() -> None:
    first = _slice(ThrottleSettings(), Pace(), 3)
    assert first.pace == Pace(3 * MS, 3 * MS, 1.0)
    assert not first.contended


def test_items_that_stay_slower_than_the_base_back_the_lane_off_up_to_the_limit() -> None:
    settings = ThrottleSettings(items_per_second=0, duty_cycle=0.5, max_slowdown=4)
    decisions = _run(settings, [1.0] + [5.0] * 20)
    slowdowns = [d.pace.slowdown for d in decisions]
    assert slowdowns[:2] == [1.0, 1.0]  # one slow slice moves the average only so far
    contended = [d for d in decisions if d.contended]
    assert contended
    first = decisions.index(contended[0])
    assert slowdowns[first] == BACK_OFF_FACTOR
    assert slowdowns == sorted(slowdowns)
    assert slowdowns[-1] == 4.0
    # Slowed down 4x: the duty cycle is an eighth, the rest seven times the busy time.
    assert decisions[-1].period_seconds == pytest.approx(ITEMS * 5.0 * MS * 8)


def test_the_lane_comes_back_step_by_step_once_the_contention_is_gone() -> None:
    settings = ThrottleSettings(items_per_second=0, duty_cycle=0.5, max_slowdown=4)
    backed_off = _run(settings, [1.0] + [5.0] * 20)[-1].pace
    pace, slowdowns = backed_off, []
    for _ in range(30):
        decision = _slice(settings, pace, 1.0)
        pace = decision.pace
        slowdowns.append(pace.slowdown)
    assert slowdowns == sorted(slowdowns, reverse=True)
    steps = [a - b for a, b in zip([4.0, *slowdowns], slowdowns, strict=False) if a != b]
    assert all(step == pytest.approx(RECOVERY_STEP) for step in steps)
    assert slowdowns[-1] == 1.0


def test_noise_within_the_tolerance_is_not_contention() -> None:
    settings = ThrottleSettings(tolerance=1.0)
    decisions = _run(settings, [1.0, 1.8, 1.2, 1.9, 1.0, 1.7] * 5)
    assert not any(d.contended for d in decisions)
    assert decisions[-1].pace.slowdown == 1.0


def test_a_base_from_one_idle_moment_drifts_up_to_what_items_cost_now() -> None:
    # The batch's later items simply cost more: for a while that is contention, then the
    # base has risen to it and the lane recovers.
    decisions = _run(ThrottleSettings(tolerance=1.0), [1.0] + [3.0] * 300)
    assert any(d.contended for d in decisions)
    assert not any(d.contended for d in decisions[-20:])
    assert decisions[-1].pace.slowdown == 1.0


def test_without_back_off_the_pace_never_changes() -> None:
    settings = ThrottleSettings(max_slowdown=1.0)
    decisions = _run(settings, [1.0, 50.0, 50.0, 50.0])
    assert all(d.pace == Pace() and not d.contended for d in decisions)


def test_a_slice_of_no_items_keeps_the_pace() -> None:
    pace = Pace(2 * MS, 1 * MS, 2.0)
    assert after_slice(ThrottleSettings(), pace, 0, 0.5, 2).pace == pace


def test_the_pace_travels_in_the_job_payload() -> None:
    pace = Pace(2.5 * MS, 1.5 * MS, 3.0)
    assert Pace.from_payload({"batchId": "b", "slice": 4, **pace.to_payload()}) == pace


def test_a_slice_job_queued_before_the_throttle_starts_a_fresh_pace() -> None:
    assert Pace.from_payload({"batchId": "b", "slice": 4, "lane": 1}) == Pace()
