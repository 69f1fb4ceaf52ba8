"""BPMN flow nodes and sequence flows as Procflow nodes and flows, extensions included.

What BPMN leaves open (business rules, user-task actions, start parameters, ...) is written in
the ``procflow`` namespace, either as attributes or inside ``bpmn:extensionElements``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

from lxml import etree

from procflow.model.bpmn.calls import read_call_activity
from procflow.model.bpmn.context import ReadContext
from procflow.model.bpmn.elements import TASK_TAGS
from procflow.model.bpmn.external import read_external
from procflow.model.bpmn.juel import HINT, JuelRefused, is_juel, to_cel
from procflow.model.bpmn.messages import read_message
from procflow.model.bpmn.modelers import IMPLICIT_ACTION
from procflow.model.bpmn.namespaces import PROCFLOW_NS, XSI_NS, bpmn, procflow, split_tag
from procflow.model.bpmn.timers import read_timer
from procflow.model.definition import (
    SPLITTING_KINDS,
    Assignment,
    BoundaryEvent,
    BusinessRule,
    EndNode,
    ErrorCatch,
    EventBasedGateway,
    ExclusiveGateway,
    Flow,
    InclusiveGateway,
    MessageCatchNode,
    MessageSpec,
    Node,
    ParallelGateway,
    StartNode,
    TaskNode,
    TimerCatchNode,
    UserTaskNode,
)
from procflow.model.expression import Expression

# The procflow extension children and attributes each BPMN element accepts.
_ALLOWED_CHILDREN = {
    "startEvent": {"mandatoryParam", "schema"},
    "userTask": {"action"},
    "manualTask": {"action"},
    **{tag: {"rule"} for tag in TASK_TAGS},
}
_ALLOWED_ATTRIBUTES = {
    "startEvent": {"startCondition", "correlationKey"},
    "sequenceFlow": {"action"},
    **{tag: {"async", "topic", "retries"} for tag in TASK_TAGS},
    "boundaryEvent": {"errorVariable", "correlationKey"},
    "intermediateCatchEvent": {"correlationKey"},
    "receiveTask": {"correlationKey"},
    "callActivity": {"binding", "paramsToCopy", "withoutParams", "outputKey", "async"},
}

_CEL_LANGUAGES = ("cel", "https://github.com/google/cel-spec")


def text_of(element: etree._Element) -> str:
    return "".join(str(text) for text in element.itertext()).strip()


def extensions(element: etree._Element, local: str) -> list[etree._Element]:
    """The ``procflow:<local>`` children of the element's ``bpmn:extensionElements``."""
    found: list[etree._Element] = []
    for container in element.iterchildren(bpmn("extensionElements")):
        found.extend(container.iterchildren(procflow(local)))
    return found


def check_extensions(element: etree._Element, tag: str, owner_id: str, ctx: ReadContext) -> None:
    """Report procflow attributes and extension elements this kind of element does not take."""
    for name in element.attrib:
        namespace, local = split_tag(name)
        if namespace == PROCFLOW_NS and local not in _ALLOWED_ATTRIBUTES.get(tag, set()):
            ctx.report(f"procflow:{local} is not allowed on bpmn:{tag}", owner_id, element)
    for container in element.iterchildren(bpmn("extensionElements")):
        for child in container:
            namespace, local = split_tag(child.tag)
            if namespace == PROCFLOW_NS and local not in _ALLOWED_CHILDREN.get(tag, set()):
                ctx.report(f"<procflow:{local}> is not allowed in bpmn:{tag}", owner_id, child)


def read_node(element: etree._Element, tag: str, ctx: ReadContext) -> Node:
    node_id, name = element.get("id", ""), element.get("name", "")
    check_extensions(element, tag, node_id, ctx)
    reader = _NODE_READERS.get(tag, _read_task)
    node = reader(element, node_id, name, ctx)
    default = element.get("default") or None
    if default is not None and isinstance(node, SPLITTING_KINDS):
        # An activity's default flow: taken when no other of its flows is (implicit split).
        node = replace(node, default_flow=default)
    return node


def _read_start(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    condition = element.get(procflow("startCondition"))
    if condition is not None and not condition.strip():
        ctx.report("procflow:startCondition must not be empty", node_id, element)
    params = []
    for param in extensions(element, "mandatoryParam"):
        path = param.get("path", "")
        ctx.check_path(path, node_id, param)
        params.append(path)
    schema = _read_schema(element, ctx)
    timer = read_timer(element, node_id, ctx)
    message = _message_definition(element, node_id, ctx)
    return StartNode(node_id, name, condition or None, tuple(params), schema, timer, message)


def _message_definition(
    element: etree._Element, node_id: str, ctx: ReadContext
) -> MessageSpec | None:
    definition = next(element.iterchildren(bpmn("messageEventDefinition")), None)
    return read_message(element, definition, node_id, ctx) if definition is not None else None


def _read_schema(element: etree._Element, ctx: ReadContext) -> dict[str, object] | None:
    schemas = extensions(element, "schema")
    for extra in schemas[1:]:
        ctx.report("a start event takes one <procflow:schema>", element.get("id"), extra)
    if not schemas:
        return None
    try:
        schema = json.loads(text_of(schemas[0]))
    except json.JSONDecodeError as error:
        ctx.report(f"<procflow:schema> is not valid JSON: {error}", element.get("id"), schemas[0])
        return None
    if not isinstance(schema, dict):
        ctx.report("<procflow:schema> must be a JSON object", element.get("id"), schemas[0])
        return None
    return schema


def _read_task(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    rules = tuple(
        _read_rule(rule, index, node_id, ctx)
        for index, rule in enumerate(extensions(element, "rule"))
    )
    is_async = _read_async(element, node_id, ctx)
    external = read_external(element, node_id, ctx)
    if external is not None and (rules or is_async):
        ctx.report("an external task is done by a worker: it takes no rules and no "
                   "procflow:async", node_id, element)  # fmt: skip
    return TaskNode(node_id, name, rules, is_async, external)


def _read_async(element: etree._Element, node_id: str, ctx: ReadContext) -> bool:
    value = element.get(procflow("async"), "false").strip()
    if value not in ("true", "false"):
        ctx.report(f"procflow:async must be 'true' or 'false', not {value!r}", node_id, element)
    return value == "true"


def _read_rule(rule: etree._Element, index: int, node_id: str, ctx: ReadContext) -> BusinessRule:
    assignments: list[Assignment] = []
    seen: set[str] = set()
    for child in rule:
        if child.tag != procflow("set"):
            ctx.report("<procflow:rule> may only contain <procflow:set>", node_id, child)
            continue
        path, source = child.get("path", ""), text_of(child)
        ctx.check_path(path, node_id, child)
        if path in seen:
            ctx.report(f"path {path!r} is set twice in one rule", node_id, child)
        seen.add(path)
        expression = _compile_required(source, "<procflow:set>", node_id, child, ctx)
        if expression is not None:
            assignments.append(Assignment(path, expression))
    if not seen:
        ctx.report("<procflow:rule> needs at least one <procflow:set>", node_id, rule)
    return BusinessRule(rule.get("name") or f"rule{index + 1}", tuple(assignments))


def _compile_required(
    source: str, what: str, owner_id: str, element: etree._Element, ctx: ReadContext
) -> Expression | None:
    if not source:
        ctx.report(f"{what} needs a CEL expression", owner_id, element)
        return None
    return ctx.compile(source, owner_id, element)


def _read_user_task(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    actions: list[str] = []
    for action in extensions(element, "action"):
        action_name = action.get("name", "")
        ctx.check_id(action_name, "action name", node_id, action)
        if action_name in actions:
            ctx.report(f"action {action_name!r} is defined twice", node_id, action)
        actions.append(action_name)
    # Drawn in a modeler without Procflow's extension: one action, "complete" (as API.md says).
    return UserTaskNode(node_id, name, tuple(actions) or (IMPLICIT_ACTION,))


def _read_exclusive(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    return ExclusiveGateway(node_id, name, element.get("default") or None)


def _read_inclusive(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    return InclusiveGateway(node_id, name, element.get("default") or None)


def _read_parallel(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    return ParallelGateway(node_id, name)


def _read_end(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    terminate = next(element.iterchildren(bpmn("terminateEventDefinition")), None) is not None
    thrown = next(element.iterchildren(bpmn("errorEventDefinition")), None)
    code = None
    if thrown is not None:
        code = _error_code(thrown, node_id, ctx)
        if code is None:
            ctx.report("an error end event needs an errorRef to a bpmn:error with an "
                       "errorCode", node_id, thrown)  # fmt: skip
    return EndNode(node_id, name, error_code=code, terminate=terminate)


def _error_code(definition: etree._Element, node_id: str, ctx: ReadContext) -> str | None:
    """The errorCode of the ``bpmn:error`` that ``errorRef`` names; None without a ref."""
    ref = definition.get("errorRef")
    if not ref:
        return None
    root = definition.getroottree().getroot()
    error = next((e for e in root.iterchildren(bpmn("error")) if e.get("id") == ref), None)
    if error is None:
        ctx.report(f"errorRef {ref!r} names no bpmn:error of the file", node_id, definition)
        return None
    code = error.get("errorCode", "").strip()
    if not code:
        ctx.report(f"bpmn:error {ref!r} needs an errorCode", node_id, error)
        return None
    return code


def _read_error_catch(element: etree._Element, node_id: str, ctx: ReadContext) -> ErrorCatch | None:
    definition = next(element.iterchildren(bpmn("errorEventDefinition")), None)
    if definition is None:
        return None
    variable = element.get(procflow("errorVariable"))
    if variable is not None:
        ctx.check_path(variable, node_id, element)
    return ErrorCatch(_error_code(definition, node_id, ctx), variable)


def _read_catch(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    if next(element.iterchildren(bpmn("messageEventDefinition")), None) is not None:
        message = _message_definition(element, node_id, ctx)
        return MessageCatchNode(node_id, name, message) if message else MessageCatchNode(node_id)
    timer = read_timer(element, node_id, ctx)
    # Without a timer the file is refused (reported by the reader); the node keeps the graph.
    return TimerCatchNode(node_id, name, timer) if timer else TimerCatchNode(node_id, name)


def _read_boundary(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    attached_to = element.get("attachedToRef", "")
    if not attached_to:
        ctx.report("bpmn:boundaryEvent needs an attachedToRef", node_id, element)
    cancel = element.get("cancelActivity", "true").strip()
    if cancel not in ("true", "false"):
        ctx.report(f"cancelActivity must be 'true' or 'false', not {cancel!r}", node_id, element)
    message = _message_definition(element, node_id, ctx)
    if message is not None:
        return BoundaryEvent(node_id, name, attached_to, None, cancel != "false", message=message)
    error = _read_error_catch(element, node_id, ctx)
    if error is not None:
        if cancel == "false":
            ctx.report("an error boundary event always interrupts its activity", node_id, element)
        return BoundaryEvent(node_id, name, attached_to, None, True, error)
    timer = read_timer(element, node_id, ctx)
    return BoundaryEvent(node_id, name, attached_to, timer, interrupting=cancel != "false")


def _read_receive_task(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    message = read_message(element, element, node_id, ctx)
    node = MessageCatchNode(node_id, name, receive_task=True)
    return MessageCatchNode(node_id, name, message, receive_task=True) if message else node


def _read_event_gateway(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    if element.get("instantiate", "false").strip() != "false":
        ctx.report(
            "an event-based gateway that starts the process is not supported yet", node_id, element
        )
    if element.get("eventGatewayType", "Exclusive").strip() != "Exclusive":
        ctx.report("a parallel event-based gateway is not supported yet", node_id, element)
    return EventBasedGateway(node_id, name)


_NODE_READERS: dict[str, Callable[[etree._Element, str, str, ReadContext], Node]] = {
    "startEvent": _read_start,
    "endEvent": _read_end,
    "userTask": _read_user_task,
    "manualTask": _read_user_task,
    "exclusiveGateway": _read_exclusive,
    "parallelGateway": _read_parallel,
    "inclusiveGateway": _read_inclusive,
    "intermediateCatchEvent": _read_catch,
    "boundaryEvent": _read_boundary,
    "eventBasedGateway": _read_event_gateway,
    "receiveTask": _read_receive_task,
    "callActivity": read_call_activity,
}


def read_flow(element: etree._Element, ctx: ReadContext) -> Flow:
    flow_id = element.get("id", "")
    check_extensions(element, "sequenceFlow", flow_id, ctx)
    source, target = element.get("sourceRef", ""), element.get("targetRef", "")
    for attribute, value in (("sourceRef", source), ("targetRef", target)):
        if not value:
            ctx.report(f"bpmn:sequenceFlow needs a {attribute}", flow_id, element)
    action = element.get(procflow("action"))
    if action is not None:
        ctx.check_id(action, "action name", flow_id, element)
    return Flow(
        id=flow_id,
        source=source,
        target=target,
        condition=_read_condition(element, flow_id, ctx),
        action=action,
        name=element.get("name", ""),
    )


def _read_condition(element: etree._Element, flow_id: str, ctx: ReadContext) -> Expression | None:
    conditions = list(element.iterchildren(bpmn("conditionExpression")))
    for extra in conditions[1:]:
        ctx.report("a sequence flow takes one conditionExpression", flow_id, extra)
    if not conditions or not text_of(conditions[0]):
        # bpmn.io leaves an empty conditionExpression when a condition is cleared: none.
        return None
    condition = conditions[0]
    language = condition.get("language", "").strip()
    if language and language.lower() not in _CEL_LANGUAGES:
        ctx.report(f"condition language {language!r} is not supported; use CEL", flow_id, condition)
        return None
    expression_type = condition.get(f"{{{XSI_NS}}}type", "")
    if expression_type and not expression_type.endswith("tFormalExpression"):
        ctx.report(
            f"condition of xsi:type {expression_type!r} is not supported", flow_id, condition
        )
    source = text_of(condition)
    if not language and is_juel(source):
        return _read_juel(source, flow_id, condition, ctx)
    return _compile_required(source, "conditionExpression", flow_id, condition, ctx)


def _read_juel(
    source: str, flow_id: str, element: etree._Element, ctx: ReadContext
) -> Expression | None:
    """A Camunda 7 condition (``${approved}``): its CEL translation, with a deploy warning
    that says so; refused with the reason when it is outside the subset ``juel`` reads."""
    try:
        cel = to_cel(source)
    except JuelRefused as refused:
        ctx.report(f"JUEL condition {source!r} is not translated: {refused}; {HINT}",
                   flow_id, element)  # fmt: skip
        return None
    expression = ctx.compile(cel, flow_id, element)
    if expression is not None:
        ctx.warn(f"condition {source!r} was read as JUEL and runs as the CEL {cel!r}",
                 flow_id, element)  # fmt: skip
    return expression
