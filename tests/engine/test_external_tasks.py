"""External tasks, BPMN errors and terminate end events in the pure engine, with
save/restore between steps (``Scenario``)."""

from __future__ import annotations

import pytest

from procflow.engine.events import (
    BpmnErrorThrown,
    CancelWaits,
    ExternalTaskCompleted,
    ExternalTaskFailed,
    Hold,
    OpenExternalTask,
    RetryExternalTask,
    RetryIncident,
    TimerFired,
)
from procflow.model.errors import DefinitionInvalid, InstanceNotRunning, WaitNotFound
from procflow.model.instance import WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import Scenario, audit_types, parse

CHARGE = """
    name: charge
    nodes:
      - {id: begin, type: start}
      - {id: pay, type: task, topic: payments, retries: 2}
      - {id: done, type: end}
      - {id: declined, type: boundaryError, attachedTo: pay, errorCode: DECLINED,
         errorVariable: failure}
      - {id: anyError, type: boundaryError, attachedTo: pay}
      - {id: tooSlow, type: boundaryTimer, attachedTo: pay, timer: {duration: PT1H}}
      - {id: refused, type: end}
      - {id: broken, type: end}
      - {id: late, type: end}
    flows:
      - {from: begin, to: pay}
      - {from: pay, to: done}
      - {from: declined, to: refused}
      - {from: anyError, to: broken}
      - {from: tooSlow, to: late}
"""


def external_wait(scenario: Scenario) -> str:
    [wait] = [w for w in scenario.instance.waits if w.kind is WaitKind.EXTERNAL]
    return wait.id


def opened(scenario: Scenario) -> list[OpenExternalTask]:
    return [e for e in scenario.results[-1].effects if isinstance(e, OpenExternalTask)]


def cancelled(scenario: Scenario) -> set[str]:
    effects = scenario.results[-1].effects
    return {w for e in effects if isinstance(e, CancelWaits) for w in e.wait_ids}


def started() -> Scenario:
    scenario = Scenario(parse(CHARGE), {"amount": 10})
    scenario.start()
    return scenario


def test_a_token_at_an_external_task_waits_executing_and_opens_one_task() -> None:
    scenario = started()
    assert scenario.waiting() == [("pay", NodeStatus.EXECUTING)]
    [task] = opened(scenario)
    assert (task.topic, task.retries, task.node_id) == ("payments", 2, "pay")
    assert task.wait_id == external_wait(scenario)
    assert "external_task_created" in audit_types(scenario.results[-1])


def test_completing_merges_the_data_and_moves_on_cancelling_the_boundary_timer() -> None:
    scenario = started()
    wait_id = external_wait(scenario)
    [timer] = [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]
    scenario.send(ExternalTaskCompleted(wait_id, {"receipt": "r-1", "amount": None}, "w1"))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data == {"receipt": "r-1"}
    assert {wait_id, timer.id} <= cancelled(scenario)
    with pytest.raises(InstanceNotRunning):
        scenario.send(ExternalTaskCompleted(wait_id, {}, "w1"))


def test_a_completion_for_a_wait_that_is_gone_is_refused() -> None:
    scenario = started()
    with pytest.raises(WaitNotFound):
        scenario.send(ExternalTaskCompleted("w999", {}, "w1"))


def test_failure_without_retries_is_an_incident_and_its_retry_reopens_the_same_task() -> None:
    scenario = started()
    wait_id = external_wait(scenario)
    scenario.send(ExternalTaskFailed(wait_id, "card service down", "w1"))
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert (incident.type, incident.message, incident.node_id) == (
        "external_task_failed",
        "card service down",
        "pay",
    )
    assert external_wait(scenario) == wait_id  # the wait (and its row) stay for the retry
    scenario.send(RetryIncident(incident.id, {"amount": 11}, by="ops"))
    assert scenario.state() is InstanceState.STARTED
    assert scenario.waiting() == [("pay", NodeStatus.EXECUTING)]
    assert [e for e in scenario.results[-1].effects if isinstance(e, RetryExternalTask)] == [
        RetryExternalTask(wait_id, retries=1)
    ]
    scenario.send(ExternalTaskCompleted(wait_id, {}, "w2"))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data == {"amount": 11}


def test_a_bpmn_error_with_a_code_is_caught_by_its_boundary_with_the_error_in_the_data() -> None:
    scenario = started()
    wait_id = external_wait(scenario)
    scenario.send(BpmnErrorThrown(wait_id, "DECLINED", "insufficient funds", {"tried": 1}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["failure"] == {
        "errorCode": "DECLINED",
        "errorMessage": "insufficient funds",
    }
    assert scenario.data["tried"] == 1
    completed_at = {t.node_id for t in scenario.instance.tokens if t.state is TokenState.INACTIVE}
    assert completed_at == {"refused"}
    assert wait_id in cancelled(scenario)


def test_another_code_is_caught_by_the_catch_all_boundary() -> None:
    scenario = started()
    scenario.send(BpmnErrorThrown(external_wait(scenario), "FRAUD"))
    assert [t.node_id for t in scenario.instance.tokens] == ["broken"]
    assert "failure" not in scenario.data


def test_a_bpmn_error_nobody_catches_is_an_unhandled_error_incident() -> None:
    definition = parse(
        """
        name: bare
        nodes:
          - {id: begin, type: start}
          - {id: call, type: task, topic: t}
          - {id: done, type: end}
        flows:
          - {from: begin, to: call}
          - {from: call, to: done}
        """
    )
    scenario = Scenario(definition)
    scenario.start()
    scenario.send(BpmnErrorThrown(external_wait(scenario), "OOPS", "bad"))
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert incident.type == "unhandled_error"
    assert "'OOPS'" in incident.message and incident.node_id == "call"


def test_the_boundary_timer_of_an_external_task_cancels_the_task() -> None:
    scenario = started()
    wait_id = external_wait(scenario)
    [timer] = [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]
    scenario.send(TimerFired(timer.id))
    assert wait_id in cancelled(scenario)
    assert [t.node_id for t in scenario.instance.tokens] == ["late"]
    with pytest.raises(InstanceNotRunning):
        scenario.send(ExternalTaskCompleted(wait_id, {}, "w1"))


def test_a_held_instance_refuses_answers() -> None:
    scenario = started()
    scenario.send(Hold())
    with pytest.raises(InstanceNotRunning):
        scenario.send(ExternalTaskCompleted(external_wait(scenario), {}, "w1"))


ENDINGS = """
    name: endings
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: review, type: userTask, actions: [ok]}
      - {id: stop, type: end, terminate: true}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: review}
      - {from: fork, to: stop}
      - {from: review, to: done}
"""


def test_a_terminate_end_event_ends_every_token_and_finishes_the_instance() -> None:
    scenario = Scenario(parse(ENDINGS))
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    states = {t.node_id: t.state for t in scenario.instance.tokens}
    assert states["stop"] is TokenState.INACTIVE
    assert states["review"] is TokenState.TERMINATED
    assert scenario.instance.waits == ()


def test_an_error_end_event_with_no_enclosing_scope_is_an_unhandled_error() -> None:
    definition = parse(
        """
        name: thrower
        nodes:
          - {id: begin, type: start}
          - {id: fail, type: end, errorCode: NOPE}
        flows:
          - {from: begin, to: fail}
        """
    )
    scenario = Scenario(definition)
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert (incident.type, incident.node_id) == ("unhandled_error", "fail")


def test_an_error_boundary_on_a_task_that_cannot_throw_is_refused() -> None:
    with pytest.raises(DefinitionInvalid, match="only be attached to an external task"):
        parse(
            """
            name: wrong
            nodes:
              - {id: begin, type: start}
              - {id: review, type: userTask, actions: [ok]}
              - {id: oops, type: boundaryError, attachedTo: review}
              - {id: done, type: end}
            flows:
              - {from: begin, to: review}
              - {from: review, to: done}
              - {from: oops, to: done}
            """
        )
