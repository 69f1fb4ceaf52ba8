from __future__ import annotations

from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import Scenario, audit_types, audits_of, parse

TWO = """
    name: two_branches
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: left, type: task, rules: [{set: {left: "'done'"}}]}
      - {id: right, type: task, rules: [{set: {right: "'done'"}}]}
      - {id: join, type: parallelGateway}
      - {id: after, type: task, rules: [{set: {both: "input.left + input.right"}}]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: left}
      - {from: fork, to: right}
      - {from: left, to: join}
      - {from: right, to: join}
      - {from: join, to: after}
      - {from: after, to: done}
"""

THREE_WITH_WAITS = """
    name: three_branches
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: a, type: userTask, actions: [ok]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: c, type: task, rules: [{set: {c: "1"}}]}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a}
      - {from: fork, to: b}
      - {from: fork, to: c}
      - {from: a, to: join}
      - {from: b, to: join}
      - {from: c, to: join}
      - {from: join, to: done}
"""

NESTED = """
    name: nested
    nodes:
      - {id: begin, type: start}
      - {id: outer_fork, type: parallelGateway}
      - {id: inner_fork, type: parallelGateway}
      - {id: x, type: userTask, actions: [ok]}
      - {id: y, type: task, rules: [{set: {y: "true"}}]}
      - {id: inner_join, type: parallelGateway}
      - {id: z, type: userTask, actions: [ok]}
      - {id: outer_join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: outer_fork}
      - {from: outer_fork, to: inner_fork}
      - {from: outer_fork, to: z}
      - {from: inner_fork, to: x}
      - {from: inner_fork, to: y}
      - {from: x, to: inner_join}
      - {from: y, to: inner_join}
      - {from: inner_join, to: outer_join}
      - {from: z, to: outer_join}
      - {from: outer_join, to: done}
"""


def test_two_branches_fork_and_join_in_one_step() -> None:
    scenario = Scenario(parse(TWO))
    result = scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data == {"left": "done", "right": "done", "both": "donedone"}
    tokens = {t.id: t for t in scenario.instance.tokens}
    assert set(tokens) == {1, 2, 3}
    assert tokens[2].parent_id == tokens[3].parent_id == 1
    assert {t.state for t in tokens.values()} == {TokenState.INACTIVE}
    assert tokens[1].node_id == "done"  # the parent came back at the join and went on
    assert audit_types(result) == [
        "instance_started",
        "gateway_forked",
        "task_executed",
        "task_executed",
        "gateway_joined",
        "task_executed",
        "token_completed",
        "instance_finished",
    ]
    [forked] = audits_of(result, "gateway_forked")
    assert forked.details == {"tokenUuids": [str(tokens[2].uuid), str(tokens[3].uuid)]}


def test_branches_run_in_token_order() -> None:
    result = Scenario(parse(TWO)).start()
    executed = [e.node_id for e in audits_of(result, "task_executed")]
    assert executed == ["left", "right", "after"]


def test_join_waits_for_every_branch_across_steps() -> None:
    scenario = Scenario(parse(THREE_WITH_WAITS))
    scenario.start()
    assert scenario.waiting() == [
        ("a", NodeStatus.ARRIVED),
        ("b", NodeStatus.ARRIVED),
        ("join", NodeStatus.WAITING_JOIN),
    ]
    scenario.act("b", "ok")
    assert scenario.waiting() == [
        ("a", NodeStatus.ARRIVED),
        ("join", NodeStatus.WAITING_JOIN),
        ("join", NodeStatus.WAITING_JOIN),
    ]
    assert scenario.state() is InstanceState.STARTED
    result = scenario.act("a", "ok")
    assert scenario.state() is InstanceState.FINISHED
    [joined] = audits_of(result, "gateway_joined")
    assert joined.token_uuid == scenario.instance.tokens[0].uuid
    assert len(joined.details["tokenUuids"]) == 3
    assert scenario.instance.next_token_id == 5


def test_nested_fork_inside_a_branch() -> None:
    scenario = Scenario(parse(NESTED))
    scenario.start()
    # 1 forks into 2 (inner_fork) and 3 (z); 2 forks into 4 (x) and 5 (y).
    assert scenario.waiting() == [
        ("inner_join", NodeStatus.WAITING_JOIN),
        ("x", NodeStatus.ARRIVED),
        ("z", NodeStatus.ARRIVED),
    ]
    scenario.act("x", "ok")
    tokens = {t.id: t for t in scenario.instance.tokens}
    # The inner branches' parent (2) came back at inner_join and now waits at outer_join.
    assert (tokens[2].node_id, tokens[2].status) == ("outer_join", NodeStatus.WAITING_JOIN)
    assert tokens[2].state is TokenState.ACTIVE
    scenario.act("z", "ok")
    assert scenario.state() is InstanceState.FINISHED
    tokens = {t.id: t for t in scenario.instance.tokens}
    assert tokens[1].node_id == "done"
    assert scenario.instance.next_token_id == 6
    assert {t.state for t in tokens.values()} == {TokenState.INACTIVE}


def test_branches_without_a_common_parent_join_into_a_new_token() -> None:
    text = """
    name: uneven
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: split_again, type: parallelGateway}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: split_again}
      - {from: fork, to: join}
      - {from: split_again, to: join}
      - {id: second, from: split_again, to: join, name: again}
      - {from: join, to: done}
    """
    scenario = Scenario(parse(text))
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    tokens = {t.id: t for t in scenario.instance.tokens}
    # 1 -> 2 (split_again), 3 (join); 2 -> 4, 5; join gets 3, 4, 5 (parents 1, 2, 2).
    assert tokens[6].node_id == "done"
    assert tokens[6].parent_id is None
    assert tokens[1].node_id == "fork"


def test_a_gateway_that_joins_and_forks() -> None:
    text = """
    name: join_and_fork
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: a, type: userTask, actions: [ok]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: both, type: parallelGateway}
      - {id: c, type: userTask, actions: [ok]}
      - {id: d, type: userTask, actions: [ok]}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a}
      - {from: fork, to: b}
      - {from: a, to: both}
      - {from: b, to: both}
      - {from: both, to: c}
      - {from: both, to: d}
      - {from: c, to: join}
      - {from: d, to: join}
      - {from: join, to: done}
    """
    scenario = Scenario(parse(text))
    scenario.start()
    scenario.act("a", "ok")
    scenario.act("b", "ok")
    assert scenario.waiting() == [("c", NodeStatus.ARRIVED), ("d", NodeStatus.ARRIVED)]
    parents = {t.parent_id for t in scenario.instance.live_tokens}
    assert parents == {1}  # token 1 came back at "both" and forked again
    scenario.act("d", "ok")
    scenario.act("c", "ok")
    assert scenario.state() is InstanceState.FINISHED
