"""Reading BPMN files as bpmn.io and Camunda Modeler write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from procflow.model.bpmn import parse_bpmn, select_process
from procflow.model.definition import (
    EndNode,
    ExclusiveGateway,
    Flow,
    ParallelGateway,
    ProcessDefinition,
    StartNode,
    TaskNode,
    UserTaskNode,
)
from procflow.model.errors import DefinitionInvalid
from procflow.model.yaml_format import parse_definition_text
from tests.bpmn.documents import REVIEW, REVIEW_YAML, document, minimal_body, process

ROOT = Path(__file__).resolve().parents[2]


def only(data: bytes) -> ProcessDefinition:
    processes = parse_bpmn(data, "test.bpmn")
    assert len(processes) == 1
    return processes[0].definition


def flow_shape(flow: Flow) -> tuple[str, str, str | None, str | None]:
    condition = flow.condition.source if flow.condition else None
    return flow.source, flow.target, condition, flow.action


def test_bpmn_io_file_reads_names_conditions_and_defaults() -> None:
    definition = only(REVIEW)
    assert definition.name == "document_review"
    assert definition.nodes["Activity_review"] == UserTaskNode(
        "Activity_review", "Überprüfung des Antrags", ("decide",)
    )
    assert definition.nodes["Gateway_ok"] == ExclusiveGateway(
        "Gateway_ok", "Antrag in Ordnung?", "Flow_no"
    )
    flows = {flow.id: flow for flow in definition.flows}
    condition = flows["Flow_yes"].condition
    assert condition is not None
    assert condition.source == "input.review.ok == true"
    assert flows["Flow_yes"].name == "ja"
    assert flows["Flow_no"].condition is None


def test_same_process_in_yaml_and_bpmn_is_the_same_definition() -> None:
    from_yaml = parse_definition_text(REVIEW_YAML, "review.yaml")
    from_bpmn = only(REVIEW)
    assert dict(from_bpmn.nodes) == dict(from_yaml.nodes)
    assert from_bpmn.flows == from_yaml.flows
    assert from_bpmn == from_yaml


def test_loan_example_in_bpmn_matches_the_yaml_example() -> None:
    from_yaml = parse_definition_text(
        (ROOT / "examples/loans/loan_application.yaml").read_text(), "loan_application.yaml"
    )
    bpmn_file = ROOT / "examples/loans/loan_application.bpmn"
    [loans] = parse_bpmn(bpmn_file.read_bytes(), bpmn_file.name)
    assert loans.id == "Process_loans"
    assert loans.definition.name == "loan_application_bpmn"
    assert loans.definition.description == from_yaml.description
    assert dict(loans.definition.nodes) == dict(from_yaml.nodes)
    assert sorted(map(flow_shape, loans.definition.flows)) == sorted(
        map(flow_shape, from_yaml.flows)
    )


@pytest.mark.parametrize("tag", ["task", "scriptTask", "serviceTask", "businessRuleTask"])
def test_every_task_kind_is_a_task_node(tag: str) -> None:
    body = minimal_body(task_tag=tag)
    assert only(document(process(body))).nodes["Task"] == TaskNode("Task", "Do it")


def test_extensions_carry_rules_async_actions_params_conditions_and_schema() -> None:
    body = """\
    <bpmn:startEvent id="web" name="From the web" procflow:startCondition="web">
      <bpmn:extensionElements>
        <procflow:mandatoryParam path="applicant.name" />
        <procflow:schema>{"type": "object", "required": ["applicant"]}</procflow:schema>
      </bpmn:extensionElements>
    </bpmn:startEvent>
    <bpmn:startEvent id="branch" procflow:startCondition="branch" />
    <bpmn:businessRuleTask id="score" name="Score" procflow:async="true">
      <bpmn:extensionElements>
        <camunda:properties><camunda:property name="ignored" value="yes" /></camunda:properties>
        <procflow:rule name="ratio">
          <procflow:set path="risk.ratio">
            double(input.loan.amount) / double(input.applicant.income)
          </procflow:set>
          <procflow:set path="risk.checked">true</procflow:set>
        </procflow:rule>
        <procflow:rule>
          <procflow:set path="risk.band">input.risk.ratio &gt; 5.0 ? 'high' : 'low'</procflow:set>
        </procflow:rule>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:userTask id="review" camunda:assignee="underwriter">
      <bpmn:extensionElements>
        <procflow:action name="approve" />
        <procflow:action name="reject" />
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:parallelGateway id="fork" />
    <bpmn:endEvent id="yes" />
    <bpmn:endEvent id="no" />
    <bpmn:sequenceFlow id="f1" sourceRef="web" targetRef="score" />
    <bpmn:sequenceFlow id="f2" sourceRef="branch" targetRef="score" />
    <bpmn:sequenceFlow id="f3" sourceRef="score" targetRef="fork" />
    <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="review" />
    <bpmn:sequenceFlow id="f5" sourceRef="review" targetRef="yes" procflow:action="approve" />
    <bpmn:sequenceFlow id="f6" sourceRef="review" targetRef="no" procflow:action="reject" />
    <bpmn:sequenceFlow id="f7" sourceRef="fork" targetRef="no" />
"""
    definition = only(document(process(body, name="scoring")))
    web = definition.nodes["web"]
    assert web == StartNode(
        "web",
        "From the web",
        "web",
        ("applicant.name",),
        {"type": "object", "required": ["applicant"]},
    )
    assert definition.nodes["branch"] == StartNode("branch", "", "branch")
    score = definition.nodes["score"]
    assert isinstance(score, TaskNode)
    assert score.is_async
    assert [rule.name for rule in score.rules] == ["ratio", "rule2"]
    ratio = score.rules[0].assignments
    assert [(a.path, a.expression.source) for a in ratio] == [
        ("risk.ratio", "double(input.loan.amount) / double(input.applicant.income)"),
        ("risk.checked", "true"),
    ]
    assert definition.nodes["review"] == UserTaskNode("review", "", ("approve", "reject"))
    assert definition.nodes["fork"] == ParallelGateway("fork")
    assert definition.nodes["yes"] == EndNode("yes")
    assert {flow.id: flow.action for flow in definition.flows}["f5"] == "approve"


def test_process_without_a_name_is_named_by_its_id() -> None:
    assert only(document(process(minimal_body(), process_id="Process_x"))).name == "Process_x"


def test_process_documentation_is_the_description() -> None:
    body = "    <bpmn:documentation>  What it does.  </bpmn:documentation>\n" + minimal_body()
    assert only(document(process(body))).description == "What it does."


def test_condition_without_xsi_type_and_with_cel_language_is_read() -> None:
    body = minimal_body().replace(
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End" />',
        """<bpmn:exclusiveGateway id="Gw" default="Flow_d" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="Gw" />
    <bpmn:sequenceFlow id="Flow_c" sourceRef="Gw" targetRef="End">
      <bpmn:conditionExpression language="cel"><![CDATA[input.a < 3]]></bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_d" sourceRef="Gw" targetRef="End" />""",
    )
    flows = {flow.id: flow for flow in only(document(process(body))).flows}
    condition = flows["Flow_c"].condition
    assert condition is not None
    assert condition.source == "input.a < 3"


def test_several_processes_each_selectable_by_id_or_name() -> None:
    data = document(
        process(minimal_body(), process_id="Process_a", name="first"),
        process(
            minimal_body().replace('id="', 'id="b_').replace('Ref="', 'Ref="b_'),
            process_id="Process_b",
        ),
    )
    processes = parse_bpmn(data, "two.bpmn")
    assert [(p.id, p.name) for p in processes] == [
        ("Process_a", "first"),
        ("Process_b", "Process_b"),
    ]
    assert select_process(processes, "first", "two.bpmn").id == "Process_a"
    assert select_process(processes, "Process_a", "two.bpmn").name == "first"
    assert select_process(processes, "Process_b", "two.bpmn").definition.name == "Process_b"
    with pytest.raises(DefinitionInvalid, match="no process 'third'"):
        select_process(processes, "third", "two.bpmn")


def test_drawing_only_elements_are_skipped() -> None:
    body = minimal_body(
        """\
    <bpmn:textAnnotation id="TextAnnotation_1"><bpmn:text>Note</bpmn:text></bpmn:textAnnotation>
    <bpmn:association id="Association_1" sourceRef="Task" targetRef="TextAnnotation_1" />
    <bpmn:dataObjectReference id="DataObjectReference_1" dataObjectRef="DataObject_1" />
    <bpmn:dataObject id="DataObject_1" />
    <camunda:somethingElse id="Vendor_1" />
"""
    )
    body = '    <bpmn:laneSet id="LaneSet_1"><bpmn:lane id="Lane_1" /></bpmn:laneSet>\n' + body
    assert set(only(document(process(body))).nodes) == {"Start", "Task", "End"}


def test_diagram_is_kept_per_process() -> None:
    [review] = parse_bpmn(REVIEW, "review.bpmn")
    assert set(review.diagram) == set(review.definition.nodes) | {
        flow.id for flow in review.definition.flows
    }


def test_the_example_in_the_docs_parses() -> None:
    text = (ROOT / "docs/bpmn.md").read_text()
    example = text.split("```xml\n", 1)[1].split("```", 1)[0]
    definition = only(example.encode())
    assert definition.name == "loans"
    assert definition.nodes["submitted"] == StartNode(
        "submitted",
        "Application submitted",
        "web",
        ("applicant.name", "loan.amount"),
        {"type": "object", "required": ["loan"]},
    )
