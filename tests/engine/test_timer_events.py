"""Timers in the pure engine: every form and boundary kind, with save/restore between steps.

The clock is the scenario's (``Scenario.clock``, one second per step): the engine takes
``now``, so no test sleeps.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from procflow.engine.events import CancelWaits, Hold, TimerFired, Unhold
from procflow.engine.step import step
from procflow.model.errors import InstanceNotRunning, WaitNotFound
from procflow.model.instance import Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.bpmn.test_timers import parsed, waits
from tests.engine.conftest import NOW, Scenario, audit_types, live_at, parse, scheduled


def timers(scenario: Scenario) -> list[Wait]:
    return [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]


def fire(scenario: Scenario, node_id: str) -> None:
    [wait] = [w for w in timers(scenario) if w.node_id == node_id]
    assert wait.due_at is not None
    scenario.clock = max(scenario.clock, wait.due_at) - timedelta(seconds=1)
    scenario.send(TimerFired(wait.id))


CATCH = """
    name: catch
    nodes:
      - {id: begin, type: start}
      - {id: pause, type: timer, timer: {duration: PT15S}}
      - {id: until, type: timer, timer: {date: "2024-06-01T00:00:00Z"}}
      - {id: computed, type: timer, timer: {duration: "=input.wait"}}
      - {id: done, type: end}
    flows:
      - {from: begin, to: pause}
      - {from: pause, to: until}
      - {from: until, to: computed}
      - {from: computed, to: done}
"""


def test_catch_events_wait_for_a_duration_a_date_and_a_computed_duration() -> None:
    scenario = Scenario(parse(CATCH), {"wait": "PT2M"})
    result = scenario.start()
    token = live_at(scenario.instance, "pause")
    assert token.status is NodeStatus.WAITING_TIMER_EVENT
    [wait] = timers(scenario)
    assert wait.due_at == scenario.clock + timedelta(seconds=15)
    [schedule] = scheduled(result)
    assert (schedule.kind, schedule.wait_id, schedule.due_at) == ("timer", wait.id, wait.due_at)
    fire(scenario, "pause")
    [until] = timers(scenario)
    assert until.due_at is not None and until.due_at.isoformat() == "2024-06-01T00:00:00+00:00"
    fire(scenario, "until")
    [computed] = timers(scenario)
    assert computed.due_at == scenario.clock + timedelta(minutes=2)
    fire(scenario, "computed")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.waits == ()


def test_a_fired_timer_fires_once_and_a_late_copy_is_ignored() -> None:
    scenario = Scenario(parse(CATCH), {"wait": "PT1S"})
    scenario.start()
    [wait] = timers(scenario)
    scenario.send(TimerFired(wait.id))
    with pytest.raises(WaitNotFound):
        step(scenario.definition, scenario.instance, TimerFired(wait.id), NOW)


@pytest.mark.parametrize(
    ("value", "incident"),
    [("'soon'", "invalid_timer"), ("42", "invalid_timer"), ("input.missing.x", "expression_error")],
)
def test_a_computed_timer_that_is_not_a_duration_is_an_incident(value: str, incident: str) -> None:
    text = CATCH.replace('"=input.wait"', f'"={value}"').replace("PT15S", "PT0S")
    scenario = Scenario(parse(text), {})
    scenario.start()
    fire(scenario, "pause")
    fire(scenario, "until")
    assert scenario.state() is InstanceState.FAILED
    [found] = scenario.instance.incidents
    assert (found.type, found.node_id) == (incident, "computed")


REVIEW = """
    name: review
    nodes:
      - {id: begin, type: start}
      - {id: review, type: userTask, actions: [approve]}
      - {id: remind, type: boundaryTimer, attachedTo: review, interrupting: false,
         timer: {cycle: R2/PT1H}}
      - {id: nudge, type: task, rules: [{set: {nudges: "int(input.nudges) + 1"}}]}
      - {id: nudged, type: end}
      - {id: deadline, type: boundaryTimer, attachedTo: review, timer: {duration: P1D}}
      - {id: escalated, type: end}
      - {id: approved, type: end}
    flows:
      - {from: begin, to: review}
      - {from: review, to: approved}
      - {from: remind, to: nudge}
      - {from: nudge, to: nudged}
      - {from: deadline, to: escalated}
"""


def test_a_non_interrupting_cycle_spawns_a_token_each_time_while_the_task_waits() -> None:
    scenario = Scenario(parse(REVIEW), {"nudges": 0})
    scenario.start()
    assert {w.node_id for w in timers(scenario)} == {"remind", "deadline"}
    fire(scenario, "remind")
    assert scenario.data["nudges"] == 1
    assert live_at(scenario.instance, "review").status is NodeStatus.ARRIVED
    [again] = [w for w in timers(scenario) if w.node_id == "remind"]
    assert again.fired == 1
    fire(scenario, "remind")
    assert scenario.data["nudges"] == 2
    assert [w.node_id for w in timers(scenario)] == ["deadline"]  # R2: used up
    result = scenario.act("review", "approve")
    assert scenario.state() is InstanceState.FINISHED
    assert any(isinstance(e, CancelWaits) for e in result.effects)
    assert scenario.instance.waits == ()


def test_an_interrupting_boundary_cancels_the_activity_and_its_other_timers() -> None:
    scenario = Scenario(parse(REVIEW), {"nudges": 0})
    scenario.start()
    review = live_at(scenario.instance, "review")
    fire(scenario, "deadline")
    assert scenario.state() is InstanceState.FINISHED
    token = scenario.instance.token_by_id(review.id)
    assert token is not None and token.node_id == "escalated"
    assert "boundary_event_triggered" in audit_types(scenario.results[-1])
    assert scenario.instance.waits == ()
    assert "nudges" in scenario.data and scenario.data["nudges"] == 0


def test_a_timer_whose_token_left_is_ignored_when_it_fires() -> None:
    text = REVIEW.replace(
        "- {from: review, to: approved}",
        "- {from: review, to: archive}\n      - {from: archive, to: approved}",
    ).replace(
        "- {id: approved, type: end}",
        "- {id: approved, type: end}\n      - {id: archive, type: userTask, actions: [ok]}",
    )
    scenario = Scenario(parse(text), {"nudges": 0})
    scenario.start()
    [deadline] = [w for w in timers(scenario) if w.node_id == "deadline"]
    scenario.act("review", "approve")
    assert scenario.state() is InstanceState.STARTED
    assert scenario.instance.waits == ()
    with pytest.raises(WaitNotFound):
        step(scenario.definition, scenario.instance, TimerFired(deadline.id), NOW)


ASYNC_WITH_DEADLINE = """
    name: async_deadline
    nodes:
      - {id: begin, type: start}
      - {id: work, type: task, async: true, rules: [{set: {worked: "true"}}]}
      - {id: slow, type: boundaryTimer, attachedTo: work, timer: {duration: PT30S}}
      - {id: gave_up, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: work}
      - {from: work, to: done}
      - {from: slow, to: gave_up}
      - {from: gave_up, to: done}
"""


def test_a_boundary_on_an_async_task_cancels_its_job() -> None:
    scenario = Scenario(parse(ASYNC_WITH_DEADLINE))
    scenario.start()
    [task] = [w for w in scenario.instance.waits if w.kind is WaitKind.TASK]
    fire(scenario, "slow")
    assert CancelWaits((task.id,)) in scenario.results[-1].effects
    assert live_at(scenario.instance, "gave_up").status is NodeStatus.ARRIVED
    assert "worked" not in scenario.data


RACE = """
    name: race
    nodes:
      - {id: begin, type: start}
      - {id: race, type: eventGateway}
      - {id: quick, type: timer, timer: {duration: PT1M}}
      - {id: slow, type: timer, timer: {duration: PT1H}}
      - {id: quick_end, type: end}
      - {id: slow_end, type: end}
    flows:
      - {from: begin, to: race}
      - {from: race, to: quick}
      - {from: race, to: slow}
      - {from: quick, to: quick_end}
      - {from: slow, to: slow_end}
"""


def test_the_first_branch_of_an_event_gateway_wins_and_cancels_the_others() -> None:
    scenario = Scenario(parse(RACE))
    scenario.start()
    token = live_at(scenario.instance, "race")
    assert token.status is NodeStatus.WAITING_TIMER_EVENT
    [slow] = [w for w in timers(scenario) if w.node_id == "slow"]
    fire(scenario, "quick")
    assert scenario.state() is InstanceState.FINISHED
    assert CancelWaits((slow.id,)) in scenario.results[-1].effects
    ended = scenario.instance.token_by_id(token.id)
    assert ended is not None and ended.node_id == "quick_end"
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, scenario.instance, TimerFired(slow.id), NOW)


EXPIRING = """
    name: expiring
    expiryTime: P2D
    nodes:
      - {id: begin, type: start}
      - {id: review, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: review}
      - {from: review, to: done}
"""


def test_an_instance_still_running_at_its_expiry_time_expires() -> None:
    scenario = Scenario(parse(EXPIRING))
    scenario.start()
    [expiry] = scenario.instance.waits
    assert expiry.kind is WaitKind.EXPIRY
    assert expiry.due_at == scenario.clock + timedelta(days=2)
    scenario.send(TimerFired(expiry.id))
    assert scenario.state() is InstanceState.EXPIRED
    [token] = scenario.instance.tokens
    assert token.state is TokenState.EXPIRED
    assert "instance_expired" in audit_types(scenario.results[-1])


def test_finishing_before_the_expiry_time_cancels_it() -> None:
    scenario = Scenario(parse(EXPIRING))
    scenario.start()
    [expiry] = scenario.instance.waits
    result = scenario.act("review", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert CancelWaits((expiry.id,)) in result.effects


def test_a_timer_does_not_fire_while_the_instance_is_on_hold() -> None:

    scenario = Scenario(parse(CATCH), {"wait": "PT1S"})
    scenario.start()
    [wait] = timers(scenario)
    scenario.send(Hold())
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, scenario.instance, TimerFired(wait.id), NOW)
    scenario.send(Unhold())
    scenario.send(TimerFired(wait.id))
    assert live_at(scenario.instance, "until").status is NodeStatus.WAITING_TIMER_EVENT


def test_a_bpmn_model_with_every_timer_form_runs() -> None:
    """The BPMN document of tests/bpmn/test_timers.py (as bpmn.io writes timers), run."""
    scenario = Scenario(parsed(waits()), {"wait": "PT5M"})
    scenario.start("Start")
    assert {w.node_id for w in timers(scenario)} == {"Remind", "Deadline"}
    assert {w.kind for w in scenario.instance.waits} == {WaitKind.TIMER, WaitKind.EXPIRY}
    fire(scenario, "Remind")  # non-interrupting: a token goes to Nudge and ends
    scenario.act("Review", "done")
    assert live_at(scenario.instance, "Race").status is NodeStatus.WAITING_TIMER_EVENT
    assert {w.node_id for w in timers(scenario)} == {"Computed", "Fixed"}
    fire(scenario, "Fixed")  # PT15S beats the computed PT5M
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.waits == ()
