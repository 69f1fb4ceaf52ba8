"""BPMN's implicit split: an activity with several outgoing flows leaves by every one that
applies (no condition, or a true one), by its default flow only when none does. Every step
goes through a save and restore (``Scenario``)."""

from __future__ import annotations

import pytest

from procflow.model.bpmn import export_bpmn, parse_bpmn
from procflow.model.errors import DefinitionInvalid
from procflow.model.states import InstanceState, NodeStatus
from tests.engine.conftest import Scenario, audits_of, parse

# A task with two plain flows, joined later by a parallel gateway.
TWO_WAYS = """
    name: two_ways
    nodes:
      - {id: begin, type: start}
      - {id: prepare, type: task, rules: [{set: {prepared: "true"}}]}
      - {id: a, type: userTask, actions: [ok]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: prepare}
      - {from: prepare, to: a}
      - {from: prepare, to: b}
      - {from: a, to: join}
      - {from: b, to: join}
      - {from: join, to: done}
"""


def test_two_plain_flows_out_of_a_task_are_both_taken_and_joined() -> None:
    scenario = Scenario(parse(TWO_WAYS))
    result = scenario.start()
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED), ("b", NodeStatus.ARRIVED)]
    [forked] = audits_of(result, "activity_forked")
    assert forked.node_id == "prepare"
    assert len(forked.details["tokenUuids"]) == 2
    scenario.act("a", "ok")
    assert scenario.state() is InstanceState.STARTED
    scenario.act("b", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["prepared"] is True


CONDITIONAL = """
    name: conditional
    nodes:
      - {id: begin, type: start}
      - {id: check, type: task, default: to_normal}
      - {id: big, type: userTask, actions: [ok]}
      - {id: audit, type: userTask, actions: [ok]}
      - {id: normal, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: check}
      - {from: check, to: big, condition: "input.amount > 1000"}
      - {from: check, to: audit, condition: "input.audit"}
      - {id: to_normal, from: check, to: normal}
      - {from: big, to: done}
      - {from: audit, to: done}
      - {from: normal, to: done}
"""


@pytest.mark.parametrize(
    ("amount", "audit", "expected"),
    [
        (5000, True, ["audit", "big"]),
        (5000, False, ["big"]),
        (10, True, ["audit"]),
        (10, False, ["normal"]),
    ],
)
def test_conditional_flows_and_the_default(amount: int, audit: bool, expected: list[str]) -> None:
    scenario = Scenario(parse(CONDITIONAL), {"amount": amount, "audit": audit})
    result = scenario.start()
    assert scenario.waiting() == [(node, NodeStatus.ARRIVED) for node in expected]
    [split] = audits_of(result, "activity_split")
    targets = {f.id: f.target for f in scenario.definition.flows}
    assert sorted(targets[f] for f in split.details["flowIds"]) == expected
    for node in expected:
        scenario.act(node, "ok")
    assert scenario.state() is InstanceState.FINISHED


def test_no_true_condition_and_no_default_is_an_incident() -> None:
    text = CONDITIONAL.replace(", default: to_normal", "").replace(
        "{id: to_normal, from: check, to: normal}",
        '{id: to_normal, from: check, to: normal, condition: "false"}',
    )
    scenario = Scenario(parse(text), {"amount": 1, "audit": False})
    scenario.start()
    [incident] = scenario.instance.incidents
    assert (incident.type, incident.node_id) == ("no_branch_taken", "check")
    assert "the activity has no default flow" in incident.message


def test_a_single_conditional_flow_out_of_a_task_is_taken_only_when_true() -> None:
    text = """
        name: gated
        nodes:
          - {id: begin, type: start}
          - {id: work, type: task}
          - {id: done, type: end}
        flows:
          - {from: begin, to: work}
          - {from: work, to: done, condition: "input.go"}
    """
    finished = Scenario(parse(text), {"go": True})
    finished.start()
    assert finished.state() is InstanceState.FINISHED
    stuck = Scenario(parse(text), {"go": False})
    stuck.start()
    assert [i.type for i in stuck.instance.incidents] == ["no_branch_taken"]


USER_TASK = """
    name: review
    nodes:
      - {id: begin, type: start}
      - {id: review, type: userTask, actions: [approve, reject], default: to_archive}
      - {id: notify, type: userTask, actions: [ok]}
      - {id: archive, type: userTask, actions: [ok]}
      - {id: rejected, type: end}
      - {id: done, type: end}
    flows:
      - {from: begin, to: review}
      - {from: review, to: rejected, action: reject}
      - {from: review, to: notify, condition: "input.notify"}
      - {id: to_archive, from: review, to: archive}
      - {from: notify, to: done}
      - {from: archive, to: done}
"""


def test_a_user_task_action_without_a_flow_splits_over_the_plain_flows() -> None:
    scenario = Scenario(parse(USER_TASK))
    scenario.start()
    scenario.act("review", "approve", {"notify": True})
    assert scenario.waiting() == [("notify", NodeStatus.ARRIVED)]
    other = Scenario(parse(USER_TASK))
    other.start()
    other.act("review", "approve", {"notify": False})
    assert other.waiting() == [("archive", NodeStatus.ARRIVED)]


def test_a_user_task_action_with_its_own_flow_still_takes_only_that_one() -> None:
    scenario = Scenario(parse(USER_TASK))
    scenario.start()
    scenario.act("review", "reject", {"notify": True})
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.waiting() == []


SUBPROCESS = """
    name: sub_split
    nodes:
      - {id: begin, type: start}
      - id: sub
        type: subProcess
        nodes:
          - {id: inner_start, type: start}
          - {id: inner_end, type: end}
        flows:
          - {from: inner_start, to: inner_end}
      - {id: a, type: userTask, actions: [ok]}
      - {id: b, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: sub}
      - {from: sub, to: a}
      - {from: sub, to: b, condition: "input.both"}
      - {from: a, to: done}
      - {from: b, to: done}
"""


@pytest.mark.parametrize(("both", "expected"), [(True, ["a", "b"]), (False, ["a"])])
def test_a_subprocess_splits_when_it_completes(both: bool, expected: list[str]) -> None:
    scenario = Scenario(parse(SUBPROCESS), {"both": both})
    scenario.start()
    assert scenario.waiting() == [(node, NodeStatus.ARRIVED) for node in expected]
    for node in expected:
        scenario.act(node, "ok")
    assert scenario.state() is InstanceState.FINISHED


def test_a_multi_instance_task_splits_once_after_all_instances() -> None:
    text = TWO_WAYS.replace(
        '{id: prepare, type: task, rules: [{set: {prepared: "true"}}]}',
        '{id: prepare, type: task, multiInstance: {collection: "[1, 2, 3]"}}',
    )
    scenario = Scenario(parse(text))
    result = scenario.start()
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED), ("b", NodeStatus.ARRIVED)]
    assert len(audits_of(result, "activity_forked")) == 1
    assert len(audits_of(result, "multi_instance_completed")) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("default: to_normal", "default: nowhere"), "does not leave this activity"),
        (
            ("{from: big, to: done}", '{from: big, to: done, condition: "true"}'),
            None,  # a condition out of a user task is allowed: it splits
        ),
    ],
)
def test_defaults_are_checked(change: tuple[str, str], message: str | None) -> None:
    text = CONDITIONAL.replace(*change)
    if message is None:
        parse(text)
        return
    with pytest.raises(DefinitionInvalid) as caught:
        parse(text)
    assert message in str(caught.value.problems)


def test_an_action_flow_takes_no_condition_and_is_no_default() -> None:
    text = USER_TASK.replace(
        "{from: review, to: rejected, action: reject}",
        '{id: rej, from: review, to: rejected, action: reject, condition: "true"}',
    ).replace("default: to_archive", "default: rej")
    with pytest.raises(DefinitionInvalid) as caught:
        parse(text)
    messages = " ".join(p.message for p in caught.value.problems)
    assert "a flow chosen by an action takes no condition" in messages
    assert "is chosen by an action" in messages


def test_the_default_of_an_activity_survives_a_bpmn_round_trip() -> None:
    definition = parse(CONDITIONAL)
    xml = export_bpmn(definition)
    assert b'default="to_normal"' in xml
    [process] = parse_bpmn(xml, "conditional.bpmn")
    again = process.definition
    assert again.nodes["check"] == definition.nodes["check"]
    scenario = Scenario(again, {"amount": 10, "audit": False})
    scenario.start()
    assert scenario.waiting() == [("normal", NodeStatus.ARRIVED)]


def test_a_split_ends_the_activity_s_boundary_timer() -> None:
    text = """
        name: watched
        nodes:
          - {id: begin, type: start}
          - {id: review, type: userTask, actions: [ok]}
          - {id: late, type: boundaryTimer, attachedTo: review, timer: {duration: P1D}}
          - {id: a, type: userTask, actions: [ok]}
          - {id: b, type: userTask, actions: [ok]}
          - {id: escalated, type: end}
          - {id: done, type: end}
        flows:
          - {from: begin, to: review}
          - {from: late, to: escalated}
          - {from: review, to: a}
          - {from: review, to: b}
          - {from: a, to: done}
          - {from: b, to: done}
    """
    scenario = Scenario(parse(text))
    scenario.start()
    assert [w.node_id for w in scenario.instance.waits] == ["late"]
    scenario.act("review", "ok")
    assert scenario.waiting() == [("a", NodeStatus.ARRIVED), ("b", NodeStatus.ARRIVED)]
    assert scenario.instance.waits == ()
