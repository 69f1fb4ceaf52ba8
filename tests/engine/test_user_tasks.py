from __future__ import annotations

import pytest

from procflow.engine.events import ActionExecuted
from procflow.engine.handlers import action_flow
from procflow.engine.step import step
from procflow.model.definition import Flow
from procflow.model.errors import ActionNotAllowed
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import NOW, Scenario, audit_types, audits_of, live_at, parse

REVIEW = """
    name: review
    nodes:
      - {id: begin, type: start}
      - {id: review, type: userTask, actions: [approve, reject, save]}
      - {id: approved, type: end}
      - {id: rejected, type: end}
    flows:
      - {from: begin, to: review}
      - {from: review, to: approved, action: approve}
      - {from: review, to: rejected, action: reject}
"""

SINGLE_WAY = """
    name: single_way
    nodes:
      - {id: begin, type: start}
      - {id: fill, type: userTask, actions: [submit, save]}
      - {id: check, type: task, rules: [{set: {checked: "input.form.ok"}}]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fill}
      - {from: fill, to: check}
      - {from: check, to: done}
"""


def test_token_waits_at_a_user_task() -> None:
    scenario = Scenario(parse(REVIEW))
    result = scenario.start()
    assert scenario.state() is InstanceState.STARTED
    token = live_at(scenario.instance, "review")
    assert (token.state, token.status) == (TokenState.ACTIVE, NodeStatus.ARRIVED)
    [arrived] = audits_of(result, "token_arrived")
    assert (arrived.node_id, arrived.token_uuid) == ("review", token.uuid)


@pytest.mark.parametrize(("action", "end"), [("approve", "approved"), ("reject", "rejected")])
def test_the_executed_action_picks_the_flow(action: str, end: str) -> None:
    scenario = Scenario(parse(REVIEW), {"keep": 1, "drop": 2})
    scenario.start()
    result = scenario.act("review", action, {"decision": {"by": "ann"}, "drop": None})
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.tokens[0].node_id == end
    assert scenario.data == {"keep": 1, "decision": {"by": "ann"}}  # RFC 7396: null removes
    assert audit_types(result) == [
        "action_executed",
        "token_completed",
        "instance_finished",
    ]
    [executed] = audits_of(result, "action_executed")
    assert executed.details == {"action": action, "bodyKeys": ["decision", "drop"]}
    assert executed.node_id == "review"


def test_an_action_without_a_flow_of_its_own_keeps_the_token_waiting() -> None:
    scenario = Scenario(parse(REVIEW), {"draft": {"a": 1}})
    scenario.start()
    result = scenario.act("review", "save", {"draft": {"b": 2}})
    assert scenario.state() is InstanceState.STARTED
    assert scenario.waiting() == [("review", NodeStatus.ARRIVED)]
    assert scenario.data == {"draft": {"a": 1, "b": 2}}
    assert audit_types(result) == ["action_executed"]
    scenario.act("review", "approve")
    assert scenario.state() is InstanceState.FINISHED


def test_without_action_flows_every_action_takes_the_single_flow() -> None:
    for action in ("submit", "save"):
        scenario = Scenario(parse(SINGLE_WAY))
        scenario.start()
        scenario.act("fill", action, {"form": {"ok": True}})
        assert scenario.state() is InstanceState.FINISHED
        assert scenario.data == {"form": {"ok": True}, "checked": True}


def test_an_action_not_defined_on_the_node_is_refused_with_the_allowed_ones() -> None:
    scenario = Scenario(parse(REVIEW))
    scenario.start()
    token = live_at(scenario.instance, "review")
    with pytest.raises(ActionNotAllowed) as caught:
        step(scenario.definition, scenario.instance, ActionExecuted(token.uuid, "escalate"), NOW)
    assert caught.value.details["allowed"] == ["approve", "reject", "save"]
    assert caught.value.code == "action_not_allowed"


def test_the_token_moves_on_to_the_next_user_task() -> None:
    text = """
    name: two_reviews
    nodes:
      - {id: begin, type: start}
      - {id: first, type: userTask, actions: [next]}
      - {id: second, type: userTask, actions: [next]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: first}
      - {from: first, to: second}
      - {from: second, to: done}
    """
    scenario = Scenario(parse(text))
    scenario.start()
    token = live_at(scenario.instance, "first")
    scenario.act("first", "next")
    # Same token, now waiting at "second": acting on it acts at "second".
    assert live_at(scenario.instance, "second").uuid == token.uuid
    scenario.act("second", "next")
    assert scenario.state() is InstanceState.FINISHED


def test_action_flow_falls_back_to_flows_without_an_action() -> None:
    plain = Flow("plain", "t", "a")
    named = Flow("named", "t", "b", action="go")
    assert action_flow((named, plain), "go") is named
    assert action_flow((named, plain), "other") is plain
    assert action_flow((named,), "other") is None
    assert action_flow((plain,), "anything") is plain
    assert action_flow((), "anything") is None
