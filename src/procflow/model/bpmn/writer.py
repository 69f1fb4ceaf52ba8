"""Writing a definition as BPMN 2.0 XML that bpmn.io and Camunda Modeler open.

The diagram is either the one a modeler drew (kept from the parsed file) or laid out
automatically; elements missing from a kept drawing are laid out like a fresh one.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping

from lxml import etree

from procflow import __version__
from procflow.model.bpmn.layout import Box, Layout, Point, layout
from procflow.model.bpmn.namespaces import DC_NS, DI_NS, NSMAP, XSI_NS, bpmn, bpmndi, procflow
from procflow.model.bpmn.reader import BpmnProcess
from procflow.model.bpmn.timers import write_timer
from procflow.model.definition import (
    DEFAULT_RETRIES,
    BoundaryEvent,
    CallActivityNode,
    EndNode,
    EventBasedGateway,
    ExclusiveGateway,
    Flow,
    InclusiveGateway,
    MessageCatchNode,
    MessageSpec,
    Node,
    ParallelGateway,
    ProcessDefinition,
    StartNode,
    SubProcessNode,
    TaskNode,
    TimerCatchNode,
    UserTaskNode,
    default_flow_of,
    message_of,
    timer_of,
)
from procflow.model.loops import DEFAULT_ELEMENT_VARIABLE, LoopSpec

TARGET_NAMESPACE = "https://procflow.dev/processes"

_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")

Diagram = Mapping[str, etree._Element]


def export_bpmn(
    definition: ProcessDefinition, process_id: str | None = None, diagram: Diagram | None = None
) -> bytes:
    """The definition as a BPMN 2.0 document (UTF-8, with diagram interchange).

    ``diagram`` is the drawing of a parsed file (``BpmnProcess.diagram``): shapes and edges it
    has are kept as drawn, the rest are laid out automatically.
    """
    process_id = process_id or default_process_id(definition)
    root = etree.Element(bpmn("definitions"), nsmap=NSMAP)
    root.set("id", f"Definitions_{process_id}")
    root.set("targetNamespace", TARGET_NAMESPACE)
    root.set("exporter", "procflow")
    root.set("exporterVersion", __version__)
    _write_process(etree.SubElement(root, bpmn("process")), definition, process_id)
    _write_diagram(root, definition, process_id, diagram or {})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def default_process_id(definition: ProcessDefinition) -> str:
    """An XML id for the process derived from its name, clear of node and flow ids."""
    candidate = _NOT_ID_CHARS.sub("_", definition.name)
    if not re.match(r"[A-Za-z_]", candidate):
        candidate = f"Process_{candidate}"
    taken = set(definition.nodes) | {flow.id for flow in definition.flows}
    while candidate in taken:
        candidate = f"{candidate}_process"
    return candidate


def _write_process(process: etree._Element, definition: ProcessDefinition, process_id: str) -> None:
    process.set("id", process_id)
    process.set("name", definition.name)
    process.set("isExecutable", "true")
    if definition.expiry_time is not None:
        process.set(procflow("expiryTime"), definition.expiry_time)
    if definition.description:
        etree.SubElement(process, bpmn("documentation")).text = definition.description
    # A subprocess's element before its content, which is written inside it.
    containers: dict[str | None, etree._Element] = {None: process}
    for node in sorted(definition.nodes.values(), key=lambda n: _depth(definition, n.id)):
        element = _write_node(containers[definition.scope_of(node.id)], node)
        if isinstance(node, SubProcessNode):
            containers[node.id] = element
        for flow in definition.incoming_flows(node.id):
            etree.SubElement(element, bpmn("incoming")).text = flow.id
        for flow in definition.outgoing_flows(node.id):
            etree.SubElement(element, bpmn("outgoing")).text = flow.id
        _write_node_content(process, element, node, definition)
    for flow in definition.flows:
        _write_flow(containers.get(definition.scope_of(flow.source), process), flow)


def _write_node_content(
    process: etree._Element, element: etree._Element, node: Node, definition: ProcessDefinition
) -> None:
    """What follows a node's incoming/outgoing (BPMN's sequence: an event's definitions come
    after them), and the default flow of a gateway or an activity (implicit split)."""
    default = default_flow_of(node)
    if default:
        element.set("default", default)
    timer = timer_of(node)
    if timer is not None:
        write_timer(element, timer)
    _write_error_and_terminate(process, element, node)
    loop = definition.loop_of(node.id)
    if loop is not None:
        write_loop(element, loop)


def _depth(definition: ProcessDefinition, node_id: str) -> int:
    depth, scope = 0, definition.scope_of(node_id)
    while scope is not None:
        depth, scope = depth + 1, definition.scope_of(scope)
    return depth


def write_loop(element: etree._Element, loop: LoopSpec) -> None:
    written = etree.SubElement(element, bpmn("multiInstanceLoopCharacteristics"))
    if loop.sequential:
        written.set("isSequential", "true")
    written.set(procflow("collection"), loop.collection.source)
    if loop.element_variable != DEFAULT_ELEMENT_VARIABLE:
        written.set(procflow("elementVariable"), loop.element_variable)
    if loop.output_element is not None:
        written.set(procflow("outputElement"), loop.output_element.source)
    if loop.output_collection is not None:
        written.set(procflow("outputCollection"), loop.output_collection)
    if loop.completion_condition is not None:
        condition = etree.SubElement(written, bpmn("completionCondition"))
        condition.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
        condition.text = loop.completion_condition.source


def _write_error_and_terminate(
    process: etree._Element, element: etree._Element, node: Node
) -> None:
    message = message_of(node)
    if message is not None and not (isinstance(node, MessageCatchNode) and node.receive_task):
        definition = etree.SubElement(element, bpmn("messageEventDefinition"))
        definition.set("messageRef", _message_id(process, message))
    elif isinstance(node, BoundaryEvent) and node.error is not None:
        if node.error.variable:
            element.set(procflow("errorVariable"), node.error.variable)
        definition = etree.SubElement(element, bpmn("errorEventDefinition"))
        if node.error.code is not None:
            definition.set("errorRef", _error_id(process, node.error.code))
    elif isinstance(node, EndNode) and node.error_code is not None:
        definition = etree.SubElement(element, bpmn("errorEventDefinition"))
        definition.set("errorRef", _error_id(process, node.error_code))
    elif isinstance(node, EndNode) and node.terminate:
        etree.SubElement(element, bpmn("terminateEventDefinition"))


def _message_id(where: etree._Element, message: MessageSpec) -> str:
    """The id of the file's ``bpmn:message`` for this name and key, declared once."""
    process = _process_of(where)
    root = process.getparent()
    assert root is not None
    key = message.correlation_key.source if message.correlation_key else None
    for declared in root.iterchildren(bpmn("message")):
        if declared.get("name") == message.name and declared.get(procflow("correlationKey")) == key:
            return str(declared.get("id"))
    message_id = (
        f"Message_{_NOT_ID_CHARS.sub('_', message.name)}_{len(root.findall(bpmn('message'))) + 1}"
    )
    declared = etree.Element(bpmn("message"))
    declared.set("id", message_id)
    declared.set("name", message.name)
    if key is not None:
        declared.set(procflow("correlationKey"), key)
    process.addprevious(declared)
    return message_id


def _error_id(where: etree._Element, code: str) -> str:
    """The id of the file's ``bpmn:error`` for ``code``, declared once before the process."""
    process = _process_of(where)
    root = process.getparent()
    assert root is not None
    for error in root.iterchildren(bpmn("error")):
        if error.get("errorCode") == code:
            return str(error.get("id"))
    error_id = f"Error_{_NOT_ID_CHARS.sub('_', code)}_{len(root.findall(bpmn('error'))) + 1}"
    error = etree.Element(bpmn("error"))
    error.set("id", error_id)
    error.set("name", code)
    error.set("errorCode", code)
    process.addprevious(error)
    return error_id


def _process_of(element: etree._Element) -> etree._Element:
    """The ``bpmn:process`` an element (maybe inside subprocesses) is written in."""
    while element.tag != bpmn("process"):
        parent = element.getparent()
        assert parent is not None
        element = parent
    return element


def _new(parent: etree._Element, tag: str, node_id: str, name: str) -> etree._Element:
    element = etree.SubElement(parent, bpmn(tag))
    element.set("id", node_id)
    if name:
        element.set("name", name)
    return element


def _extension(element: etree._Element, local: str) -> etree._Element:
    container = element.find(bpmn("extensionElements"))
    if container is None:
        container = etree.SubElement(element, bpmn("extensionElements"))
    return etree.SubElement(container, procflow(local))


# Nodes written as a bare element: everything they say is in their id, name and flows.
_PLAIN_TAGS: dict[type, str] = {
    ParallelGateway: "parallelGateway",
    EndNode: "endEvent",
    TimerCatchNode: "intermediateCatchEvent",
    EventBasedGateway: "eventBasedGateway",
}


def _write_node(process: etree._Element, node: Node) -> etree._Element:
    match node:
        case StartNode():
            return _write_start(process, node)
        case TaskNode():
            return _write_task(process, node)
        case UserTaskNode():
            return _write_user_task(process, node)
        case ExclusiveGateway() | InclusiveGateway():
            tag = "exclusiveGateway" if isinstance(node, ExclusiveGateway) else "inclusiveGateway"
            return _new(process, tag, node.id, node.name)
        case BoundaryEvent() | MessageCatchNode():
            return _write_catching(process, node)
        case ParallelGateway() | EndNode() | TimerCatchNode() | EventBasedGateway():
            return _new(process, _PLAIN_TAGS[type(node)], node.id, node.name)
        case SubProcessNode() | CallActivityNode():
            return _write_container(process, node)


def _write_user_task(process: etree._Element, node: UserTaskNode) -> etree._Element:
    element = _new(process, "userTask", node.id, node.name)
    for action in node.actions:
        _extension(element, "action").set("name", action)
    return element


def _write_container(
    process: etree._Element, node: SubProcessNode | CallActivityNode
) -> etree._Element:
    """Activities that run other tokens: a subprocess (its content is written by the caller)
    and a call activity (a child instance)."""
    if isinstance(node, SubProcessNode):
        return _new(process, "subProcess", node.id, node.name)
    return _write_call(process, node)


def _write_call(process: etree._Element, node: CallActivityNode) -> etree._Element:
    element = _new(process, "callActivity", node.id, node.name)
    element.set("calledElement", node.called_element)
    if node.binding != "build":
        element.set(procflow("binding"), node.binding)
    if node.params_to_copy is not None:
        element.set(procflow("paramsToCopy"), ",".join(node.params_to_copy))
    if node.without_params:
        element.set(procflow("withoutParams"), ",".join(node.without_params))
    if node.output_key is not None:
        element.set(procflow("outputKey"), node.output_key)
    if node.is_async:
        element.set(procflow("async"), "true")
    return element


def _write_catching(
    process: etree._Element, node: BoundaryEvent | MessageCatchNode
) -> etree._Element:
    if isinstance(node, BoundaryEvent):
        element = _new(process, "boundaryEvent", node.id, node.name)
        element.set("attachedToRef", node.attached_to)
        if not node.interrupting:
            element.set("cancelActivity", "false")
        return element
    if not node.receive_task:
        return _new(process, "intermediateCatchEvent", node.id, node.name)
    element = _new(process, "receiveTask", node.id, node.name)
    element.set("messageRef", _message_id(process, node.message))
    return element


def _write_start(process: etree._Element, node: StartNode) -> etree._Element:
    element = _new(process, "startEvent", node.id, node.name)
    if node.start_condition:
        element.set(procflow("startCondition"), node.start_condition)
    for path in node.mandatory_params:
        _extension(element, "mandatoryParam").set("path", path)
    if node.data_schema is not None:
        _extension(element, "schema").text = json.dumps(node.data_schema, ensure_ascii=False)
    return element


def _write_task(process: etree._Element, node: TaskNode) -> etree._Element:
    tag = "serviceTask" if node.external else "businessRuleTask" if node.rules else "task"
    element = _new(process, tag, node.id, node.name)
    if node.external is not None:
        element.set(procflow("topic"), node.external.topic)
        if node.external.retries != DEFAULT_RETRIES:
            element.set(procflow("retries"), str(node.external.retries))
    if node.is_async:
        element.set(procflow("async"), "true")
    for rule in node.rules:
        rule_element = _extension(element, "rule")
        rule_element.set("name", rule.name)
        for assignment in rule.assignments:
            assign = etree.SubElement(rule_element, procflow("set"))
            assign.set("path", assignment.path)
            assign.text = assignment.expression.source
    return element


def _write_flow(process: etree._Element, flow: Flow) -> None:
    element = _new(process, "sequenceFlow", flow.id, flow.name)
    element.set("sourceRef", flow.source)
    element.set("targetRef", flow.target)
    if flow.action is not None:
        element.set(procflow("action"), flow.action)
    if flow.condition is not None:
        condition = etree.SubElement(element, bpmn("conditionExpression"))
        condition.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
        condition.text = flow.condition.source


def _write_diagram(
    root: etree._Element, definition: ProcessDefinition, process_id: str, drawn: Diagram
) -> None:
    diagram = etree.SubElement(root, bpmndi("BPMNDiagram"))
    diagram.set("id", f"BPMNDiagram_{process_id}")
    plane = etree.SubElement(diagram, bpmndi("BPMNPlane"))
    plane.set("id", f"BPMNPlane_{process_id}")
    plane.set("bpmnElement", process_id)
    auto = layout(definition)
    planes: dict[str | None, etree._Element] = {None: plane}
    for node in sorted(definition.nodes.values(), key=lambda n: _depth(definition, n.id)):
        kept = drawn.get(node.id)
        target = planes[definition.scope_of(node.id)]
        target.append(
            copy.deepcopy(kept) if kept is not None else _shape(node, auto.boxes[node.id])
        )
        if isinstance(node, SubProcessNode):
            planes[node.id] = target if _expanded(kept) else _drill_down_plane(root, node.id)
    for flow in definition.flows:
        kept = drawn.get(flow.id)
        planes.get(definition.scope_of(flow.source), plane).append(
            copy.deepcopy(kept) if kept is not None else _edge(flow.id, _waypoints(auto, flow))
        )


def _expanded(shape: etree._Element | None) -> bool:
    """A subprocess drawn expanded has its content on its parent's plane."""
    return shape is not None and shape.get("isExpanded") == "true"


def _drill_down_plane(root: etree._Element, subprocess_id: str) -> etree._Element:
    """The plane of a collapsed subprocess's content (bpmn.io's drill-down view)."""
    diagram = etree.SubElement(root, bpmndi("BPMNDiagram"))
    diagram.set("id", f"BPMNDiagram_{subprocess_id}")
    plane = etree.SubElement(diagram, bpmndi("BPMNPlane"))
    plane.set("id", f"BPMNPlane_{subprocess_id}")
    plane.set("bpmnElement", subprocess_id)
    return plane


def _shape(node: Node, box: Box) -> etree._Element:
    shape = etree.Element(bpmndi("BPMNShape"))
    shape.set("id", f"{node.id}_di")
    shape.set("bpmnElement", node.id)
    if isinstance(node, ExclusiveGateway):
        shape.set("isMarkerVisible", "true")
    if isinstance(node, SubProcessNode):
        shape.set("isExpanded", "false")
    bounds = etree.SubElement(shape, f"{{{DC_NS}}}Bounds")
    for attribute, value in (("x", box.x), ("y", box.y)):
        bounds.set(attribute, str(value))
    bounds.set("width", str(box.width))
    bounds.set("height", str(box.height))
    return shape


def _waypoints(auto: Layout, flow: Flow) -> list[Point]:
    return auto.waypoints.get(flow.id, [])


def _edge(flow_id: str, points: list[Point]) -> etree._Element:
    edge = etree.Element(bpmndi("BPMNEdge"))
    edge.set("id", f"{flow_id}_di")
    edge.set("bpmnElement", flow_id)
    for x, y in points:
        waypoint = etree.SubElement(edge, f"{{{DI_NS}}}waypoint")
        waypoint.set("x", str(x))
        waypoint.set("y", str(y))
    return edge


def export_bpmn_process(process: BpmnProcess) -> bytes:
    """A parsed process written back, keeping the ids and the drawing of its source file."""
    return export_bpmn(process.definition, process.id, process.diagram)
