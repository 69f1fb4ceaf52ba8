"""BPMN markings of external tasks (Procflow, Camunda 7, Zeebe), the Camunda and Zeebe
implementations Procflow refuses at deploy (with id, line and a hint), and BPMN errors."""

from __future__ import annotations

import pytest

from procflow.model.bpmn import parse_bpmn
from procflow.model.bpmn.writer import export_bpmn
from procflow.model.definition import (
    BoundaryEvent,
    EndNode,
    ErrorCatch,
    ExternalWork,
    MessageCatchNode,
    MessageSpec,
    StartNode,
    TaskNode,
)
from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import document, line_of, minimal_body, process

ZEEBE = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'


def task_with(attributes: str = "", inner: str = "", tag: str = "serviceTask") -> bytes:
    body = minimal_body(task_tag=tag).replace(
        f'<bpmn:{tag} id="Task" name="Do it">',
        f'<bpmn:{tag} id="Task" name="Do it"{attributes}>{inner}',
    )
    return document(process(body))


def the_task(data: bytes) -> TaskNode:
    [parsed] = parse_bpmn(data, "test.bpmn")
    node = parsed.definition.nodes["Task"]
    assert isinstance(node, TaskNode)
    return node


@pytest.mark.parametrize(
    ("attributes", "inner", "tag"),
    [
        (' procflow:topic="charge"', "", "serviceTask"),
        (' camunda:type="external" camunda:topic="charge"', "", "serviceTask"),
        ("", f'<bpmn:extensionElements><zeebe:taskDefinition {ZEEBE} type="charge" />'
             "</bpmn:extensionElements>", "serviceTask"),
        (' procflow:topic="charge"', "", "sendTask"),
        (' camunda:type="external" camunda:topic="charge"', "", "businessRuleTask"),
    ],
)  # fmt: skip
def test_every_marking_makes_an_external_task(attributes: str, inner: str, tag: str) -> None:
    assert the_task(task_with(attributes, inner, tag)).external == ExternalWork("charge", 3)


def test_retries_from_procflow_or_the_camunda_retry_cycle() -> None:
    own = the_task(task_with(' procflow:topic="t" procflow:retries="5"'))
    assert own.external == ExternalWork("t", 5)
    cycle = (
        "<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>R7/PT10S"
        "</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>"
    )
    camunda = the_task(task_with(' camunda:type="external" camunda:topic="t"', cycle))
    assert camunda.external == ExternalWork("t", 7)


@pytest.mark.parametrize(
    ("attributes", "inner", "fragment"),
    [
        (' camunda:class="com.acme.Charge"', "", "camunda:class cannot run"),
        (' camunda:expression="${charge.run()}"', "", "camunda:expression cannot run"),
        (' camunda:delegateExpression="${charge}"', "", "camunda:delegateExpression cannot run"),
        ("", "<bpmn:extensionElements><camunda:connector><camunda:connectorId>http"
             "</camunda:connectorId></camunda:connector></bpmn:extensionElements>",
         "camunda:connector cannot run"),
        ("", f"<bpmn:extensionElements><zeebe:taskDefinition {ZEEBE} />"
             "</bpmn:extensionElements>", "a Zeebe task needs"),
        (' camunda:type="external"', "", "needs a camunda:topic"),
        (' camunda:type="script"', "", 'camunda:type="script" cannot run'),
    ],
)  # fmt: skip
def test_implementations_procflow_cannot_honour_are_refused_with_a_hint(
    attributes: str, inner: str, fragment: str
) -> None:
    data = task_with(attributes, inner)
    problem = find(problems_of(data), fragment, "Task", _line(data, fragment))
    if "needs a camunda:topic" not in fragment:
        assert 'camunda:type="external"' in problem.message  # the hint


def _line(data: bytes, fragment: str) -> int:
    marker = (
        "connector>" if "connector" in fragment else "zeebe:" if "Zeebe" in fragment else "Task"
    )
    return line_of(data, marker)


def test_a_script_body_is_refused_with_the_external_task_hint() -> None:
    data = task_with(inner="<bpmn:script>run()</bpmn:script>", tag="scriptTask")
    problem = find(problems_of(data), "scripts are not run", "Task", line_of(data, "Task"))
    assert "camunda:type" in problem.message


def test_a_send_task_without_a_topic_is_refused() -> None:
    data = task_with(tag="sendTask")
    find(problems_of(data), "without a topic", "Task", line_of(data, "Task"))


ERRORS = """\
    <bpmn:startEvent id="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task" procflow:topic="t" />
    <bpmn:boundaryEvent id="Declined" attachedToRef="Task" procflow:errorVariable="why">
      <bpmn:errorEventDefinition errorRef="E1" />
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="AnyError" attachedToRef="Task">
      <bpmn:errorEventDefinition />
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="Rethrow"><bpmn:errorEventDefinition errorRef="E1" /></bpmn:endEvent>
    <bpmn:endEvent id="Stop"><bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Task" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task" targetRef="End" />
    <bpmn:sequenceFlow id="f3" sourceRef="Declined" targetRef="Rethrow" />
    <bpmn:sequenceFlow id="f4" sourceRef="AnyError" targetRef="Stop" />
"""


def test_error_boundaries_error_end_events_and_terminate_end_events_are_read() -> None:
    error = '  <bpmn:error id="E1" name="declined" errorCode="DECLINED" />\n'
    [parsed] = parse_bpmn(document(error, process(ERRORS)), "test.bpmn")
    nodes = parsed.definition.nodes
    declined, any_error = nodes["Declined"], nodes["AnyError"]
    assert isinstance(declined, BoundaryEvent) and isinstance(any_error, BoundaryEvent)
    assert declined.error == ErrorCatch("DECLINED", "why")
    assert any_error.error == ErrorCatch(None, None)
    assert nodes["Rethrow"] == EndNode("Rethrow", error_code="DECLINED")
    assert nodes["Stop"] == EndNode("Stop", terminate=True)


def test_an_error_ref_to_nothing_is_refused() -> None:
    data = document(process(ERRORS))
    problems = problems_of(data)
    find(problems, "errorRef 'E1' names no bpmn:error", "Declined", line_of(data, 'errorRef="E1"'))


def test_export_keeps_external_tasks_errors_and_terminate_end_events() -> None:
    error = '  <bpmn:error id="E1" name="declined" errorCode="DECLINED" />\n'
    body = ERRORS.replace('procflow:topic="t"', 'procflow:topic="t" procflow:retries="1"')
    [parsed] = parse_bpmn(document(error, process(body)), "test.bpmn")
    [again] = parse_bpmn(export_bpmn(parsed.definition), "again.bpmn")
    assert again.definition.nodes == parsed.definition.nodes


MESSAGES = """\
    <bpmn:startEvent id="Start">
      <bpmn:messageEventDefinition messageRef="M_order" />
    </bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Paid" procflow:correlationKey="input.order.id">
      <bpmn:messageEventDefinition messageRef="M_paid" />
    </bpmn:intermediateCatchEvent>
    <bpmn:receiveTask id="Confirm" messageRef="M_confirm" />
    <bpmn:boundaryEvent id="Cancelled" attachedToRef="Confirm" cancelActivity="false">
      <bpmn:messageEventDefinition messageRef="M_cancel" />
    </bpmn:boundaryEvent>
    <bpmn:intermediateThrowEvent id="Notify" camunda:type="external" camunda:topic="mail">
      <bpmn:messageEventDefinition />
    </bpmn:intermediateThrowEvent>
    <bpmn:endEvent id="End" />
    <bpmn:endEvent id="End_2" />
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Paid" />
    <bpmn:sequenceFlow id="f2" sourceRef="Paid" targetRef="Confirm" />
    <bpmn:sequenceFlow id="f3" sourceRef="Confirm" targetRef="Notify" />
    <bpmn:sequenceFlow id="f4" sourceRef="Notify" targetRef="End" />
    <bpmn:sequenceFlow id="f5" sourceRef="Cancelled" targetRef="End_2" />
"""
DECLARED = f"""\
  <bpmn:message id="M_order" name="order-placed" />
  <bpmn:message id="M_paid" name="paid" />
  <bpmn:message id="M_confirm" name="confirmed">
    <bpmn:extensionElements>
      <zeebe:subscription {ZEEBE} correlationKey="=order.id" />
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:message id="M_cancel" name="cancel" />
"""


def test_message_events_receive_tasks_and_message_throws_are_read() -> None:
    [parsed] = parse_bpmn(document(DECLARED, process(MESSAGES)), "test.bpmn")
    nodes = parsed.definition.nodes
    start, paid, confirm = nodes["Start"], nodes["Paid"], nodes["Confirm"]
    cancelled, notify = nodes["Cancelled"], nodes["Notify"]
    assert isinstance(start, StartNode) and start.message == MessageSpec("order-placed")
    assert isinstance(paid, MessageCatchNode) and not paid.receive_task
    assert paid.message.correlation_key is not None
    assert paid.message.correlation_key.source == "input.order.id"
    assert isinstance(confirm, MessageCatchNode) and confirm.receive_task
    assert confirm.message.correlation_key is not None
    assert confirm.message.correlation_key.source == "input.order.id"  # from zeebe:subscription
    assert isinstance(cancelled, BoundaryEvent) and not cancelled.interrupting
    assert cancelled.message == MessageSpec("cancel")
    assert isinstance(notify, TaskNode) and notify.external == ExternalWork("mail", 3)
    [again] = parse_bpmn(export_bpmn(parsed.definition), "again.bpmn")
    assert again.definition.nodes.keys() == nodes.keys()
    assert again.definition.nodes["Confirm"] == confirm


def test_a_message_ref_to_nothing_is_refused() -> None:
    data = document(process(MESSAGES))
    problem = find(problems_of(data), "messageRef 'M_paid' names no bpmn:message", "Paid",
                   line_of(data, 'messageRef="M_paid"'))  # fmt: skip
    assert problem.line is not None
