from __future__ import annotations

import pytest

from procflow.engine.events import ActionExecuted, Start
from procflow.engine.run import VISIT_LIMIT
from procflow.engine.step import step
from procflow.model.errors import InstanceNotRunning
from procflow.model.states import InstanceState, TokenState
from tests.engine.conftest import NOW, Scenario, audit_types, audits_of, new_instance, parse

FAILING_TASK = """
    name: failing
    nodes:
      - {id: begin, type: start}
      - {id: prepare, type: task, rules: [{name: prep, set: {prepared: "true"}}]}
      - id: compute
        type: task
        rules:
          - {name: fine, set: {partial: "1"}}
          - {name: broken, set: {ok: "2", ratio: "input.a / input.b"}}
      - {id: review, type: userTask, actions: [ok]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: prepare}
      - {from: prepare, to: compute}
      - {from: compute, to: review}
      - {from: review, to: done}
"""


def test_an_expression_error_fails_the_instance_with_an_incident() -> None:
    scenario = Scenario(parse(FAILING_TASK), {"a": 1, "b": 0})
    result = scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    token = scenario.instance.tokens[0]
    assert incident.type == "expression_error"
    assert incident.node_id == "compute"
    assert incident.token_uuid == token.uuid
    assert incident.at == scenario.clock
    assert "broken" in incident.message
    assert "ratio" in incident.message
    assert "ZeroDivisionError" in incident.message
    assert token.state is TokenState.ABORTED
    assert audit_types(result)[-2:] == ["incident", "instance_failed"]
    [audited] = audits_of(result, "incident")
    assert audited.details == {
        "type": "expression_error",
        "message": incident.message,
        "incidentId": incident.id,
    }
    assert incident.id == 1


def test_completed_nodes_keep_their_data_the_failing_task_sets_nothing() -> None:
    scenario = Scenario(parse(FAILING_TASK), {"a": 1, "b": 0})
    scenario.start()
    assert scenario.data == {"a": 1, "b": 0, "prepared": True}


@pytest.mark.parametrize(
    ("data", "needle"),
    [({"a": 1}, "no such key: b"), ({"a": 1, "b": "x"}, "TypeError")],
)
def test_missing_fields_and_type_errors_are_incidents(data: dict[str, object], needle: str) -> None:
    scenario = Scenario(parse(FAILING_TASK), data)
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    assert needle in scenario.instance.incidents[0].message


def test_a_result_json_cannot_hold_is_an_incident_timestamps_are_strings() -> None:
    text = """
    name: results
    nodes:
      - {id: begin, type: start}
      - {id: when, type: task, rules: [{set: {at: "timestamp('2024-01-02T03:04:05Z')"}}]}
      - {id: raw, type: task, rules: [{set: {raw: "b'abc'"}}]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: when}
      - {from: when, to: raw}
      - {from: raw, to: done}
    """
    scenario = Scenario(parse(text))
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    assert scenario.data == {"at": "2024-01-02T03:04:05+00:00"}
    assert scenario.instance.incidents[0].node_id == "raw"
    assert "bytes" in scenario.instance.incidents[0].message


def test_a_failure_in_one_branch_aborts_every_live_token() -> None:
    text = """
    name: branch_fails
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: wait, type: userTask, actions: [ok]}
      - {id: boom, type: task, rules: [{set: {x: "input.nope"}}]}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: wait}
      - {from: fork, to: boom}
      - {from: wait, to: join}
      - {from: boom, to: join}
      - {from: join, to: done}
    """
    scenario = Scenario(parse(text))
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    states = {t.node_id: t.state for t in scenario.instance.tokens}
    assert states == {
        "fork": TokenState.INACTIVE,
        "wait": TokenState.ABORTED,
        "boom": TokenState.ABORTED,
    }
    token = next(t for t in scenario.instance.tokens if t.node_id == "wait")
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, scenario.instance, ActionExecuted(token.uuid, "ok"), NOW)


LOOP = """
    name: loop
    nodes:
      - {id: begin, type: start}
      - {id: count, type: task, rules: [{set: {n: "input.n + 1"}}]}
      - {id: again, type: exclusiveGateway, default: out}
      - {id: done, type: end}
    flows:
      - {from: begin, to: count}
      - {from: count, to: again}
      - {id: back, from: again, to: count, condition: "input.n < input.limit"}
      - {id: out, from: again, to: done}
"""


def test_a_bounded_loop_finishes() -> None:
    scenario = Scenario(parse(LOOP), {"n": 0, "limit": 50})
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.data["n"] == 50


def test_an_endless_loop_hits_the_visit_limit() -> None:
    result = step(parse(LOOP), new_instance({"n": 0, "limit": 10**9}), Start("begin"), NOW)
    instance = result.instance
    assert instance.state is InstanceState.FAILED
    [incident] = instance.incidents
    assert incident.type == "loop_limit"
    # Each round visits two nodes; the data of every completed visit is kept.
    assert instance.data["n"] == VISIT_LIMIT // 2
    assert instance.tokens[0].state is TokenState.ABORTED
