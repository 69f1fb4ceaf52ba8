"""Timer events, boundary events and event-based gateways in BPMN: read, refused, exported."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from procflow.model.bpmn import export_bpmn, export_bpmn_process, parse_bpmn
from procflow.model.definition import (
    BoundaryEvent,
    EventBasedGateway,
    ProcessDefinition,
    StartNode,
    TimerCatchNode,
)
from procflow.model.timers import TimerKind, TimerSpec
from procflow.model.yaml_format import parse_definition_text
from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import document, line_of, process

FILES = Path(__file__).parent / "files"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
}

# As bpmn.io writes them: a cron start, a user task with two boundary timers, a gateway
# racing a computed wait against a fixed one.
BODY = """\
    <bpmn:startEvent id="Start">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:startEvent id="Daily" name="Every weekday">
      <bpmn:outgoing>Flow_0</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_0" procflow:cron="0 9 * * MON-FRI" />
    </bpmn:startEvent>
    <bpmn:userTask id="Review">
      <bpmn:extensionElements>
        <procflow:action name="done" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_0</bpmn:incoming>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Remind" cancelActivity="false" attachedToRef="Review">
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_1">
        <bpmn:timeCycle xsi:type="bpmn:tFormalExpression">R3/PT1H</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:boundaryEvent id="Deadline" attachedToRef="Review">
      <bpmn:outgoing>Flow_4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_2">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">2027-01-01T09:00:00Z</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:task id="Nudge">
      <bpmn:incoming>Flow_3</bpmn:incoming>
      <bpmn:outgoing>Flow_5</bpmn:outgoing>
    </bpmn:task>
    <bpmn:eventBasedGateway id="Race">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_6</bpmn:outgoing>
      <bpmn:outgoing>Flow_7</bpmn:outgoing>
    </bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="Computed">
      <bpmn:incoming>Flow_6</bpmn:incoming>
      <bpmn:outgoing>Flow_8</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_3">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=input.wait</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="Fixed" name="15 seconds">
      <bpmn:incoming>Flow_7</bpmn:incoming>
      <bpmn:outgoing>Flow_9</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_4">
        <bpmn:timeDuration>PT15S</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End">
      <bpmn:incoming>Flow_4</bpmn:incoming>
      <bpmn:incoming>Flow_5</bpmn:incoming>
      <bpmn:incoming>Flow_8</bpmn:incoming>
      <bpmn:incoming>Flow_9</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_0" sourceRef="Daily" targetRef="Review" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Review" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Review" targetRef="Race" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Remind" targetRef="Nudge" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Deadline" targetRef="End" />
    <bpmn:sequenceFlow id="Flow_5" sourceRef="Nudge" targetRef="End" />
    <bpmn:sequenceFlow id="Flow_6" sourceRef="Race" targetRef="Computed" />
    <bpmn:sequenceFlow id="Flow_7" sourceRef="Race" targetRef="Fixed" />
    <bpmn:sequenceFlow id="Flow_8" sourceRef="Computed" targetRef="End" />
    <bpmn:sequenceFlow id="Flow_9" sourceRef="Fixed" targetRef="End" />
"""


def waits(body: str = BODY, expiry: str = ' procflow:expiryTime="P7D"') -> bytes:
    return document(process(body, name="waits").replace(" isExecutable", f"{expiry} isExecutable"))


def parsed(data: bytes) -> ProcessDefinition:
    [found] = parse_bpmn(data, "waits.bpmn")
    return found.definition


def edit(old: str, new: str) -> bytes:
    assert old in BODY, old
    return waits(BODY.replace(old, new))


def test_every_timer_element_is_read() -> None:
    definition = parsed(waits())
    assert definition.expiry_time == "P7D"
    assert definition.nodes["Daily"] == StartNode(
        "Daily", "Every weekday", timer=TimerSpec(TimerKind.CRON, "0 9 * * MON-FRI")
    )
    assert definition.nodes["Remind"] == BoundaryEvent(
        "Remind", "", "Review", TimerSpec(TimerKind.CYCLE, "R3/PT1H"), interrupting=False
    )
    assert definition.nodes["Deadline"] == BoundaryEvent(
        "Deadline", "", "Review", TimerSpec(TimerKind.DATE, "2027-01-01T09:00:00Z")
    )
    assert definition.nodes["Race"] == EventBasedGateway("Race")
    assert definition.nodes["Fixed"] == TimerCatchNode(
        "Fixed", "15 seconds", TimerSpec(TimerKind.DURATION, "PT15S")
    )
    computed = definition.nodes["Computed"]
    assert isinstance(computed, TimerCatchNode)
    assert computed.timer.expression is not None
    assert computed.timer.value == "input.wait"
    assert [b.id for b in definition.boundaries_of("Review")] == ["Remind", "Deadline"]


def test_cel_language_on_the_expression_means_cel_without_equals() -> None:
    data = edit("<bpmn:timeDuration>PT15S", '<bpmn:timeDuration language="cel">input.wait')
    fixed = parsed(data).nodes["Fixed"]
    assert isinstance(fixed, TimerCatchNode)
    assert fixed.timer.expression is not None


def test_same_definition_as_the_yaml_form() -> None:
    yaml_text = (FILES / "waits.yaml").read_text()
    from_yaml = parse_definition_text(yaml_text, "waits.yaml")
    assert parsed(waits()) == from_yaml


@pytest.mark.parametrize(
    ("old", "new", "element_id", "fragment", "line_needle"),
    [
        ("PT15S</", "15 seconds</", "Fixed", "'15 seconds' is not an ISO 8601", 'id="Fixed"'),
        ("R3/PT1H", "R3/PT", "Remind", "not an ISO 8601 duration", 'id="Remind"'),
        ("R3/PT1H", "0 * * * *", "Remind", "use a cron timer (procflow:cron", 'id="Remind"'),
        ("2027-01-01T09:00:00Z", "${deadline}", "Deadline", "JUEL", 'id="Deadline"'),
        ("0 9 * * MON-FRI", "0 9 * *", "Daily", "five cron fields", 'id="Daily"'),
        ('cancelActivity="false" ', "", "Remind", "only a non-interrupting", 'id="Remind"'),
        (
            'cancelActivity="false"',
            'cancelActivity="no"',
            "Remind",
            "'true' or 'false'",
            'id="Remind"',
        ),
        (
            ' attachedToRef="Review">\n      <bpmn:outgoing>Flow_4',
            ">\n      <bpmn:outgoing>Flow_4",
            "Deadline",
            "needs an attachedToRef",
            'id="Deadline"',
        ),
        (
            'attachedToRef="Review">\n      <bpmn:outgoing>Flow_4',
            'attachedToRef="Race">\n      <bpmn:outgoing>Flow_4',
            "Deadline",
            "not to eventGateway 'Race'",
            'id="Deadline"',
        ),
        (
            "<bpmn:timeDuration>PT15S</bpmn:timeDuration>",
            "<bpmn:timeDuration>PT15S</bpmn:timeDuration><bpmn:timeDate>2027-01-01T00:00:00Z</bpmn:timeDate>",
            "Fixed",
            "takes only one of timeDuration",
            "TimerEventDefinition_4",
        ),
        (
            "<bpmn:timeDuration>PT15S</bpmn:timeDuration>",
            "",
            "Fixed",
            "has none of timeDuration",
            "TimerEventDefinition_4",
        ),
        (
            "<bpmn:timeDuration>PT15S",
            '<bpmn:timeDuration language="http://www.w3.org/1999/XPath">PT15S',
            "Fixed",
            "timer language",
            "XPath",
        ),
        (
            "<bpmn:timeDuration>PT15S",
            '<bpmn:timeDuration xsi:type="bpmn:tExpression">PT15S',
            "Fixed",
            "xsi:type 'bpmn:tExpression'",
            "tExpression",
        ),
        (
            "<bpmn:timeDuration>PT15S",
            "<bpmn:timeDuration>=input.+",
            "Fixed",
            "does not compile",
            "=input.+",
        ),
        (
            'id="TimerEventDefinition_4">',
            'id="TimerEventDefinition_4" procflow:async="true">',
            "Fixed",
            "procflow:async is not allowed on bpmn:timerEventDefinition",
            "TimerEventDefinition_4",
        ),
        (
            "<bpmn:timeDuration>PT15S</bpmn:timeDuration>",
            "<bpmn:timeDuration>PT15S</bpmn:timeDuration></bpmn:timerEventDefinition>"
            "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration>",
            "Fixed",
            "one timerEventDefinition",
            "PT1S",
        ),
        (
            '<bpmn:eventBasedGateway id="Race">',
            '<bpmn:eventBasedGateway id="Race" instantiate="true">',
            "Race",
            "starts the process",
            'id="Race"',
        ),
        (
            '<bpmn:eventBasedGateway id="Race">',
            '<bpmn:eventBasedGateway id="Race" eventGatewayType="Parallel">',
            "Race",
            "parallel event-based gateway",
            'id="Race"',
        ),
        (
            'targetRef="Fixed" />',
            'targetRef="Nudge" />',
            "Flow_7",
            "must lead to a timer or message catch event",
            'id="Flow_7"',
        ),
        (
            '0 9 * * MON-FRI" />',
            '0 9 * * MON-FRI" procflow:startCondition="x" />',
            "Daily",
            "procflow:startCondition is not allowed on bpmn:timerEventDefinition",
            "TimerEventDefinition_0",
        ),
    ],
)
def test_each_refusal_names_the_element_and_its_line(
    old: str, new: str, element_id: str, fragment: str, line_needle: str
) -> None:
    data = edit(old, new)
    find(problems_of(data), fragment, element_id, line_of(data, line_needle))


def test_timer_start_with_a_start_condition_is_refused() -> None:
    data = edit(
        '<bpmn:startEvent id="Daily"', '<bpmn:startEvent id="Daily" procflow:startCondition="c"'
    )
    find(problems_of(data), "cannot have a startCondition", "Daily", line_of(data, 'id="Daily"'))


def test_malformed_expiry_time_is_refused_on_the_process() -> None:
    data = waits(expiry=' procflow:expiryTime="a week"')
    find(problems_of(data), "expiryTime: duration 'a week'", "waits", line_of(data, "a week"))


def test_empty_timer_value_is_refused() -> None:
    data = edit("2027-01-01T09:00:00Z", "")
    find(problems_of(data), "the date timer is empty", "Deadline", line_of(data, 'id="Deadline"'))


def test_yaml_with_timers_exports_to_bpmn_that_reimports_equal() -> None:
    definition = parse_definition_text((FILES / "waits.yaml").read_text(), "waits.yaml")
    exported = export_bpmn(definition)
    assert parsed(exported) == definition
    root = etree.fromstring(exported)
    [boundary] = root.findall(".//bpmn:boundaryEvent[@id='Remind']", NS)
    assert boundary.get("cancelActivity") == "false"
    assert boundary.find("bpmn:timerEventDefinition/bpmn:timeCycle", NS) is not None
    [process_element] = root.findall("bpmn:process", NS)
    assert process_element.get("{https://procflow.dev/schema/bpmn}expiryTime") == "P7D"


def bounds(root: etree._Element, element_id: str) -> tuple[int, int, int, int]:
    [shape] = root.findall(f".//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", NS)
    return tuple(int(shape.get(key, "")) for key in ("x", "y", "width", "height"))  # type: ignore[return-value]


def test_boundary_events_are_drawn_on_their_activity_border() -> None:
    definition = parse_definition_text((FILES / "waits.yaml").read_text(), "waits.yaml")
    root = etree.fromstring(export_bpmn(definition))
    x, y, width, height = bounds(root, "Review")
    centres = []
    for boundary in ("Remind", "Deadline"):
        bx, by, bw, bh = bounds(root, boundary)
        assert (bw, bh) == (36, 36)
        assert by + bh // 2 == y + height  # centred on the bottom edge
        assert x <= bx + bw // 2 <= x + width
        centres.append(bx)
    assert centres[0] != centres[1]
    # What follows a boundary is laid out after the activity, not on top of it.
    assert bounds(root, "Nudge")[0] > x + width


def test_bpmn_in_bpmn_out_keeps_timers_and_drawing() -> None:
    data = waits()
    [process_found] = parse_bpmn(data, "waits.bpmn")
    again = export_bpmn_process(process_found)
    assert parsed(again) == process_found.definition
