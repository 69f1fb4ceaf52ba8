from __future__ import annotations

import itertools
import json
from uuid import uuid5

import pytest

from procflow.engine.events import JobCompleted, JobFailed, ScheduleWait, Start
from procflow.engine.step import step
from procflow.engine.tokens import TOKEN_NAMESPACE
from procflow.model.errors import InstanceNotRunning, WaitNotFound
from procflow.model.instance import WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from procflow.model.yaml_format import parse_definition_text
from tests.engine.conftest import (
    NOW,
    Scenario,
    audit_events,
    audit_types,
    audits_of,
    live_at,
    new_instance,
    parse,
    scheduled,
    task_wait,
)

STRAIGHT = """
    name: straight
    nodes:
      - {id: begin, type: start}
      - id: work
        type: task
        rules:
          - name: first
            set: {a: "1", b: "input.a + 1"}
          - name: second
            set: {c: "input.a + input.b", nested.deep.value: "'x'"}
      - {id: done, type: end}
    flows:
      - {from: begin, to: work}
      - {from: work, to: done}
"""

ASYNC = """
    name: async_work
    nodes:
      - {id: begin, type: start}
      - id: work
        type: task
        async: true
        rules:
          - set: {result: "input.n * 2"}
      - {id: done, type: end}
    flows:
      - {from: begin, to: work}
      - {from: work, to: done}
"""


def test_straight_through_finishes_in_one_step() -> None:
    scenario = Scenario(parse(STRAIGHT), {"a": 10})
    result = scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert audit_types(result) == [
        "instance_started",
        "task_executed",
        "token_completed",
        "instance_finished",
    ]
    [token] = scenario.instance.tokens
    assert (token.node_id, token.state, token.status) == (
        "done",
        TokenState.INACTIVE,
        NodeStatus.EXECUTED_COMPLETE,
    )
    assert scheduled(result) == []


def test_assignments_of_one_rule_see_the_data_before_it_later_rules_see_results() -> None:
    scenario = Scenario(parse(STRAIGHT), {"a": 10})
    scenario.start()
    # b saw a=10 (before "first"), c sees a=1 and b=11 (after "first").
    assert scenario.data == {"a": 1, "b": 11, "c": 12, "nested": {"deep": {"value": "x"}}}


def test_task_audit_names_node_token_and_rules() -> None:
    result = Scenario(parse(STRAIGHT), {"a": 10}).start()
    [executed] = audits_of(result, "task_executed")
    assert executed.node_id == "work"
    assert executed.token_uuid == result.instance.tokens[0].uuid
    assert executed.details == {"rules": ["first", "second"]}


def test_token_ids_and_uuids_are_deterministic() -> None:
    instance = new_instance({"a": 1})
    result = step(parse(STRAIGHT), instance, Start("begin"), NOW)
    [token] = result.instance.tokens
    assert token.id == 1
    assert token.uuid == uuid5(TOKEN_NAMESPACE, f"{instance.uuid}/1")
    assert result.instance.next_token_id == 2
    assert result.instance.updated_at == NOW


def test_untouched_data_is_shared_not_copied() -> None:
    big = {"items": list(range(1000))}
    instance = new_instance({"a": 1, "big": big})
    result = step(parse(STRAIGHT), instance, Start("begin"), NOW)
    assert result.instance.data["big"] is big
    assert instance.data == {"a": 1, "big": big}


def test_async_task_waits_for_its_job() -> None:
    scenario = Scenario(parse(ASYNC), {"n": 21})
    result = scenario.start()
    assert scenario.state() is InstanceState.STARTED
    token = scenario.instance.tokens[0]
    assert (token.node_id, token.state, token.status) == (
        "work",
        TokenState.ACTIVE,
        NodeStatus.EXECUTING,
    )
    [wait] = scenario.instance.waits
    assert (wait.kind, wait.node_id, wait.token_id) == (WaitKind.TASK, "work", token.id)
    assert scheduled(result) == [ScheduleWait("task", wait.id, scenario.clock, token.uuid, "work")]
    assert "result" not in scenario.data
    assert audit_types(result) == ["instance_started", "job_enqueued"]

    done = scenario.complete_job("work")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data == {"n": 21, "result": 42}
    assert audit_types(done) == ["task_executed", "token_completed", "instance_finished"]


ASYNC_AND_USER = """
    name: async_and_user
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: work, type: task, async: true, rules: [{set: {worked: "true"}}]}
      - {id: review, type: userTask, actions: [ok]}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: work}
      - {from: fork, to: review}
      - {from: work, to: join}
      - {from: review, to: join}
      - {from: join, to: done}
"""


def test_job_completed_twice_is_ignored() -> None:
    scenario = Scenario(parse(ASYNC_AND_USER))
    scenario.start()
    wait_id = task_wait(scenario.instance, "work")
    scenario.complete_job("work")
    assert scenario.state() is InstanceState.STARTED
    assert scenario.waiting() == [("join", NodeStatus.WAITING_JOIN), ("review", NodeStatus.ARRIVED)]
    with pytest.raises(WaitNotFound):
        step(scenario.definition, scenario.instance, JobCompleted(wait_id), NOW)
    scenario.act("review", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data == {"worked": True}


def test_job_completed_after_the_instance_ended_is_refused() -> None:
    scenario = Scenario(parse(ASYNC), {"n": 1})
    scenario.start()
    wait_id = task_wait(scenario.instance, "work")
    scenario.complete_job("work")
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, scenario.instance, JobCompleted(wait_id), NOW)


def test_a_long_chain_runs_without_recursion() -> None:
    count = 3000
    tasks = [
        {"id": f"t{i}", "type": "task", "rules": [{"set": {"n": "input.n + 1"}}]}
        for i in range(count)
    ]
    path = ["begin", *(task["id"] for task in tasks), "done"]
    document = {
        "name": "chain",
        "nodes": [{"id": "begin", "type": "start"}, *tasks, {"id": "done", "type": "end"}],
        "flows": [{"from": a, "to": b} for a, b in itertools.pairwise(path)],
    }
    # JSON, the same parser as YAML without the slow YAML scanner.
    definition = parse_definition_text(json.dumps(document), "chain.json")
    result = step(definition, new_instance({"n": 0}), Start("begin"), NOW)
    assert result.instance.state is InstanceState.FINISHED
    assert result.instance.data == {"n": count}


def test_a_start_node_is_chosen_by_the_event() -> None:
    text = """
    name: two_starts
    nodes:
      - {id: web, type: start, startCondition: web}
      - {id: mail, type: start, startCondition: mail}
      - {id: tag, type: task, rules: [{set: {seen: "'yes'"}}]}
      - {id: done, type: end}
    flows:
      - {from: web, to: done}
      - {from: mail, to: tag}
      - {from: tag, to: done}
    """
    result = step(parse(text), new_instance(), Start("mail"), NOW)
    assert result.instance.data == {"seen": "yes"}
    assert audit_events(result)[0].node_id == "mail"


def test_job_failed_puts_an_incident_and_fails_the_instance() -> None:
    scenario = Scenario(parse(ASYNC_AND_USER))
    scenario.start()
    token = live_at(scenario.instance, "work")
    result = step(
        scenario.definition,
        scenario.instance,
        JobFailed(task_wait(scenario.instance, "work"), "gave up after 5 attempts: boom"),
        NOW,
    )
    failed = result.instance
    assert failed.state is InstanceState.FAILED
    [incident] = failed.incidents
    assert (incident.type, incident.node_id, incident.token_uuid) == (
        "job_failed",
        "work",
        token.uuid,
    )
    assert "boom" in incident.message
    assert all(t.state is not TokenState.ACTIVE for t in failed.tokens)
    assert audit_types(result) == ["incident", "instance_failed"]


def test_job_failed_for_a_wait_that_is_gone_is_ignored() -> None:
    scenario = Scenario(parse(ASYNC_AND_USER))
    scenario.start()
    with pytest.raises(WaitNotFound):
        step(scenario.definition, scenario.instance, JobFailed("w404", "x"), NOW)
