"""The inclusive gateway in the pure engine: fork on every true condition, join exactly the
tokens that can still arrive. Every step goes through a save and restore (``Scenario``)."""

from __future__ import annotations

from itertools import product

import pytest

from procflow.engine.events import TimerFired
from procflow.model.errors import DefinitionInvalid
from procflow.model.instance import WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import Scenario, audit_types, audits_of, parse

# Three conditional branches and a default one, each a user task, all meeting at one join.
THREE_WAY = """
    name: three_way
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: inclusiveGateway, default: to_fallback}
      - {id: a, type: userTask, actions: [ok]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: c, type: userTask, actions: [ok]}
      - {id: fallback, type: userTask, actions: [ok]}
      - {id: join, type: inclusiveGateway}
      - {id: after, type: task, rules: [{set: {joined: "true"}}]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a, condition: "input.a"}
      - {from: fork, to: b, condition: "input.b"}
      - {from: fork, to: c, condition: "input.c"}
      - {id: to_fallback, from: fork, to: fallback}
      - {from: a, to: join}
      - {from: b, to: join}
      - {from: c, to: join}
      - {from: fallback, to: join}
      - {from: join, to: after}
      - {from: after, to: done}
"""

SUBSETS = list(product([False, True], repeat=3))


def _chosen(a: bool, b: bool, c: bool) -> list[str]:
    return [name for name, on in zip("abc", (a, b, c), strict=True) if on] or ["fallback"]


@pytest.mark.parametrize(("a", "b", "c"), SUBSETS, ids=lambda v: "T" if v else "F")
def test_the_join_waits_for_exactly_the_branches_taken(a: bool, b: bool, c: bool) -> None:
    scenario = Scenario(parse(THREE_WAY), {"a": a, "b": b, "c": c})
    scenario.start()
    chosen = _chosen(a, b, c)
    assert scenario.waiting() == [(node, NodeStatus.ARRIVED) for node in chosen]
    for done, node in enumerate(chosen, start=1):
        assert scenario.state() is InstanceState.STARTED
        result = scenario.act(node, "ok")
        still = [(n, NodeStatus.ARRIVED) for n in chosen[done:]]
        arrived = [("join", NodeStatus.WAITING_JOIN)] * done
        if still:
            assert scenario.waiting() == sorted(still + arrived)
            assert not audits_of(result, "gateway_joined")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["joined"] is True
    [joined] = audits_of(result, "gateway_joined")
    assert len(joined.details["tokenUuids"]) == len(chosen)


def test_the_fork_records_the_flows_it_took() -> None:
    scenario = Scenario(parse(THREE_WAY), {"a": True, "b": False, "c": True})
    result = scenario.start()
    [decided] = audits_of(result, "gateway_decided")
    targets = {f.id: f.target for f in scenario.definition.flows}
    assert [targets[flow_id] for flow_id in decided.details["flowIds"]] == ["a", "c"]
    [forked] = audits_of(result, "gateway_forked")
    assert len(forked.details["tokenUuids"]) == 2


def test_one_branch_taken_moves_the_same_token_and_the_join_lets_it_through() -> None:
    scenario = Scenario(parse(THREE_WAY), {"a": False, "b": True, "c": False})
    scenario.start()
    token = scenario.instance.tokens[0]
    assert (token.node_id, len(scenario.instance.tokens)) == ("b", 1)
    scenario.act("b", "ok")
    assert scenario.state() is InstanceState.FINISHED
    [only] = scenario.instance.tokens
    assert (only.id, only.node_id, only.state) == (token.id, "done", TokenState.INACTIVE)


def test_all_branches_parent_comes_back_at_the_join() -> None:
    scenario = Scenario(parse(THREE_WAY), {"a": True, "b": True, "c": True})
    scenario.start()
    for node in "cab":
        scenario.act(node, "ok")
    tokens = {t.id: t for t in scenario.instance.tokens}
    assert tokens[1].node_id == "done"
    assert {t.parent_id for t in tokens.values() if t.id != 1} == {1}


NO_DEFAULT = """
    name: no_default
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: inclusiveGateway}
      - {id: a, type: task}
      - {id: b, type: task}
      - {id: join, type: inclusiveGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a, condition: "input.a"}
      - {from: fork, to: b, condition: "input.b == 1"}
      - {from: a, to: join}
      - {from: b, to: join}
      - {from: join, to: done}
"""


def test_no_true_condition_and_no_default_is_an_incident() -> None:
    scenario = Scenario(parse(NO_DEFAULT), {"a": False, "b": 0})
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert (incident.type, incident.node_id) == ("no_branch_taken", "fork")


def test_a_condition_that_is_not_a_bool_is_an_expression_error() -> None:
    scenario = Scenario(parse(NO_DEFAULT), {"a": "yes", "b": 1})
    scenario.start()
    [incident] = scenario.instance.incidents
    assert incident.type == "expression_error"
    assert "not a bool" in incident.message


def test_branches_without_waits_fork_and_join_in_one_step() -> None:
    scenario = Scenario(parse(NO_DEFAULT), {"a": True, "b": 1})
    result = scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    [joined] = audits_of(result, "gateway_joined")
    assert len(joined.details["tokenUuids"]) == 2


def test_a_flow_without_a_condition_is_always_taken() -> None:
    text = NO_DEFAULT.replace('condition: "input.b == 1"', "name: always")
    scenario = Scenario(parse(text), {"a": False})
    result = scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    [decided] = audits_of(result, "gateway_decided")
    assert len(decided.details["flowIds"]) == 1


# An inclusive fork and join inside one branch of a parallel fork; the other branch waits.
NESTED = """
    name: nested
    nodes:
      - {id: begin, type: start}
      - {id: split, type: parallelGateway}
      - {id: fork, type: inclusiveGateway}
      - {id: x, type: userTask, actions: [ok]}
      - {id: y, type: task, rules: [{set: {y: "true"}}]}
      - {id: join, type: inclusiveGateway}
      - {id: z, type: userTask, actions: [ok]}
      - {id: meet, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: split}
      - {from: split, to: fork}
      - {from: split, to: z}
      - {from: fork, to: x, condition: "input.x"}
      - {from: fork, to: y, condition: "input.y"}
      - {from: x, to: join}
      - {from: y, to: join}
      - {from: join, to: meet}
      - {from: z, to: meet}
      - {from: meet, to: done}
"""


def test_nested_join_does_not_wait_for_the_other_parallel_branch() -> None:
    scenario = Scenario(parse(NESTED), {"x": False, "y": True})
    scenario.start()
    # y ran and passed the inner join at once: z cannot reach it, so nothing is awaited.
    assert scenario.waiting() == [("meet", NodeStatus.WAITING_JOIN), ("z", NodeStatus.ARRIVED)]
    scenario.act("z", "ok")
    assert scenario.state() is InstanceState.FINISHED
    tokens = {t.id: t for t in scenario.instance.tokens}
    # The parallel fork's token (1) comes back at meet: its branches 2 and 3 both arrived.
    assert tokens[1].node_id == "done"


def test_nested_join_waits_for_its_own_branch_on_a_user_task() -> None:
    scenario = Scenario(parse(NESTED), {"x": True, "y": True})
    scenario.start()
    assert scenario.waiting() == [
        ("join", NodeStatus.WAITING_JOIN),
        ("x", NodeStatus.ARRIVED),
        ("z", NodeStatus.ARRIVED),
    ]
    scenario.act("z", "ok")
    assert ("join", NodeStatus.WAITING_JOIN) in scenario.waiting()
    scenario.act("x", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert {t.state for t in scenario.instance.tokens} == {TokenState.INACTIVE}


# Branch a may go round its user task again before it reaches the join.
LOOP_BEFORE_JOIN = """
    name: loop_before_join
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: inclusiveGateway}
      - {id: a, type: userTask, actions: [ok]}
      - {id: again, type: exclusiveGateway, default: onward}
      - {id: b, type: task, rules: [{set: {b: "true"}}]}
      - {id: join, type: inclusiveGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a, condition: "true"}
      - {from: fork, to: b, condition: "true"}
      - {from: a, to: again}
      - {from: again, to: a, condition: "input.repeat"}
      - {id: onward, from: again, to: join}
      - {from: b, to: join}
      - {from: join, to: done}
"""


def test_a_branch_that_loops_back_before_the_join_is_still_awaited() -> None:
    scenario = Scenario(parse(LOOP_BEFORE_JOIN))
    scenario.start()
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED), ("join", NodeStatus.WAITING_JOIN)]
    scenario.act("a", "ok", {"repeat": True})
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED), ("join", NodeStatus.WAITING_JOIN)]
    scenario.act("a", "ok", {"repeat": False})
    assert scenario.state() is InstanceState.FINISHED


# After the join, the process may go round the whole fork again.
LOOP_AFTER_JOIN = """
    name: loop_after_join
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: inclusiveGateway}
      - {id: a, type: userTask, actions: [ok]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: join, type: inclusiveGateway}
      - {id: count, type: task, rules: [{set: {rounds: "input.rounds + 1"}}]}
      - {id: more, type: exclusiveGateway, default: stop}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a, condition: "true"}
      - {from: fork, to: b, condition: "input.rounds == 0"}
      - {from: a, to: join}
      - {from: b, to: join}
      - {from: join, to: count}
      - {from: count, to: more}
      - {from: more, to: fork, condition: "input.rounds < 2"}
      - {id: stop, from: more, to: done}
"""


def test_a_loop_back_to_the_fork_joins_again_with_the_branches_of_that_round() -> None:
    scenario = Scenario(parse(LOOP_AFTER_JOIN), {"rounds": 0})
    scenario.start()
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED), ("b", NodeStatus.ARRIVED)]
    scenario.act("b", "ok")
    scenario.act("a", "ok")
    # Round two takes a only: the join lets it through alone.
    assert scenario.data["rounds"] == 1
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED)]
    scenario.act("a", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["rounds"] == 2


# Branch b can reach the join or leave for an end event of its own.
MAY_END_ELSEWHERE = """
    name: may_end_elsewhere
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: inclusiveGateway}
      - {id: a, type: task, rules: [{set: {a: "true"}}]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: late, type: boundaryTimer, attachedTo: b, timer: {duration: PT1H}}
      - {id: route, type: exclusiveGateway, default: to_join}
      - {id: join, type: inclusiveGateway}
      - {id: done, type: end}
      - {id: b_gave_up, type: end}
      - {id: b_timed_out, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: a, condition: "true"}
      - {from: fork, to: b, condition: "true"}
      - {from: b, to: route}
      - {from: route, to: b_gave_up, condition: "input.give_up"}
      - {id: to_join, from: route, to: join}
      - {from: late, to: b_timed_out}
      - {from: a, to: join}
      - {from: join, to: done}
"""


def test_a_token_that_ends_elsewhere_releases_the_join() -> None:
    scenario = Scenario(parse(MAY_END_ELSEWHERE))
    scenario.start()
    assert scenario.waiting() == [("b", NodeStatus.ARRIVED), ("join", NodeStatus.WAITING_JOIN)]
    result = scenario.act("b", "ok", {"give_up": True})
    assert scenario.state() is InstanceState.FINISHED
    [joined] = audits_of(result, "gateway_joined")
    assert len(joined.details["tokenUuids"]) == 1
    assert {t.node_id for t in scenario.instance.tokens if t.parent_id} == {"done", "b_gave_up"}


def test_a_token_that_reaches_the_join_after_all_is_joined() -> None:
    scenario = Scenario(parse(MAY_END_ELSEWHERE))
    scenario.start()
    result = scenario.act("b", "ok", {"give_up": False})
    assert scenario.state() is InstanceState.FINISHED
    [joined] = audits_of(result, "gateway_joined")
    assert len(joined.details["tokenUuids"]) == 2


def test_an_interrupting_boundary_that_leads_away_releases_the_join() -> None:
    scenario = Scenario(parse(MAY_END_ELSEWHERE))
    scenario.start()
    [timer] = [w for w in scenario.instance.waits if w.kind is WaitKind.TIMER]
    scenario.send(TimerFired(timer.id))
    assert scenario.state() is InstanceState.FINISHED
    assert {t.node_id for t in scenario.instance.tokens if t.parent_id} == {"done", "b_timed_out"}


def test_terminate_while_a_token_waits_at_the_join() -> None:
    scenario = Scenario(parse(MAY_END_ELSEWHERE))
    scenario.start()
    scenario.terminate()
    assert scenario.state() is InstanceState.TERMINATED
    assert scenario.instance.live_tokens == ()


def test_a_default_flow_that_does_not_leave_the_gateway_is_refused() -> None:
    text = THREE_WAY.replace("default: to_fallback", "default: Flow_a_join")
    with pytest.raises(DefinitionInvalid) as caught:
        parse(text)
    [problem] = caught.value.problems
    assert (problem.element_id, problem.message) == (
        "fork",
        "default flow 'Flow_a_join' does not leave this gateway",
    )


def test_the_join_knows_which_nodes_can_still_reach_it() -> None:
    definition = parse(MAY_END_ELSEWHERE)
    # b and its boundary timer's activity can reach the join; b_timed_out's path cannot.
    assert definition.upstream_of("join") == {"begin", "fork", "a", "b", "route"}
    assert definition.inclusive_joins == ("join",)
    assert definition.upstream_of("fork") == frozenset()  # one incoming flow: not a join


SCOPED = """
    name: scoped_inclusive
    nodes:
      - {id: begin, type: start}
      - id: each
        type: subProcess
        multiInstance: {collection: input.items, elementVariable: item}
        nodes:
          - {id: inner, type: start}
          - {id: split, type: inclusiveGateway}
          - {id: review, type: userTask, actions: [ok]}
          - {id: note, type: task}
          - {id: merge, type: inclusiveGateway}
          - {id: innerEnd, type: end}
        flows:
          - {from: inner, to: split}
          - {from: split, to: review, condition: input.item.a}
          - {from: split, to: note, condition: input.item.b}
          - {from: review, to: merge, action: ok}
          - {from: note, to: merge}
          - {from: merge, to: innerEnd}
      - {id: done, type: end}
    flows:
      - {from: begin, to: each}
      - {from: each, to: done}
"""


def test_an_inclusive_join_in_a_multi_instance_subprocess_waits_only_for_its_own_instance() -> None:
    # The second instance takes only the task branch; the first one's review token can
    # reach the join too, but it runs in another instance's scope and must not hold it.
    items = [{"a": True, "b": True}, {"a": False, "b": True}]
    scenario = Scenario(parse(SCOPED), {"items": items})
    scenario.start()
    assert scenario.state() is InstanceState.STARTED
    joined = [t for t in scenario.instance.tokens if t.node_id == "merge"]
    assert [t.status for t in joined] == [NodeStatus.WAITING_JOIN]  # the first instance's
    completed = [
        e for e in audit_types(scenario.results[-1]) if e == "multi_instance_instance_completed"
    ]
    assert len(completed) == 1
    scenario.act("review", "ok")
    assert scenario.state() is InstanceState.FINISHED
