"""Call activities in the pure engine, with save/restore between steps (``Scenario``): the
caller's token moves, the child's start effect, and every way a child's end comes back."""

from __future__ import annotations

from uuid import UUID, uuid4

from procflow.engine.calls import (
    CALL_DEPTH_EXCEEDED,
    CHILD_FAILED,
    CHILD_TERMINATED,
    child_uuid,
)
from procflow.engine.errors import UNHANDLED_ERROR
from procflow.engine.events import (
    CancelWaits,
    ChildEnded,
    ChildStartRefused,
    RetryIncident,
    StartChild,
    TimerFired,
)
from procflow.model.instance import WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.call_definitions import FIRE_AND_FORGET
from tests.engine.conftest import Scenario, audit_types, parse

CALLER = """
    name: caller
    nodes:
      - {id: begin, type: start}
      - {id: call, type: callActivity, calledElement: child, paramsToCopy: [customer, order.id],
         withoutParams: [customer.secret]}
      - {id: done, type: end}
      - {id: caught, type: boundaryError, attachedTo: call, errorCode: REJECTED,
         errorVariable: failure}
      - {id: slow, type: boundaryTimer, attachedTo: call, timer: {duration: PT1H}}
      - {id: rejected, type: end}
      - {id: late, type: end}
    flows:
      - {from: begin, to: call}
      - {from: call, to: done}
      - {from: caught, to: rejected}
      - {from: slow, to: late}
"""

DATA = {"customer": {"name": "Ada", "secret": "x"}, "order": {"id": 7, "total": 3}, "other": 1}


def calling() -> Scenario:
    scenario = Scenario(parse(CALLER), DATA)
    scenario.start()
    return scenario


def call_wait(scenario: Scenario) -> str:
    [wait] = [w for w in scenario.instance.waits if w.kind is WaitKind.CALL]
    return wait.id


def the_child(scenario: Scenario) -> UUID:
    return child_uuid(scenario.instance.uuid, call_wait(scenario))


def test_the_token_waits_executing_and_asks_for_a_child_with_narrowed_data() -> None:
    scenario = calling()
    assert scenario.state() is InstanceState.STARTED
    assert scenario.waiting() == [("call", NodeStatus.EXECUTING)]
    [start] = [e for e in scenario.results[-1].effects if isinstance(e, StartChild)]
    assert start.called_element == "child" and start.binding == "build" and not start.is_async
    assert start.data == {"customer": {"name": "Ada"}, "order": {"id": 7}}
    assert start.wait_id == call_wait(scenario)
    assert "call_activity_started" in audit_types(scenario.results[-1])


def test_the_child_uuid_is_derived_from_the_caller_and_the_wait() -> None:
    caller = uuid4()
    assert child_uuid(caller, "w1") == child_uuid(caller, "w1")
    assert child_uuid(caller, "w1") != child_uuid(caller, "w2")
    assert child_uuid(caller, "w1") != child_uuid(uuid4(), "w1")


def test_a_finished_child_merges_its_data_and_the_token_moves_on() -> None:
    scenario = calling()
    child = the_child(scenario)
    result = scenario.send(ChildEnded(child, "finished", {"order": {"total": 9}, "score": 3}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["order"] == {"id": 7, "total": 9} and scenario.data["score"] == 3
    assert scenario.data["other"] == 1
    assert "child_ended" in audit_types(result)
    # The finished child's wait was taken, not cancelled: no child is terminated for it.
    assert not [e for e in result.effects if isinstance(e, CancelWaits) and e.kinds == ("call",)]


def test_output_key_puts_the_child_data_under_one_key() -> None:
    text = CALLER.replace("calledElement: child,", "calledElement: child, outputKey: result.child,")
    scenario = Scenario(parse(text), DATA)
    scenario.start()
    scenario.send(ChildEnded(the_child(scenario), "finished", {"score": 3}))
    assert scenario.data["result"] == {"child": {"score": 3}}
    assert "score" not in scenario.data


def test_an_answer_from_an_unknown_child_changes_nothing() -> None:
    scenario = calling()
    before = scenario.instance
    result = scenario.send(ChildEnded(uuid4(), "finished", {"x": 1}))
    assert not result.changed and scenario.instance == before


def test_a_failed_child_is_an_incident_and_retrying_starts_a_fresh_child() -> None:
    scenario = calling()
    old_wait, old_child = call_wait(scenario), the_child(scenario)
    scenario.send(ChildEnded(old_child, "failed", message="boom"))
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert incident.type == CHILD_FAILED and "boom" in incident.message
    assert incident.node_id == "call"
    result = scenario.send(RetryIncident(incident.id, {"order": {"id": 8}}))
    assert scenario.state() is InstanceState.STARTED
    # The old call wait is cancelled (the runtime terminates that child) and a new one asked.
    cancelled = [e for e in result.effects if isinstance(e, CancelWaits)]
    assert any(old_wait in e.wait_ids and "call" in e.kinds for e in cancelled)
    [start] = [e for e in result.effects if isinstance(e, StartChild)]
    assert start.wait_id != old_wait and start.data["order"] == {"id": 8}
    # The old child's late answer is ignored; the new one's is heard.
    assert not scenario.send(ChildEnded(old_child, "finished", {"late": 1})).changed
    scenario.send(ChildEnded(the_child(scenario), "finished", {"ok": True}))
    assert scenario.state() is InstanceState.FINISHED and scenario.data["ok"] is True


def test_a_terminated_child_is_an_incident_on_the_caller() -> None:
    scenario = calling()
    scenario.send(ChildEnded(the_child(scenario), "terminated"))
    assert scenario.state() is InstanceState.FAILED
    assert scenario.instance.incidents[-1].type == CHILD_TERMINATED


def test_a_child_error_is_caught_by_the_call_activity_error_boundary() -> None:
    scenario = calling()
    result = scenario.send(
        ChildEnded(the_child(scenario), "error", error_code="REJECTED", message="no")
    )
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["failure"] == {"errorCode": "REJECTED", "errorMessage": "no"}
    assert "boundary_event_triggered" in audit_types(result)
    # The boundary's timer went with the token.
    assert not scenario.instance.waits


def test_an_uncaught_child_error_is_the_caller_unhandled_error_with_its_code() -> None:
    scenario = calling()
    scenario.send(ChildEnded(the_child(scenario), "error", error_code="OTHER"))
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert incident.type == UNHANDLED_ERROR and incident.error_code == "OTHER"


def test_an_interrupting_timer_cancels_the_call_wait() -> None:
    scenario = calling()
    wait = call_wait(scenario)
    [timer] = [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]
    result = scenario.send(TimerFired(timer.id))
    assert scenario.state() is InstanceState.FINISHED
    cancelled = [e for e in result.effects if isinstance(e, CancelWaits)]
    assert any(wait in e.wait_ids for e in cancelled)


def test_a_refused_start_is_an_incident_at_the_call_activity() -> None:
    scenario = calling()
    scenario.send(ChildStartRefused(call_wait(scenario), CALL_DEPTH_EXCEEDED, "too deep"))
    assert scenario.state() is InstanceState.FAILED
    incident = scenario.instance.incidents[-1]
    assert incident.type == CALL_DEPTH_EXCEEDED and incident.node_id == "call"
    assert {t.state for t in scenario.instance.tokens} == {TokenState.ABORTED}


def test_terminating_the_caller_cancels_the_call_wait() -> None:
    scenario = calling()
    wait = call_wait(scenario)
    result = scenario.terminate("stop")
    assert scenario.state() is InstanceState.TERMINATED
    cancelled = [e for e in result.effects if isinstance(e, CancelWaits)]
    assert any(wait in e.wait_ids and "call" in e.kinds for e in cancelled)


def test_an_async_call_moves_on_at_once() -> None:
    scenario = Scenario(parse(FIRE_AND_FORGET), {"a": 1})
    result = scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    [start] = [e for e in result.effects if isinstance(e, StartChild)]
    assert start.is_async and start.data == {"a": 1}
    assert not scenario.instance.waits


ASYNC_THEN_WAIT = """
    name: fireThenWait
    nodes:
      - {id: begin, type: start}
      - {id: call, type: callActivity, calledElement: child, async: true}
      - {id: review, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: call}
      - {from: call, to: review}
      - {from: review, to: done}
"""


def test_a_refused_async_start_is_only_recorded() -> None:
    scenario = Scenario(parse(ASYNC_THEN_WAIT))
    start = scenario.start()
    [asked] = [e for e in start.effects if isinstance(e, StartChild)]
    result = scenario.send(ChildStartRefused(asked.wait_id, CALL_DEPTH_EXCEEDED, "too deep"))
    assert scenario.state() is InstanceState.STARTED
    assert audit_types(result) == ["child_start_refused"]


MULTI_CALLER = """
    name: caller
    nodes:
      - {id: begin, type: start}
      - {id: call, type: callActivity, calledElement: child, paramsToCopy: [order, loopCounter],
         multiInstance: {collection: input.orders, elementVariable: order,
                         outputElement: input.checked, outputCollection: results}}
      - {id: done, type: end}
    flows:
      - {from: begin, to: call}
      - {from: call, to: done}
"""


def test_a_parallel_multi_instance_call_starts_one_child_per_element_with_its_element() -> None:
    scenario = Scenario(parse(MULTI_CALLER), {"orders": [{"id": 1}, {"id": 2}, {"id": 3}]})
    scenario.start()
    starts = [e for e in scenario.results[-1].effects if isinstance(e, StartChild)]
    assert [s.data for s in starts] == [{"order": {"id": n}, "loopCounter": n} for n in (1, 2, 3)]
    waits = [w.id for w in scenario.instance.waits if w.kind is WaitKind.CALL]
    children = [child_uuid(scenario.instance.uuid, wait) for wait in waits]
    # The children end in reverse order; the outputs stay in collection order.
    for child, checked in zip(reversed(children), ["c3", "c2", "c1"], strict=True):
        assert scenario.state() is InstanceState.STARTED
        scenario.send(ChildEnded(child, "finished", {"checked": checked}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["results"] == ["c1", "c2", "c3"]
    assert "order" not in scenario.data and "loopCounter" not in scenario.data


def test_a_sequential_multi_instance_call_starts_the_next_child_when_one_finishes() -> None:
    text = MULTI_CALLER.replace(
        "outputCollection: results}",
        "outputCollection: results,\n                         sequential: true}",
    )
    scenario = Scenario(parse(text), {"orders": [{"id": 1}, {"id": 2}]})
    scenario.start()
    for expected in (1, 2):
        [start] = [e for e in scenario.results[-1].effects if isinstance(e, StartChild)]
        assert start.data["order"] == {"id": expected}
        scenario.send(ChildEnded(the_child(scenario), "finished", {"checked": expected}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["results"] == [1, 2]
