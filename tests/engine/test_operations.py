"""Operators' events in the pure engine, with save/restore between steps."""

from __future__ import annotations

import pytest

from procflow.engine.events import (
    CancelWaits,
    Hold,
    HoldWaits,
    JobFailed,
    RetryIncident,
    Terminate,
    Unhold,
)
from procflow.engine.step import step
from procflow.model.errors import IncidentNotFound, IncidentResolved, InstanceStateConflict
from procflow.model.instance import WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import NOW, Scenario, audits_of, live_at, parse, scheduled, task_wait

# A user task and an async task side by side, then a rule that divides.
PROCESS = """
    name: operated
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: review, type: userTask, actions: [ok]}
      - {id: job, type: task, async: true}
      - {id: join, type: parallelGateway}
      - {id: divide, type: task, rules: [{set: {ratio: "input.a / input.b"}}]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: review}
      - {from: fork, to: job}
      - {from: review, to: join}
      - {from: job, to: join}
      - {from: join, to: divide}
      - {from: divide, to: done}
"""


def started(data: dict[str, int] | None = None) -> Scenario:
    scenario = Scenario(parse(PROCESS), data or {"a": 6, "b": 0})
    scenario.start()
    return scenario


def test_hold_parks_live_tokens_and_holds_jobs_unhold_restores_them() -> None:
    scenario = started()
    held = scenario.send(Hold(by="ops"))
    assert scenario.state() is InstanceState.ON_HOLD
    assert scenario.instance.live_tokens == ()
    assert live_states(scenario) == {"review": TokenState.ON_HOLD, "job": TokenState.ON_HOLD}
    assert HoldWaits(held=True) in held.effects
    assert audits_of(held, "instance_held")[0].details == {"by": "ops"}
    unheld = scenario.send(Unhold(by="ops"))
    assert scenario.state() is InstanceState.STARTED
    assert live_states(scenario) == {"review": TokenState.ACTIVE, "job": TokenState.ACTIVE}
    assert HoldWaits(held=False) in unheld.effects
    assert live_at(scenario.instance, "job").status is NodeStatus.EXECUTING


def live_states(scenario: Scenario) -> dict[str, TokenState]:
    return {
        t.node_id: t.state
        for t in scenario.instance.tokens
        if t.state in (TokenState.ACTIVE, TokenState.ON_HOLD)
    }


def test_hold_again_and_unhold_a_running_instance_change_nothing() -> None:
    scenario = started()
    assert not step(scenario.definition, scenario.instance, Unhold(), NOW).changed
    scenario.send(Hold())
    assert not step(scenario.definition, scenario.instance, Hold(), NOW).changed


def test_terminate_cancels_every_wait_of_a_held_instance() -> None:
    scenario = started()
    wait_id = task_wait(scenario.instance, "job")
    scenario.send(Hold())
    result = scenario.send(Terminate("stop", by="ops"))
    assert scenario.state() is InstanceState.TERMINATED
    assert scenario.instance.waits == ()
    assert CancelWaits((wait_id,)) in result.effects
    assert {t.state for t in scenario.instance.tokens if t.node_id != "fork"} == {
        TokenState.TERMINATED
    }


def test_a_failure_holds_the_waits_and_a_retry_releases_and_reruns() -> None:
    scenario = started()
    scenario.complete_job("job")
    failed = scenario.act("review", "ok")
    assert scenario.state() is InstanceState.FAILED
    assert HoldWaits(held=True) in failed.effects
    [incident] = scenario.instance.incidents
    assert (incident.id, incident.node_id, incident.type) == (1, "divide", "expression_error")
    retried = scenario.send(RetryIncident(1, {"b": 3}, by="ops"))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["ratio"] == 2.0
    [resolved] = scenario.instance.incidents
    assert (resolved.resolved_by, resolved.resolved_at) == ("ops", scenario.clock)
    assert HoldWaits(held=False) in retried.effects
    with pytest.raises(IncidentResolved):
        step(scenario.definition, scenario.instance, RetryIncident(1), NOW)


def test_a_retry_revives_the_tokens_the_failure_aborted() -> None:
    scenario = started()
    wait_id = task_wait(scenario.instance, "job")
    scenario.send(JobFailed(wait_id, "gave up"))
    assert scenario.state() is InstanceState.FAILED
    assert live_at_state(scenario, "review") is TokenState.ABORTED
    retried = scenario.send(RetryIncident(1))
    assert scenario.state() is InstanceState.STARTED
    assert live_at(scenario.instance, "review").status is NodeStatus.ARRIVED
    # The async task runs again: a new wait, a new job.
    [wait] = [w for w in scenario.instance.waits if w.kind is WaitKind.TASK]
    assert wait.id != wait_id
    assert [s.wait_id for s in scheduled(retried)] == [wait.id]
    scenario.complete_job("job")
    scenario.act("review", "ok")
    assert scenario.state() is InstanceState.FAILED  # b is still 0
    assert [i.id for i in scenario.instance.incidents] == [1, 2]


def live_at_state(scenario: Scenario, node_id: str) -> TokenState:
    [token] = [t for t in scenario.instance.tokens if t.node_id == node_id]
    return token.state


def test_operations_that_do_not_fit_the_state_are_refused() -> None:
    scenario = started()
    scenario.complete_job("job")
    scenario.act("review", "ok")  # fails at divide
    for event in (Hold(), Unhold()):
        with pytest.raises(InstanceStateConflict) as caught:
            step(scenario.definition, scenario.instance, event, NOW)
        assert caught.value.details == {"state": "FAILED"}
    with pytest.raises(IncidentNotFound):
        step(scenario.definition, scenario.instance, RetryIncident(7), NOW)
    scenario.send(RetryIncident(1, {"b": 1}))
    with pytest.raises(InstanceStateConflict):
        step(scenario.definition, scenario.instance, Terminate(), NOW)
