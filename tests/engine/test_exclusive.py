from __future__ import annotations

import pytest

from procflow.model.definition import ProcessDefinition
from procflow.model.states import InstanceState, TokenState
from tests.engine.conftest import Scenario, audit_types, audits_of, parse


def routing(default: bool = True, third: str = "input.n > 5") -> ProcessDefinition:
    default_line = "default: small" if default else ""
    return parse(f"""
    name: routing
    nodes:
      - {{id: begin, type: start}}
      - id: route
        type: exclusiveGateway
        {default_line}
      - {{id: big_end, type: end}}
      - {{id: huge_end, type: end}}
      - {{id: small_end, type: end}}
      - {{id: weird_end, type: end}}
    flows:
      - {{from: begin, to: route}}
      - {{id: huge, from: route, to: huge_end, condition: "input.n > 100"}}
      - {{id: big, from: route, to: big_end, condition: "input.n > 10"}}
      - {{id: weird, from: route, to: weird_end, condition: "{third}"}}
      - {{id: small, from: route, to: small_end{"" if default else ', condition: "false"'}}}
    """)


@pytest.mark.parametrize(
    ("n", "end", "flow"),
    [(1000, "huge_end", "huge"), (50, "big_end", "big"), (7, "weird_end", "weird")],
)
def test_the_first_true_condition_in_definition_order_wins(n: int, end: str, flow: str) -> None:
    scenario = Scenario(routing(), {"n": n})
    result = scenario.start()
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.tokens[0].node_id == end
    [decided] = audits_of(result, "gateway_decided")
    assert (decided.node_id, decided.details) == ("route", {"flowId": flow})


def test_the_default_flow_is_taken_when_no_condition_is_true() -> None:
    scenario = Scenario(routing(), {"n": 1})
    result = scenario.start()
    assert scenario.instance.tokens[0].node_id == "small_end"
    assert audits_of(result, "gateway_decided")[0].details == {"flowId": "small"}


def test_no_true_condition_and_no_default_is_a_no_branch_incident() -> None:
    scenario = Scenario(routing(default=False), {"n": 1})
    result = scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert (incident.type, incident.node_id) == ("no_branch_taken", "route")
    assert incident.token_uuid == scenario.instance.tokens[0].uuid
    assert scenario.instance.tokens[0].state is TokenState.ABORTED
    assert audit_types(result)[-2:] == ["incident", "instance_failed"]


def test_conditions_after_the_winner_are_not_evaluated() -> None:
    scenario = Scenario(routing(third="1 / 0 == 1"), {"n": 50})
    scenario.start()
    assert scenario.state() is InstanceState.FINISHED


@pytest.mark.parametrize("condition", ["input.n + 1", "input.missing > 1", "1 / 0 == 1", "'x'"])
def test_a_failing_or_non_bool_condition_is_an_expression_error(condition: str) -> None:
    scenario = Scenario(routing(third=condition), {"n": 7})
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    [incident] = scenario.instance.incidents
    assert incident.type == "expression_error"
    assert "weird" in incident.message
