"""Camunda 7 JUEL conditions: the subset translated to CEL, what each form means when it
runs (translated, compiled and evaluated for real), and what is refused, and why."""

from __future__ import annotations

from typing import Any

import pytest

from procflow.engine.evaluate import EvaluationFailed, evaluate
from procflow.model.bpmn import parse_bpmn
from procflow.model.bpmn.juel import JuelRefused, is_juel, to_cel
from procflow.model.expression import Expression
from procflow.model.states import InstanceState, NodeStatus
from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import document, line_of, process
from tests.engine.conftest import Scenario


def run(juel: str, data: dict[str, Any]) -> Any:
    outcome = evaluate(Expression.compile(to_cel(juel)), data)
    assert not isinstance(outcome, EvaluationFailed), outcome
    return outcome.value


@pytest.mark.parametrize(
    ("juel", "cel"),
    [
        ("${approved}", "input.approved"),
        ("${!approved}", "!(input.approved)"),
        ("${not approved}", "!(input.approved)"),
        ("#{approved}", "input.approved"),
        ("  ${ approved }  ", "input.approved"),
        ("${clarified == 'yes'}", '(input.clarified == "yes")'),
        ("${a eq b}", "(input.a == input.b)"),
        ("${invoice.amount.net > 10}", "(input.invoice.amount.net > 10)"),
        ("${x == null}", "(input.x == null)"),
        ("${7 / 2}", "(double(7) / double(2))"),
        ("${empty x}", '(input.x == null || input.x == "" || input.x == [] || input.x == {})'),
        ("${1.5e3 < 2E+3}", "(1500.0 < 2000.0)"),
        ("${.5 > 0}", "(0.5 > 0)"),
    ],
)
def test_translation(juel: str, cel: str) -> None:
    assert to_cel(juel) == cel
    Expression.compile(cel)


@pytest.mark.parametrize(
    ("juel", "data", "expected"),
    [
        # every comparison, in symbols and in words
        ("${a == 1}", {"a": 1}, True),
        ("${a eq 2}", {"a": 1}, False),
        ("${a != 1}", {"a": 1}, False),
        ("${a ne 2}", {"a": 1}, True),
        ("${a < 2 && a lt 2}", {"a": 1}, True),
        ("${a > 0 and a gt 0}", {"a": 1}, True),
        ("${a <= 1 && a le 1}", {"a": 1}, True),
        ("${a >= 2 || a ge 2}", {"a": 1}, False),
        # logic
        ("${a || b}", {"a": False, "b": True}, True),
        ("${a or b}", {"a": False, "b": False}, False),
        ("${!a && not b}", {"a": False, "b": False}, True),
        # arithmetic
        ("${a + 2 * 3 == 7}", {"a": 1}, True),
        ("${(a + 2) * 3 == 9}", {"a": 1}, True),
        ("${a - 1 - 1 == -1}", {"a": 1}, True),
        ("${7 / 2 == 3.5}", {}, True),
        ("${7 div 2 == 3.5}", {}, True),
        ("${7 % 4 == 3 && 7 mod 4 == 3}", {}, True),
        ("${-a == 0 - a}", {"a": 5}, True),
        # precedence: comparison binds tighter than logic, && tighter than ||, unary tightest
        ("${a > 1 || b > 1 && c > 1}", {"a": 2, "b": 0, "c": 0}, True),
        ("${(a > 1 || b > 1) && c > 1}", {"a": 2, "b": 0, "c": 0}, False),
        ("${!a == false}", {"a": True}, True),
        ("${1 < 2 == true}", {}, True),
        ("${amount > 1000 && risk == 'low'}", {"amount": 5000, "risk": "low"}, True),
        ("${amount > 1000 && risk == 'low'}", {"amount": 5000, "risk": "high"}, False),
        # literals
        ('${s == "it\'s"}', {"s": "it's"}, True),
        ("${s == 'say \"hi\"'}", {"s": 'say "hi"'}, True),
        ("${s == 'it\\'s'}", {"s": "it's"}, True),
        ("${s == 'back\\\\slash'}", {"s": "back\\slash"}, True),
        ("${s == 'a}b'}", {"s": "a}b"}, True),
        ("${s == 'ünïcode ✓'}", {"s": "ünïcode ✓"}, True),
        ("${t == true && f == false && n == null}", {"t": True, "f": False, "n": None}, True),
        # empty: null, "", [], {} are empty; anything else is not
        ("${empty x}", {"x": None}, True),
        ("${empty x}", {"x": ""}, True),
        ("${empty x}", {"x": []}, True),
        ("${empty x}", {"x": {}}, True),
        ("${empty x}", {"x": "a"}, False),
        ("${empty x}", {"x": [0]}, False),
        ("${empty x}", {"x": 0}, False),
        ("${not empty order.items}", {"order": {"items": [1]}}, True),
    ],
)
def test_meaning(juel: str, data: dict[str, Any], expected: Any) -> None:
    assert run(juel, data) is expected


def test_a_missing_variable_is_an_evaluation_error_as_in_camunda() -> None:
    outcome = evaluate(Expression.compile(to_cel("${approved}")), {})
    assert isinstance(outcome, EvaluationFailed)


@pytest.mark.parametrize(
    ("juel", "reason"),
    [
        ("${execution.getVariable('approved')}", "Camunda's object"),
        ("${someBean.check(amount)}", "method calls are not translated"),
        ("${approved ? 1 : 2}", "the ternary"),
        ("${items[0] == 1}", "brackets"),
        ("${x instanceof Y}", "instanceof"),
        ("${a} and ${b}", "text after the expression"),
        ("${a = 1}", "assignment"),
        ("${a == 'open}", "is not closed"),
        ("${}", "empty"),
        ("${a &&}", "ends too early"),
        ("${(a}", "ends too early"),
        ("${a b}", "unexpected 'b'"),
        ("${1.2.3 == x}", "is not a number"),
        ("${99999999999999999999 > 1}", "too large"),
        ("${in == 1}", "cannot be read in CEL"),
        ("${fn:length(x)}", "the ternary ?: (or a function namespace)"),
        ("${a; b}", "several expressions"),
        ("${a # b}", "the character '#'"),
        ("approved", "one ${...} expression"),
    ],
)
def test_refusals(juel: str, reason: str) -> None:
    with pytest.raises(JuelRefused) as caught:
        to_cel(juel)
    assert reason in str(caught.value)


def test_what_counts_as_juel() -> None:
    assert is_juel("${a}") and is_juel(" #{a} ")
    assert not is_juel("input.a") and not is_juel("$a") and not is_juel("{a}")


CAMUNDA = """\
    <bpmn:startEvent id="Start"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Approve" name="Approve invoice">
      <bpmn:incoming>Flow_1</bpmn:incoming><bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Approved">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_yes</bpmn:outgoing><bpmn:outgoing>Flow_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="Pay" name="Prepare bank transfer">
      <bpmn:incoming>Flow_yes</bpmn:incoming><bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="Paid"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Rejected"><bpmn:incoming>Flow_no</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Approve" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Approve" targetRef="Approved" />
    <bpmn:sequenceFlow id="Flow_yes" sourceRef="Approved" targetRef="Pay">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${approved}
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_no" sourceRef="Approved" targetRef="Rejected">
      <bpmn:conditionExpression>CONDITION</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Pay" targetRef="Paid" />
"""


def camunda_file(condition: str = "${!approved}") -> bytes:
    return document(process(CAMUNDA.replace("CONDITION", condition), name="invoice"))


def test_a_camunda_model_deploys_with_a_warning_per_translated_condition() -> None:
    data = camunda_file()
    [drawn] = parse_bpmn(data, "invoice.bpmn")
    by_flow = {w.element_id: w for w in drawn.definition.warnings}
    assert set(by_flow) == {"Flow_yes", "Flow_no"}
    assert by_flow["Flow_yes"].line == line_of(data, "${approved}")
    assert "read as JUEL and runs as the CEL 'input.approved'" in by_flow["Flow_yes"].message
    conditions = {f.id: f.condition for f in drawn.definition.flows if f.condition is not None}
    assert {k: c.source for k, c in conditions.items()} == {
        "Flow_yes": "input.approved",
        "Flow_no": "!(input.approved)",
    }


@pytest.mark.parametrize(("approved", "end"), [(True, "Pay"), (False, None)])
def test_a_camunda_model_routes_by_its_juel_condition(approved: bool, end: str | None) -> None:
    [drawn] = parse_bpmn(camunda_file(), "invoice.bpmn")
    scenario = Scenario(drawn.definition)
    scenario.start()
    scenario.act("Approve", "complete", {"approved": approved})
    if end is None:
        assert scenario.state() is InstanceState.FINISHED
    else:
        assert scenario.waiting() == [(end, NodeStatus.ARRIVED)]


def test_a_juel_condition_outside_the_subset_is_refused_with_element_line_and_hint() -> None:
    data = camunda_file("${execution.getVariable('approved') == false}")
    problem = find(problems_of(data), "is not translated", "Flow_no", line_of(data, "getVariable"))
    assert "Camunda's object" in problem.message
    assert "rewrite it in CEL" in problem.message
