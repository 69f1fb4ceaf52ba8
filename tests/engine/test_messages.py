"""Messages in the pure engine: catch events, receive tasks, message boundaries and
event-gateway branches, with save/restore between steps."""

from __future__ import annotations

import pytest

from procflow.engine.events import CancelWaits, MessageCorrelated, Subscribe, TimerFired
from procflow.model.errors import WaitNotFound
from procflow.model.instance import Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus
from tests.engine.conftest import Scenario, parse


def subscriptions(scenario: Scenario) -> list[Subscribe]:
    return [e for e in scenario.results[-1].effects if isinstance(e, Subscribe)]


def message_waits(scenario: Scenario) -> list[Wait]:
    return [w for w in scenario.instance.waits if w.kind is WaitKind.MESSAGE]


def cancelled(scenario: Scenario) -> set[str]:
    effects = scenario.results[-1].effects
    return {w for e in effects if isinstance(e, CancelWaits) for w in e.wait_ids}


def deliver(scenario: Scenario, node_id: str, data: dict[str, object] | None = None) -> None:
    [wait] = [w for w in message_waits(scenario) if w.node_id == node_id]
    scenario.send(MessageCorrelated(wait.id, "m", data or {}))


CATCH = """
    name: catch
    nodes:
      - {id: begin, type: start}
      - {id: paid, type: message, message: {name: paid, correlationKey: "input.order.id"}}
      - {id: confirm, type: receiveTask, message: {name: confirmed}}
      - {id: done, type: end}
      - {id: nudge, type: boundaryTimer, attachedTo: confirm, timer: {duration: PT1H}}
      - {id: late, type: end}
    flows:
      - {from: begin, to: paid}
      - {from: paid, to: confirm}
      - {from: confirm, to: done}
      - {from: nudge, to: late}
"""


def test_a_catch_event_subscribes_with_its_key_and_moves_on_with_the_data() -> None:
    scenario = Scenario(parse(CATCH), {"order": {"id": 42}})
    scenario.start()
    assert scenario.waiting() == [("paid", NodeStatus.WAITING_MESSAGE_EVENT)]
    [subscribe] = subscriptions(scenario)
    assert (subscribe.message_name, subscribe.correlation_key) == ("paid", "42")
    deliver(scenario, "paid", {"amount": 10})
    assert scenario.data["amount"] == 10
    assert scenario.waiting() == [("confirm", NodeStatus.WAITING_MESSAGE)]
    [receive] = subscriptions(scenario)
    assert receive.correlation_key is None
    assert any(w.kind is WaitKind.TIMER for w in scenario.instance.waits)  # its boundary
    deliver(scenario, "confirm")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.waits == ()


def test_a_key_that_cannot_be_computed_is_an_incident_at_the_node() -> None:
    scenario = Scenario(parse(CATCH), {})
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert (incident.type, incident.node_id) == ("expression_error", "paid")
    assert "correlation key" in incident.message


def test_a_delivery_to_a_wait_that_is_gone_is_refused() -> None:
    scenario = Scenario(parse(CATCH), {"order": {"id": 1}})
    scenario.start()
    with pytest.raises(WaitNotFound):
        scenario.send(MessageCorrelated("w99", "paid", {}))


BOUNDARIES = """
    name: boundaries
    nodes:
      - {id: begin, type: start}
      - {id: review, type: userTask, actions: [ok]}
      - {id: cancelled, type: boundaryMessage, attachedTo: review, message: {name: cancel}}
      - {id: noted, type: boundaryMessage, attachedTo: review, interrupting: false,
         message: {name: note}}
      - {id: done, type: end}
      - {id: aborted, type: end}
      - {id: logged, type: end}
    flows:
      - {from: begin, to: review}
      - {from: review, to: done}
      - {from: cancelled, to: aborted}
      - {from: noted, to: logged}
"""


def test_a_non_interrupting_message_boundary_spawns_a_token_and_listens_again() -> None:
    scenario = Scenario(parse(BOUNDARIES))
    scenario.start()
    assert {s.message_name for s in subscriptions(scenario)} == {"cancel", "note"}
    deliver(scenario, "noted", {"note": "hi"})
    assert scenario.waiting() == [("review", NodeStatus.ARRIVED)]
    assert [s.message_name for s in subscriptions(scenario)] == ["note"]
    assert len(message_waits(scenario)) == 2
    assert scenario.data == {"note": "hi"}


def test_an_interrupting_message_boundary_cancels_the_activity_and_its_other_waits() -> None:
    scenario = Scenario(parse(BOUNDARIES))
    scenario.start()
    [noted] = [w.id for w in message_waits(scenario) if w.node_id == "noted"]
    deliver(scenario, "cancelled")
    assert scenario.state() is InstanceState.FINISHED
    assert noted in cancelled(scenario)
    assert scenario.instance.waits == ()


GATEWAY = """
    name: race
    nodes:
      - {id: begin, type: start}
      - {id: which, type: eventGateway}
      - {id: answer, type: message, message: {name: answer}}
      - {id: timeout, type: timer, timer: {duration: P1D}}
      - {id: answered, type: end}
      - {id: expired, type: end}
    flows:
      - {from: begin, to: which}
      - {from: which, to: answer}
      - {from: which, to: timeout}
      - {from: answer, to: answered}
      - {from: timeout, to: expired}
"""


def test_a_message_branch_of_an_event_gateway_wins_and_cancels_the_timer() -> None:
    scenario = Scenario(parse(GATEWAY))
    scenario.start()
    assert scenario.waiting() == [("which", NodeStatus.WAITING_MESSAGE_EVENT)]
    [timer] = [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]
    deliver(scenario, "answer")
    assert [t.node_id for t in scenario.instance.tokens] == ["answered"]
    assert timer.id in cancelled(scenario)


def test_the_timer_branch_wins_and_cancels_the_subscription() -> None:
    scenario = Scenario(parse(GATEWAY))
    scenario.start()
    [subscription] = message_waits(scenario)
    [timer] = [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]
    scenario.send(TimerFired(timer.id))
    assert [t.node_id for t in scenario.instance.tokens] == ["expired"]
    assert subscription.id in cancelled(scenario)
