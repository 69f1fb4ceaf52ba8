"""Elements Procflow does not run yet are reported with their id and line, never skipped."""

from __future__ import annotations

import pytest

from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import document, line_of, minimal_body, process

STANDALONE = [
    ("transaction", ""),
    ("adHocSubProcess", ""),
    ("complexGateway", ""),
    ("sendTask", ""),
]


@pytest.mark.parametrize(("tag", "inner"), STANDALONE)
def test_unsupported_element_is_reported_with_id_and_line(tag: str, inner: str) -> None:
    attached = ' attachedToRef="Task"' if tag == "boundaryEvent" else ""
    element = f'    <bpmn:{tag} id="Unsupported_1"{attached}>{inner}</bpmn:{tag}>\n'
    data = document(process(minimal_body(element)))
    problems = problems_of(data)
    find(
        problems,
        f"bpmn:{tag} is not supported yet",
        "Unsupported_1",
        line_of(data, element.strip()),
    )
    assert len(problems) == 1, [str(p) for p in problems]


# Catch and boundary events run with a timer; any other trigger is refused as a whole.
TRIGGERED = [
    ("intermediateCatchEvent", "signalEventDefinition", "signal"),
    ("intermediateCatchEvent", "conditionalEventDefinition", "conditional"),
    ("intermediateCatchEvent", "linkEventDefinition", "link"),
    ("boundaryEvent", "escalationEventDefinition", "escalation"),
    ("boundaryEvent", "compensateEventDefinition", "compensate"),
    ("boundaryEvent", "signalEventDefinition", "signal"),
]


@pytest.mark.parametrize(("tag", "definition", "kind"), TRIGGERED)
def test_event_with_a_trigger_other_than_a_timer_is_reported(
    tag: str, definition: str, kind: str
) -> None:
    attached = ' attachedToRef="Task"' if tag == "boundaryEvent" else ""
    element = f'    <bpmn:{tag} id="Event_1"{attached}><bpmn:{definition} /></bpmn:{tag}>\n'
    data = document(process(minimal_body(element)))
    problems = problems_of(data)
    message = f"{kind} {tag} ({definition}) is not supported yet"
    find(problems, message, "Event_1", line_of(data, element.strip()))
    assert len(problems) == 1, [str(p) for p in problems]


def test_catch_event_without_any_trigger_is_reported() -> None:
    element = '    <bpmn:intermediateCatchEvent id="Event_1" />\n'
    data = document(process(minimal_body(element)))
    problems = problems_of(data)
    find(problems, "without a timer, error or message", "Event_1", line_of(data, "Event_1"))
    assert len(problems) == 1, [str(p) for p in problems]


@pytest.mark.parametrize(
    ("definition", "kind"),
    [
        ("escalationEventDefinition", "escalation"),
        ("signalEventDefinition", "signal"),
        ("conditionalEventDefinition", "conditional"),
    ],
)
def test_start_event_with_an_event_definition_is_reported(definition: str, kind: str) -> None:
    inner = f'      <bpmn:{definition} id="Definition_1" />\n'
    body = minimal_body().replace(
        "      <bpmn:outgoing>Flow_1</bpmn:outgoing>\n",
        "      <bpmn:outgoing>Flow_1</bpmn:outgoing>\n" + inner,
    )
    data = document(process(body))
    problem = find(problems_of(data), "is not supported yet", "Start", line_of(data, definition))
    assert problem.message.startswith(f"{kind} startEvent ({definition})")


def test_multi_instance_task_is_reported() -> None:
    body = minimal_body().replace(
        "      <bpmn:outgoing>Flow_2</bpmn:outgoing>\n",
        "      <bpmn:outgoing>Flow_2</bpmn:outgoing>\n"
        '      <bpmn:multiInstanceLoopCharacteristics isSequential="true" />\n',
    )
    data = document(process(body))
    find(problems_of(data), "multi-instance", "Task", line_of(data, "multiInstance"))


def test_script_of_a_script_task_is_reported_not_run() -> None:
    body = minimal_body(task_tag="scriptTask").replace(
        "      <bpmn:outgoing>Flow_2</bpmn:outgoing>\n",
        "      <bpmn:outgoing>Flow_2</bpmn:outgoing>\n"
        "      <bpmn:script>execution.setVariable('x', 1)</bpmn:script>\n",
    )
    data = document(process(body))
    find(problems_of(data), "scripts are not run", "Task", line_of(data, "<bpmn:script>"))


def test_unsupported_element_in_the_path_does_not_make_the_rest_unreachable() -> None:
    body = minimal_body().replace(
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End" />',
        """<bpmn:intermediateCatchEvent id="Wait">
      <bpmn:signalEventDefinition />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="Wait" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Wait" targetRef="End" />""",
    )
    data = document(process(body))
    problems = problems_of(data)
    assert [(p.element_id, p.message) for p in problems] == [
        (
            "Wait",
            "signal intermediateCatchEvent (signalEventDefinition) is not supported yet: "
            "Procflow has no signal broadcast; use a message (correlated by name and key)",
        )
    ]


def test_flows_out_of_an_unsupported_gateway_are_not_blamed() -> None:
    body = minimal_body().replace(
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End" />',
        """<bpmn:complexGateway id="Any" />
    <bpmn:endEvent id="End_2" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="Any" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Any" targetRef="End">
      <bpmn:conditionExpression>input.a == 1</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Any" targetRef="End_2" />""",
    )
    problems = problems_of(document(process(body)))
    assert [p.element_id for p in problems] == ["Any"]
