"""BPMN documents written the way bpmn.io writes them, for the tests."""

from __future__ import annotations

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"'
    ' xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"'
    ' xmlns:di="http://www.omg.org/spec/DD/20100524/DI"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    ' xmlns:procflow="https://procflow.dev/schema/bpmn"'
    ' id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn"'
    ' exporter="bpmn-js (https://demo.bpmn.io)" exporterVersion="17.11.1">\n'
)
FOOTER = "</bpmn:definitions>\n"


def document(*parts: str) -> bytes:
    return (HEADER + "".join(parts) + FOOTER).encode("utf-8")


def process(body: str, process_id: str = "Process_1", name: str | None = None) -> str:
    name_attribute = f' name="{name}"' if name is not None else ""
    return (
        f'  <bpmn:process id="{process_id}"{name_attribute} isExecutable="false">\n'
        f"{body}"
        "  </bpmn:process>\n"
    )


def line_of(data: bytes, needle: str) -> int:
    """The 1-based line of the first line containing ``needle``."""
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in document")


# A start, a user task named in German, a gateway with a default and a condition, two ends.
REVIEW_BODY = """\
    <bpmn:startEvent id="StartEvent_1" name="Antrag eingegangen">
      <bpmn:outgoing>Flow_0a1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Activity_review" name="Überprüfung des Antrags">
      <bpmn:extensionElements>
        <procflow:action name="decide" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_0a1</bpmn:incoming>
      <bpmn:outgoing>Flow_0b2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Gateway_ok" name="Antrag in Ordnung?" default="Flow_no">
      <bpmn:incoming>Flow_0b2</bpmn:incoming>
      <bpmn:outgoing>Flow_yes</bpmn:outgoing>
      <bpmn:outgoing>Flow_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:endEvent id="Event_accepted" name="Angenommen">
      <bpmn:incoming>Flow_yes</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="Event_declined" name="Abgelehnt">
      <bpmn:incoming>Flow_no</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_0a1" sourceRef="StartEvent_1" targetRef="Activity_review" />
    <bpmn:sequenceFlow id="Flow_0b2" sourceRef="Activity_review" targetRef="Gateway_ok" />
    <bpmn:sequenceFlow id="Flow_yes" name="ja" sourceRef="Gateway_ok" targetRef="Event_accepted">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        input.review.ok == true
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_no" name="nein" sourceRef="Gateway_ok" targetRef="Event_declined" />
"""

REVIEW_DI = """\
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1">
      <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="99" width="36" height="36" />
        <bpmndi:BPMNLabel>
          <dc:Bounds x="155" y="142" width="85" height="27" />
        </bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_review_di" bpmnElement="Activity_review">
        <dc:Bounds x="270" y="77" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_ok_di" bpmnElement="Gateway_ok" isMarkerVisible="true">
        <dc:Bounds x="425" y="92" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_accepted_di" bpmnElement="Event_accepted">
        <dc:Bounds x="532" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_declined_di" bpmnElement="Event_declined">
        <dc:Bounds x="532" y="212" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_0a1_di" bpmnElement="Flow_0a1">
        <di:waypoint x="215" y="117" />
        <di:waypoint x="270" y="117" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0b2_di" bpmnElement="Flow_0b2">
        <di:waypoint x="370" y="117" />
        <di:waypoint x="425" y="117" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_yes_di" bpmnElement="Flow_yes">
        <di:waypoint x="475" y="117" />
        <di:waypoint x="532" y="117" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_no_di" bpmnElement="Flow_no">
        <di:waypoint x="450" y="142" />
        <di:waypoint x="450" y="230" />
        <di:waypoint x="532" y="230" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
"""

REVIEW = document(process(REVIEW_BODY, name="document_review"), REVIEW_DI)

# The same process as REVIEW, in the YAML format.
REVIEW_YAML = """\
name: document_review
nodes:
  - {id: StartEvent_1, type: start, name: Antrag eingegangen}
  - {id: Activity_review, type: userTask, name: Überprüfung des Antrags, actions: [decide]}
  - {id: Gateway_ok, type: exclusiveGateway, name: "Antrag in Ordnung?", default: Flow_no}
  - {id: Event_accepted, type: end, name: Angenommen}
  - {id: Event_declined, type: end, name: Abgelehnt}
flows:
  - {id: Flow_0a1, from: StartEvent_1, to: Activity_review}
  - {id: Flow_0b2, from: Activity_review, to: Gateway_ok}
  - id: Flow_yes
    name: ja
    from: Gateway_ok
    to: Event_accepted
    condition: input.review.ok == true
  - {id: Flow_no, name: nein, from: Gateway_ok, to: Event_declined}
"""


def minimal_body(
    middle: str = "", start: str = "", end_id: str = "End", task_tag: str = "task"
) -> str:
    """Start -> Task -> End with ``middle`` added to the process and ``start`` inside the start
    event's element, for tests that need a small valid process around what they check."""
    return f"""\
    <bpmn:startEvent id="Start"{start}>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:{task_tag} id="Task" name="Do it">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:{task_tag}>
    <bpmn:endEvent id="{end_id}">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Task" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="{end_id}" />
{middle}"""
