"""Embedded subprocesses in the pure engine, with save/restore between steps (``Scenario``):
a scope of the same instance whose token waits (EXECUTING) while its content runs."""

from __future__ import annotations

import pytest

from procflow.engine.events import BpmnErrorThrown, MessageCorrelated, Start, TimerFired
from procflow.engine.step import step
from procflow.model.errors import DefinitionInvalid, StartNodeNotFound
from procflow.model.instance import ProcessInstance, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import NOW, Scenario, audit_types, live_at, new_instance, parse

EXECUTING, ARRIVED = NodeStatus.EXECUTING, NodeStatus.ARRIVED

REVIEW = """
    name: review
    nodes:
      - {id: begin, type: start}
      - id: review
        type: subProcess
        nodes:
          - {id: inner, type: start}
          - {id: check, type: userTask, actions: [ok]}
          - {id: innerEnd, type: end}
        flows:
          - {from: inner, to: check}
          - {from: check, to: innerEnd}
      - {id: after, type: userTask, actions: [close]}
      - {id: done, type: end}
      - {id: tooSlow, type: boundaryTimer, attachedTo: review, timer: {duration: PT1H}}
      - {id: reminder, type: boundaryTimer, attachedTo: review, interrupting: false,
         timer: {duration: PT10M}}
      - {id: nudged, type: task, rules: [{set: {nudged: "true"}}]}
      - {id: nudgeEnd, type: end}
      - {id: cancelled, type: boundaryMessage, attachedTo: review, message: {name: cancel}}
      - {id: late, type: end}
      - {id: stopped, type: end}
    flows:
      - {from: begin, to: review}
      - {from: review, to: after}
      - {from: after, to: done}
      - {from: tooSlow, to: late}
      - {from: reminder, to: nudged}
      - {from: nudged, to: nudgeEnd}
      - {from: cancelled, to: stopped}
"""


def wait_of(instance: ProcessInstance, node_id: str, kind: WaitKind) -> str:
    [wait] = [w for w in instance.waits if w.node_id == node_id and w.kind is kind]
    return wait.id


def test_a_user_task_inside_waits_and_the_subprocess_leaves_when_it_is_done() -> None:
    scenario = Scenario(parse(REVIEW))
    scenario.start()
    assert scenario.waiting() == [("check", ARRIVED), ("review", EXECUTING)]
    check = live_at(scenario.instance, "check")
    assert check.scope_id == live_at(scenario.instance, "review").id
    result = scenario.act("check", "ok", {"verdict": "fine"})
    assert scenario.waiting() == [("after", ARRIVED)]
    assert "subprocess_completed" in audit_types(result)
    # Leaving, the subprocess's boundary timers and subscription went with it.
    assert scenario.instance.waits == ()
    scenario.act("after", "close")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data == {"verdict": "fine"}


def test_an_interrupting_timer_on_the_subprocess_cancels_everything_inside() -> None:
    scenario = Scenario(parse(REVIEW))
    scenario.start()
    scenario.send(TimerFired(wait_of(scenario.instance, "tooSlow", WaitKind.TIMER)))
    assert scenario.state() is InstanceState.FINISHED
    states = {t.node_id: t.state for t in scenario.instance.tokens}
    assert states["check"] is TokenState.TERMINATED
    assert scenario.instance.waits == ()


def test_an_interrupting_message_on_the_subprocess_cancels_everything_inside() -> None:
    scenario = Scenario(parse(REVIEW))
    scenario.start()
    wait = wait_of(scenario.instance, "cancelled", WaitKind.MESSAGE)
    scenario.send(MessageCorrelated(wait, "cancel", {"why": "withdrawn"}))
    assert scenario.state() is InstanceState.FINISHED
    assert {t.node_id: t.state for t in scenario.instance.tokens}["check"] is (
        TokenState.TERMINATED
    )
    assert scenario.data == {"why": "withdrawn"}


def test_a_non_interrupting_timer_leaves_the_subprocess_running() -> None:
    scenario = Scenario(parse(REVIEW))
    scenario.start()
    scenario.send(TimerFired(wait_of(scenario.instance, "reminder", WaitKind.TIMER)))
    assert scenario.data == {"nudged": True}
    assert scenario.waiting() == [("check", ARRIVED), ("review", EXECUTING)]
    scenario.act("check", "ok")
    scenario.act("after", "close")
    assert scenario.state() is InstanceState.FINISHED


NESTED = """
    name: nested
    nodes:
      - {id: begin, type: start}
      - id: outer
        type: subProcess
        nodes:
          - {id: outerStart, type: start}
          - {id: fork, type: parallelGateway}
          - id: inner
            type: subProcess
            nodes:
              - {id: innerStart, type: start}
              - {id: deep, type: userTask, actions: [ok]}
              - {id: innerEnd, type: end}
            flows:
              - {from: innerStart, to: deep}
              - {from: deep, to: innerEnd}
          - {id: side, type: userTask, actions: [ok]}
          - {id: join, type: parallelGateway}
          - {id: outerEnd, type: end}
        flows:
          - {from: outerStart, to: fork}
          - {from: fork, to: inner}
          - {from: fork, to: side}
          - {from: inner, to: join}
          - {from: side, to: join}
          - {from: join, to: outerEnd}
      - {id: done, type: end}
    flows:
      - {from: begin, to: outer}
      - {from: outer, to: done}
"""


def test_nested_subprocesses_with_parallel_branches_inside() -> None:
    scenario = Scenario(parse(NESTED))
    scenario.start()
    assert scenario.waiting() == [
        ("deep", ARRIVED), ("inner", EXECUTING), ("outer", EXECUTING), ("side", ARRIVED),
    ]  # fmt: skip
    scenario.act("deep", "ok")
    assert scenario.waiting() == [("join", NodeStatus.WAITING_JOIN), ("outer", EXECUTING),
                                  ("side", ARRIVED)]  # fmt: skip
    scenario.act("side", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert all(t.state is TokenState.INACTIVE for t in scenario.instance.tokens)


ERRORS = """
    name: errors
    nodes:
      - {id: begin, type: start}
      - id: outer
        type: subProcess
        nodes:
          - {id: outerStart, type: start}
          - id: inner
            type: subProcess
            nodes:
              - {id: innerStart, type: start}
              - {id: pick, type: exclusiveGateway, default: toCharge}
              - {id: charge, type: task, topic: payments}
              - {id: ok, type: end}
              - {id: fail, type: end, errorCode: BROKEN}
              - {id: quit, type: end, errorCode: QUIT}
            flows:
              - {from: innerStart, to: pick}
              - {id: toCharge, from: pick, to: charge}
              - {from: pick, to: fail, condition: "input.way == 'broken'"}
              - {from: pick, to: quit, condition: "input.way == 'quit'"}
              - {from: charge, to: ok}
          - {id: outerEnd, type: end}
          - {id: caughtInside, type: boundaryError, attachedTo: inner, errorCode: BROKEN,
             errorVariable: caught}
          - {id: repaired, type: end}
        flows:
          - {from: outerStart, to: inner}
          - {from: inner, to: outerEnd}
          - {from: caughtInside, to: repaired}
      - {id: done, type: end}
      - {id: caughtOutside, type: boundaryError, attachedTo: outer}
      - {id: gaveUp, type: end}
    flows:
      - {from: begin, to: outer}
      - {from: outer, to: done}
      - {from: caughtOutside, to: gaveUp}
"""


def ended_at(scenario: Scenario) -> set[str]:
    return {t.node_id for t in scenario.instance.tokens if t.status is
            NodeStatus.EXECUTED_COMPLETE and t.state is TokenState.INACTIVE}  # fmt: skip


def test_an_error_end_event_is_caught_by_its_subprocess_boundary() -> None:
    scenario = Scenario(parse(ERRORS), {"way": "broken"})
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["caught"]["errorCode"] == "BROKEN"
    assert {"repaired", "outerEnd", "done"} & ended_at(scenario) == {"repaired", "done"}


def test_an_error_end_event_is_caught_one_level_out() -> None:
    scenario = Scenario(parse(ERRORS), {"way": "quit"})
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert {"gaveUp", "done", "repaired"} & ended_at(scenario) == {"gaveUp"}
    assert "caught" not in scenario.data


def test_a_worker_error_inside_is_thrown_outwards_through_the_scopes() -> None:
    scenario = Scenario(parse(ERRORS), {"way": "pay"})
    scenario.start()
    wait = wait_of(scenario.instance, "charge", WaitKind.EXTERNAL)
    scenario.send(BpmnErrorThrown(wait, "BROKEN", "card declined"))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["caught"] == {"errorCode": "BROKEN", "errorMessage": "card declined"}
    assert "repaired" in ended_at(scenario)


def test_an_uncaught_error_inside_fails_the_instance() -> None:
    text = ERRORS.replace(
        "      - {id: caughtOutside, type: boundaryError, attachedTo: outer}\n", ""
    ).replace("      - {from: caughtOutside, to: gaveUp}\n", "")
    text = text.replace("      - {id: gaveUp, type: end}\n", "")
    scenario = Scenario(parse(text), {"way": "quit"})
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    assert scenario.instance.incidents[0].type == "unhandled_error"


TERMINATE = """
    name: terminate
    nodes:
      - {id: begin, type: start}
      - id: sub
        type: subProcess
        nodes:
          - {id: subStart, type: start}
          - {id: fork, type: parallelGateway}
          - {id: waitHere, type: userTask, actions: [ok]}
          - {id: stopAll, type: end, terminate: true}
        flows:
          - {from: subStart, to: fork}
          - {from: fork, to: waitHere}
          - {from: fork, to: stopAll}
          - {from: waitHere, to: stopAll}
      - {id: after, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: sub}
      - {from: sub, to: after}
      - {from: after, to: done}
"""


def test_a_terminate_end_event_inside_ends_that_subprocess_only() -> None:
    scenario = Scenario(parse(TERMINATE))
    scenario.start()
    assert scenario.state() is InstanceState.STARTED
    assert scenario.waiting() == [("after", ARRIVED)]
    assert {t.node_id: t.state for t in scenario.instance.tokens}["waitHere"] is (
        TokenState.TERMINATED
    )


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ("[{id: task, type: task}, {id: end2, type: end}]", "a subprocess needs a start event"),
        ("[{id: s1, type: start}, {id: s2, type: start}, {id: end2, type: end}]",
         "a subprocess takes one start event"),
        ("[{id: s1, type: start, timer: {date: '2030-01-01T00:00:00Z'}}, {id: end2, type: end}]",
         "event subprocesses are not supported yet"),
    ],
)  # fmt: skip
def test_a_subprocess_without_one_plain_start_event_is_refused(inner: str, message: str) -> None:
    text = f"""
        name: bad
        nodes:
          - {{id: begin, type: start}}
          - {{id: sub, type: subProcess, nodes: {inner}, flows: []}}
          - {{id: done, type: end}}
        flows:
          - {{from: begin, to: sub}}
          - {{from: sub, to: done}}
    """
    with pytest.raises(DefinitionInvalid) as caught:
        parse(text)
    assert any(message in problem.message for problem in caught.value.problems), caught.value


def test_a_flow_across_a_subprocess_boundary_is_refused() -> None:
    text = """
        name: bad
        nodes:
          - {id: begin, type: start}
          - id: sub
            type: subProcess
            nodes: [{id: s1, type: start}, {id: inside, type: end}]
            flows: [{from: s1, to: outside}]
          - {id: outside, type: end}
        flows:
          - {from: begin, to: sub}
          - {from: sub, to: inside}
    """
    with pytest.raises(DefinitionInvalid) as caught:
        parse(text)
    assert sum("crosses a subprocess boundary" in p.message for p in caught.value.problems) == 2


def test_a_downstream_start_cannot_put_a_token_inside_a_subprocess() -> None:
    definition = parse(REVIEW)
    with pytest.raises(StartNodeNotFound):
        step(definition, new_instance(), Start("check", downstream=True), NOW)
    result = step(definition, new_instance(), Start("review", downstream=True), NOW)
    assert sorted(t.node_id for t in result.instance.live_tokens) == ["check", "review"]
