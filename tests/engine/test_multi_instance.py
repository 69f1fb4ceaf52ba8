"""Multi-instance activities in the pure engine, with save/restore between steps
(``Scenario``): rules, user tasks, external tasks and subprocesses, parallel and
sequential, over collections of 0, 1 and 100 elements."""

from __future__ import annotations

import pytest

from procflow.engine.events import (
    ActionExecuted,
    BpmnErrorThrown,
    ExternalTaskCompleted,
    Hold,
    RetryIncident,
    TimerFired,
    Unhold,
)
from procflow.model.errors import TokenNotWaiting
from procflow.model.instance import ProcessInstance, Token, WaitKind
from procflow.model.loops import MAX_LOOP_ELEMENTS
from procflow.model.states import InstanceState, NodeStatus, TokenState
from procflow.runtime.flowx_variants import ui_actions
from tests.engine.conftest import Scenario, audit_types, parse


def rules_process(sequential: bool) -> str:
    return f"""
        name: rules
        nodes:
          - {{id: begin, type: start}}
          - id: double
            type: task
            multiInstance:
              collection: input.numbers
              elementVariable: n
              outputElement: "input.n * 2 + input.loopCounter * 1000"
              outputCollection: results.doubled
              sequential: {str(sequential).lower()}
            rules: [{{set: {{lastSeen: input.n}}}}]
          - {{id: done, type: end}}
        flows:
          - {{from: begin, to: double}}
          - {{from: double, to: done}}
    """


@pytest.mark.parametrize("sequential", [False, True])
@pytest.mark.parametrize("size", [0, 1, 100])
def test_rules_run_once_per_element_and_outputs_keep_collection_order(
    sequential: bool, size: int
) -> None:
    numbers = list(range(size))
    scenario = Scenario(parse(rules_process(sequential)), {"numbers": numbers})
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["results"]["doubled"] == [n * 2 + (n + 1) * 1000 for n in numbers]
    # The element is an instance's own: it never reaches the data ...
    assert "n" not in scenario.data and "loopCounter" not in scenario.data
    # ... while what a rule assigns does (the last instance wrote last).
    assert scenario.data.get("lastSeen") == (numbers[-1] if numbers else None)


APPROVALS = """
    name: approvals
    nodes:
      - {id: begin, type: start}
      - id: approve
        type: userTask
        actions: [decide]
        multiInstance:
          collection: input.reviewers
          elementVariable: reviewer
          outputElement: "{'who': input.reviewer, 'ok': input.verdicts[input.reviewer]}"
          outputCollection: decisions
          sequential: SEQUENTIAL
      - {id: done, type: end}
      - {id: tooSlow, type: boundaryTimer, attachedTo: approve, timer: {duration: PT1H}}
      - {id: late, type: end}
    flows:
      - {from: begin, to: approve}
      - {from: approve, to: done}
      - {from: tooSlow, to: late}
"""


def instances_at(instance: ProcessInstance, node_id: str) -> list[Token]:
    return [t for t in instance.live_tokens if t.node_id == node_id and t.locals]


def test_parallel_user_tasks_completed_out_of_order_give_outputs_in_collection_order() -> None:
    reviewers = ["ann", "bob", "cid"]
    scenario = Scenario(parse(APPROVALS.replace("SEQUENTIAL", "false")),
                        {"reviewers": reviewers})  # fmt: skip
    scenario.start()
    instances = instances_at(scenario.instance, "approve")
    assert [t.locals for t in instances] == [
        {"reviewer": r, "loopCounter": i + 1} for i, r in enumerate(reviewers)
    ]
    host = next(t for t in scenario.instance.live_tokens if t.loop is not None)
    assert host.status is NodeStatus.EXECUTING
    # Boundaries belong to the host: one timer for the whole activity.
    assert [w.token_id for w in scenario.instance.waits] == [host.id]
    for token, verdict in zip(reversed(instances), [True, False, True], strict=True):
        who = token.locals["reviewer"]
        scenario.send(ActionExecuted(token.uuid, "decide", {"verdicts": {who: verdict}}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["decisions"] == [
        {"who": "ann", "ok": True}, {"who": "bob", "ok": False}, {"who": "cid", "ok": True},
    ]  # fmt: skip
    assert scenario.instance.waits == ()


def test_sequential_user_tasks_run_one_at_a_time() -> None:
    scenario = Scenario(parse(APPROVALS.replace("SEQUENTIAL", "true")),
                        {"reviewers": ["ann", "bob"]})  # fmt: skip
    scenario.start()
    [first] = instances_at(scenario.instance, "approve")
    assert first.locals == {"reviewer": "ann", "loopCounter": 1}
    scenario.send(ActionExecuted(first.uuid, "decide", {"verdicts": {"ann": True}}))
    [second] = instances_at(scenario.instance, "approve")
    assert second.locals == {"reviewer": "bob", "loopCounter": 2}
    scenario.send(ActionExecuted(second.uuid, "decide", {"verdicts": {"bob": False}}))
    assert scenario.state() is InstanceState.FINISHED
    assert [d["ok"] for d in scenario.data["decisions"]] == [True, False]


def test_an_interrupting_boundary_on_a_multi_instance_activity_cancels_every_instance() -> None:
    scenario = Scenario(parse(APPROVALS.replace("SEQUENTIAL", "false")),
                        {"reviewers": ["ann", "bob", "cid"]})  # fmt: skip
    scenario.start()
    [timer] = scenario.instance.waits
    scenario.send(TimerFired(timer.id))
    assert scenario.state() is InstanceState.FINISHED
    cancelled = [t for t in scenario.instance.tokens if t.state is TokenState.TERMINATED]
    assert len(cancelled) == 3
    assert "decisions" not in scenario.data


WORKERS = """
    name: workers
    nodes:
      - {id: begin, type: start}
      - id: ship
        type: task
        topic: shipping
        multiInstance:
          collection: input.parcels
          elementVariable: parcel
          outputElement: input.label
          outputCollection: labels
          completionCondition: COMPLETION
      - {id: done, type: end}
      - {id: lost, type: boundaryError, attachedTo: ship, errorCode: LOST, errorVariable: why}
      - {id: gaveUp, type: end}
    flows:
      - {from: begin, to: ship}
      - {from: ship, to: done}
      - {from: lost, to: gaveUp}
"""


def external_waits(instance: ProcessInstance) -> dict[str, Token]:
    """Each external-task wait by id, with its instance token."""
    tokens = {t.id: t for t in instance.tokens}
    return {w.id: tokens[w.token_id] for w in instance.waits if w.kind is WaitKind.EXTERNAL
            and w.token_id is not None}  # fmt: skip


def test_parallel_external_tasks_completed_in_reverse_keep_outputs_in_order() -> None:
    parcels = ["p1", "p2", "p3", "p4"]
    scenario = Scenario(parse(WORKERS.replace("COMPLETION", '"1 == 2"')),
                        {"parcels": parcels})  # fmt: skip
    scenario.start()
    waits = external_waits(scenario.instance)
    assert [t.locals["parcel"] for t in waits.values()] == parcels
    for wait_id, token in reversed(list(waits.items())):
        label = f"label-{token.locals['parcel']}"
        scenario.send(ExternalTaskCompleted(wait_id, {"label": label}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["labels"] == [f"label-{p}" for p in parcels]


def test_a_completion_condition_ends_the_activity_early_and_cancels_the_rest() -> None:
    condition = "input.nrOfCompletedInstances >= 2"
    scenario = Scenario(parse(WORKERS.replace("COMPLETION", condition)),
                        {"parcels": ["p1", "p2", "p3", "p4"]})  # fmt: skip
    scenario.start()
    waits = list(external_waits(scenario.instance).items())
    scenario.send(ExternalTaskCompleted(waits[3][0], {"label": "L4"}))
    assert scenario.state() is InstanceState.STARTED
    result = scenario.send(ExternalTaskCompleted(waits[1][0], {"label": "L2"}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["labels"] == [None, "L2", None, "L4"]
    assert scenario.instance.waits == ()
    assert "scope_cancelled" in audit_types(result)


def test_a_bpmn_error_from_one_instance_is_caught_by_the_activity_boundary() -> None:
    scenario = Scenario(parse(WORKERS.replace("COMPLETION", '"1 == 2"')),
                        {"parcels": ["p1", "p2"]})  # fmt: skip
    scenario.start()
    first = next(iter(external_waits(scenario.instance)))
    scenario.send(BpmnErrorThrown(first, "LOST", "parcel lost"))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["why"]["errorCode"] == "LOST"
    assert scenario.instance.waits == ()


SUBPROCESS = """
    name: orders
    nodes:
      - {id: begin, type: start}
      - id: each
        type: subProcess
        multiInstance: {collection: input.orders, elementVariable: order,
                        outputElement: "input.order + '-' + input.status",
                        outputCollection: summary, sequential: SEQUENTIAL}
        nodes:
          - {id: eachStart, type: start}
          - {id: fork, type: parallelGateway}
          - {id: pack, type: userTask, actions: [ok]}
          - {id: stamp, type: task, rules: [{set: {status: "'packed'"}}]}
          - {id: join, type: parallelGateway}
          - {id: eachEnd, type: end}
        flows:
          - {from: eachStart, to: fork}
          - {from: fork, to: pack}
          - {from: fork, to: stamp}
          - {from: pack, to: join}
          - {from: stamp, to: join}
          - {from: join, to: eachEnd}
      - {id: done, type: end}
    flows:
      - {from: begin, to: each}
      - {from: each, to: done}
"""


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_a_multi_instance_subprocess_keeps_each_instance_in_its_own_scope(sequential: str) -> None:
    scenario = Scenario(parse(SUBPROCESS.replace("SEQUENTIAL", sequential)),
                        {"orders": ["o1", "o2"]})  # fmt: skip
    scenario.start()
    open_packs = []
    while scenario.state() is InstanceState.STARTED:
        packs = [t for t in scenario.instance.live_tokens if t.node_id == "pack"]
        open_packs.append(len(packs))
        # Each pack task runs in its own instance's scope: the last one first.
        assert len({t.scope_id for t in packs}) == len(packs)
        scenario.send(ActionExecuted(packs[-1].uuid, "ok", {}))
    assert open_packs == ([2, 1] if sequential == "false" else [1, 1])
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["summary"] == ["o1-packed", "o2-packed"]
    assert "order" not in scenario.data


@pytest.mark.parametrize(
    ("collection", "expected"),
    [("input.notAList", "gave str, not a list"), ("input.missing", "no such key"),
     ("input.count", "gave int, not a list"), ("input.nothing", "gave null, not a list")],
)  # fmt: skip
def test_a_collection_that_is_not_a_list_is_an_incident(collection: str, expected: str) -> None:
    text = rules_process(False).replace("collection: input.numbers", f"collection: '{collection}'")
    scenario = Scenario(parse(text), {"notAList": "abc", "count": 3, "nothing": None})
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert incident.node_id == "double"
    assert expected in incident.message


def test_a_collection_longer_than_the_limit_is_an_incident_and_a_retry_can_fix_it() -> None:
    scenario = Scenario(parse(rules_process(False)),
                        {"numbers": list(range(MAX_LOOP_ELEMENTS + 1))})  # fmt: skip
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert incident.type == "invalid_collection"
    assert f"at most {MAX_LOOP_ELEMENTS}" in incident.message
    scenario.send(RetryIncident(incident.id, {"numbers": [1, 2]}))
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["results"]["doubled"] == [1002, 2004]


ROUTED = """
    name: routed
    nodes:
      - {id: begin, type: start}
      - id: each
        type: subProcess
        multiInstance: {collection: input.amounts, elementVariable: amount,
                        outputElement: input.route, outputCollection: routes}
        nodes:
          - {id: eachStart, type: start}
          - {id: big, type: exclusiveGateway, default: small}
          - {id: approve, type: userTask, actions: [ok]}
          - {id: markBig, type: task, rules: [{set: {route: "'manual'"}}]}
          - {id: markSmall, type: task, rules: [{set: {route: "'auto'"}}]}
          - {id: eachEnd, type: end}
        flows:
          - {from: eachStart, to: big}
          - {from: big, to: approve, condition: "input.amount > 100"}
          - {id: small, from: big, to: markSmall}
          - {from: approve, to: markBig}
          - {from: markBig, to: eachEnd}
          - {from: markSmall, to: eachEnd}
      - {id: done, type: end}
    flows:
      - {from: begin, to: each}
      - {from: each, to: done}
"""


def test_gateway_conditions_inside_an_instance_read_its_element() -> None:
    scenario = Scenario(parse(ROUTED), {"amounts": [50, 500, 20]})
    scenario.start()
    # Only the instance whose element is over 100 waits for an approval.
    [approve] = [t for t in scenario.instance.live_tokens if t.node_id == "approve"]
    tokens = {t.id: t for t in scenario.instance.tokens}
    assert tokens[approve.scope_id or 0].locals == {"amount": 500, "loopCounter": 2}
    scenario.send(ActionExecuted(approve.uuid, "ok", {}))
    assert scenario.state() is InstanceState.FINISHED
    # The routes were written to the shared data, and captured per instance as they ended.
    assert scenario.data["routes"] == ["auto", "manual", "auto"]


def test_terminate_hold_and_unhold_reach_every_instance() -> None:
    scenario = Scenario(parse(ROUTED), {"amounts": [500, 600]})
    scenario.start()
    scenario.send(Hold())
    assert {t.state for t in scenario.instance.tokens if t.state is not TokenState.INACTIVE} \
        == {TokenState.ON_HOLD}  # fmt: skip
    scenario.send(Unhold())
    assert len([t for t in scenario.instance.live_tokens if t.node_id == "approve"]) == 2
    scenario.terminate("no longer needed")
    assert scenario.state() is InstanceState.TERMINATED
    assert scenario.instance.live_tokens == ()


def test_the_host_of_a_multi_instance_user_task_offers_no_action_and_refuses_one() -> None:
    scenario = Scenario(parse(APPROVALS.replace("SEQUENTIAL", "false")), {"reviewers": ["a"]})
    scenario.start()
    host = next(t for t in scenario.instance.live_tokens if t.loop is not None)
    [instance] = instances_at(scenario.instance, "approve")
    definition = scenario.definition
    assert ui_actions(definition, scenario.instance, host) == []
    assert [a["name"] for a in ui_actions(definition, scenario.instance, instance)] == ["decide"]
    with pytest.raises(TokenNotWaiting):
        scenario.send(ActionExecuted(host.uuid, "decide", {}))
