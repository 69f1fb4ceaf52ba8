"""bpmn:callActivity read from BPMN (Procflow, Camunda 7 and Zeebe forms), written back, and
the build-wide deploy checks: a calledElement naming no process of the build, call cycles."""

from __future__ import annotations

import pytest

from procflow.model.bpmn import parse_bpmn
from procflow.model.bpmn.writer import export_bpmn
from procflow.model.definition import CallActivityNode
from procflow.model.errors import DefinitionInvalid
from procflow.runtime.deploy import parse_build_files
from tests.bpmn.documents import document, line_of, process

ZEEBE = ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'


def calling(call: str, process_id: str = "caller") -> str:
    return process(
        '    <bpmn:startEvent id="begin" />\n'
        f"    {call}\n"
        '    <bpmn:endEvent id="done" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="begin" targetRef="call" />\n'
        '    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="done" />\n',
        process_id,
    )


def called(process_id: str) -> str:
    return process(
        '    <bpmn:startEvent id="s" />\n'
        '    <bpmn:endEvent id="e" />\n'
        '    <bpmn:sequenceFlow id="g" sourceRef="s" targetRef="e" />\n',
        process_id,
    )


def call_node(data: bytes) -> CallActivityNode:
    [caller, *_] = parse_bpmn(data, "x.bpmn")
    node = caller.definition.nodes["call"]
    assert isinstance(node, CallActivityNode)
    return node


def test_procflow_attributes_are_read() -> None:
    node = call_node(document(calling(
        '<bpmn:callActivity id="call" calledElement="child" procflow:binding="latest" '
        'procflow:paramsToCopy="a, b.c" procflow:withoutParams="b.c.secret" '
        'procflow:outputKey="out.child" procflow:async="true" />'
    )))  # fmt: skip
    assert node.called_element == "child" and node.binding == "latest"
    assert node.params_to_copy == ("a", "b.c") and node.without_params == ("b.c.secret",)
    assert node.output_key == "out.child" and node.is_async
    assert node.line is not None


def test_camunda_latest_binding_and_zeebe_called_element_are_read() -> None:
    camunda = call_node(document(calling(
        '<bpmn:callActivity id="call" calledElement="child" '
        'camunda:calledElementBinding="latest" />'
    )))  # fmt: skip
    assert camunda.binding == "latest" and camunda.params_to_copy is None
    data = document(calling(
        '<bpmn:callActivity id="call"><bpmn:extensionElements>'
        '<zeebe:calledElement processId="child" propagateAllChildVariables="true" />'
        "</bpmn:extensionElements></bpmn:callActivity>"
    )).replace(b' xmlns:procflow', ZEEBE.encode() + b' xmlns:procflow')  # fmt: skip
    assert call_node(data).called_element == "child"


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        ('<bpmn:callActivity id="call" />', "needs a calledElement"),
        ('<bpmn:callActivity id="call" calledElement="c" procflow:binding="v2" />',
         "procflow:binding must be"),
        ('<bpmn:callActivity id="call" calledElement="c" camunda:calledElementBinding="version" />',
         "calledElementBinding 'version' is not supported"),
        ('<bpmn:callActivity id="call" calledElement="=expr" />', "an expression is not supported"),
    ],
)  # fmt: skip
def test_bad_call_activities_are_refused_with_the_element(call: str, fragment: str) -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        parse_bpmn(document(calling(call)), "x.bpmn")
    assert any(fragment in p.message and p.element_id == "call" for p in raised.value.problems)


def test_a_call_activity_is_written_back_to_bpmn() -> None:
    node_xml = (
        '<bpmn:callActivity id="call" calledElement="child" procflow:binding="latest" '
        'procflow:paramsToCopy="a,b" procflow:outputKey="out" procflow:async="true" />'
    )
    [caller] = parse_bpmn(document(calling(node_xml)), "x.bpmn")
    [again] = parse_bpmn(export_bpmn(caller.definition), "y.bpmn")
    assert again.definition.nodes["call"] == caller.definition.nodes["call"]


def test_a_called_element_missing_from_the_build_is_refused_with_id_line_and_hint() -> None:
    data = document(calling('<bpmn:callActivity id="call" calledElement="nowhere" />'))
    with pytest.raises(DefinitionInvalid) as raised:
        parse_build_files({"caller.bpmn": data})
    [problem] = raised.value.problems
    assert problem.element_id == "call" and problem.file == "caller.bpmn"
    assert problem.line == line_of(data, 'id="call"')
    assert "'nowhere' names no process of this build" in problem.message
    assert 'procflow:binding="latest"' in problem.message


def test_a_called_element_of_the_same_build_deploys_and_latest_is_not_checked() -> None:
    caller = document(calling('<bpmn:callActivity id="call" calledElement="child" />'))
    sources = parse_build_files({"caller.bpmn": caller, "child.bpmn": document(called("child"))})
    assert sorted(s.name for s in sources) == ["caller", "child"]
    latest = '<bpmn:callActivity id="call" calledElement="later" procflow:binding="latest" />'
    assert parse_build_files({"caller.bpmn": document(calling(latest))})


CYCLE_A = """
name: a
nodes:
  - {id: begin, type: start}
  - {id: callB, type: callActivity, calledElement: b}
  - {id: done, type: end}
flows:
  - {from: begin, to: callB}
  - {from: callB, to: done}
"""


def test_a_static_call_cycle_is_refused_at_deploy() -> None:
    files = {
        "a.yaml": CYCLE_A.encode(),
        "b.yaml": CYCLE_A.replace("name: a", "name: b").replace("calledElement: b",
                                                                "calledElement: c").encode(),
        "c.yaml": CYCLE_A.replace("name: a", "name: c").replace("calledElement: b",
                                                                "calledElement: a").encode(),
    }  # fmt: skip
    with pytest.raises(DefinitionInvalid) as raised:
        parse_build_files(files)
    [problem] = raised.value.problems
    assert "call cycle a -> b -> c -> a" in problem.message
    assert problem.element_id == "callB" and problem.file == "c.yaml" and problem.line == 5


def test_a_process_calling_itself_is_a_cycle() -> None:
    itself = CYCLE_A.replace("calledElement: b", "calledElement: a").encode()
    with pytest.raises(DefinitionInvalid) as raised:
        parse_build_files({"a.yaml": itself})
    assert "call cycle a -> a" in raised.value.problems[0].message
