"""Graph rules every definition must satisfy, whatever format it was written in.

Parsers build a ``ProcessDefinition`` and then call ``check_graph`` with a collector and a
way to find an element's line, so that BPMN and YAML report problems the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection

import jsonschema

from procflow.model.definition import (
    ACTIVITY_KINDS,
    SPLITTING_KINDS,
    BoundaryEvent,
    CallActivityNode,
    EndNode,
    EventBasedGateway,
    ExclusiveGateway,
    InclusiveGateway,
    MessageCatchNode,
    Node,
    ParallelGateway,
    ProcessDefinition,
    StartNode,
    SubProcessNode,
    TimerCatchNode,
    UserTaskNode,
    default_flow_of,
    is_external_task,
    kind_of,
    timer_of,
)
from procflow.model.errors import ProblemCollector
from procflow.model.schema_refs import ref_problems
from procflow.model.scopes_check import check_loops, check_scopes
from procflow.model.timers import InvalidTimer, TimerKind, TimerSpec, check_timer_value

LineOf = Callable[[str], int | None]

# Gateways that choose their flows by condition (and may name a default flow).
CONDITIONAL_GATEWAYS = (ExclusiveGateway, InclusiveGateway)
# Activities split implicitly over their conditional flows, as an inclusive gateway would.
CONDITIONAL_SOURCES = (*CONDITIONAL_GATEWAYS, *SPLITTING_KINDS)


def no_lines(_element_id: str) -> int | None:
    return None


def check_graph(
    definition: ProcessDefinition,
    problems: ProblemCollector,
    line_of: LineOf = no_lines,
    reported: Collection[str | None] = (),
) -> None:
    """``reported``: ids of elements the parser already found broken, so that a timer it could
    not read is not reported a second time as missing."""

    def report(message: str, element_id: str) -> None:
        problems.add(message, element_id, line_of(element_id))

    _check_flows(definition, report)
    _check_starts(definition, report)
    _check_start_schemas(definition, report)
    _check_node_arity(definition, report)
    _check_timers(definition, report)
    _check_boundaries(definition, report, reported)
    _check_event_gateways(definition, report)
    _check_expiry(definition, report)
    check_scopes(definition, report)
    check_loops(definition, report)
    _check_reachable(definition, report)


Report = Callable[[str, str], None]


def _check_flows(definition: ProcessDefinition, report: Report) -> None:
    seen: set[str] = set()
    for flow in definition.flows:
        if flow.id in seen or flow.id in definition.nodes:
            report(f"duplicate id {flow.id!r}", flow.id)
        seen.add(flow.id)
        for end in (flow.source, flow.target):
            if end not in definition.nodes:
                report(f"flow refers to unknown node {end!r}", flow.id)
        source = definition.nodes.get(flow.source)
        if flow.condition is not None and not isinstance(source, CONDITIONAL_SOURCES):
            report(
                "only flows leaving an exclusive or inclusive gateway or an activity (task, "
                "user task, subprocess, call activity) may have a condition",
                flow.id,
            )
        if flow.condition is not None and flow.action is not None:
            report("a flow chosen by an action takes no condition", flow.id)
        if flow.action is not None:
            _check_action_flow(source, flow.action, flow.id, report)


def _check_action_flow(source: object, action: str, flow_id: str, report: Report) -> None:
    if not isinstance(source, UserTaskNode):
        report("only flows leaving a user task may name an action", flow_id)
    elif action not in source.actions:
        report(f"flow names action {action!r}, which the user task does not define", flow_id)


def _check_starts(definition: ProcessDefinition, report: Report) -> None:
    if not definition.start_nodes:
        report("a process needs at least one start node", definition.name)
    # Timer start events are started by the worker, so only the others are chosen by a
    # request's startCondition.
    starts = [start for start in definition.start_nodes if start.timer is None]
    if len(starts) > 1:
        for start in starts:
            if not start.start_condition:
                report("with several start nodes, each needs a startCondition", start.id)
    conditions = [s.start_condition for s in starts if s.start_condition]
    for duplicate in {c for c in conditions if conditions.count(c) > 1}:
        report(f"startCondition {duplicate!r} is used by several start nodes", definition.name)


def _check_start_schemas(definition: ProcessDefinition, report: Report) -> None:
    for start in definition.start_nodes:
        if start.data_schema is None:
            continue
        schema = dict(start.data_schema)
        validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
        try:
            validator.check_schema(schema)
        except jsonschema.SchemaError as error:
            report(f"schema is not a valid JSON Schema: {error.message}", start.id)
            continue
        for problem in ref_problems(schema):
            report(f"schema: {problem}", start.id)


def _check_node_arity(definition: ProcessDefinition, report: Report) -> None:
    for node in definition.nodes.values():
        outgoing = definition.outgoing_flows(node.id)
        incoming = definition.incoming_flows(node.id)
        if isinstance(node, StartNode) and incoming:
            report("a start node cannot have incoming flows", node.id)
        if isinstance(node, BoundaryEvent) and incoming:
            report("a boundary event cannot have incoming flows", node.id)
        if isinstance(node, EndNode):
            if outgoing:
                report("an end node cannot have outgoing flows", node.id)
            continue
        if not outgoing:
            report("node has no outgoing flow", node.id)
        elif len(outgoing) > 1 and not _may_branch(node):
            report("node has several outgoing flows; split with a gateway", node.id)
        _check_default(definition, node, report)


def _may_branch(node: object) -> bool:
    # An activity with several flows splits implicitly (engine.leaving).
    return isinstance(
        node, (*CONDITIONAL_GATEWAYS, ParallelGateway, EventBasedGateway, *SPLITTING_KINDS)
    )


def _check_default(definition: ProcessDefinition, node: Node, report: Report) -> None:
    default = default_flow_of(node)
    if default is None:
        return
    flows = {flow.id: flow for flow in definition.outgoing_flows(node.id)}
    where = "gateway" if isinstance(node, CONDITIONAL_GATEWAYS) else "activity"
    if default not in flows:
        report(f"default flow {default!r} does not leave this {where}", node.id)
    elif flows[default].action is not None:
        report(f"default flow {default!r} is chosen by an action; it cannot be the default",
               node.id)  # fmt: skip


def graph_warnings(definition: ProcessDefinition) -> list[tuple[str, str]]:
    """(message, element id) for what runs, but perhaps not as the modeler meant."""
    found = []
    for node in definition.nodes.values():
        if not isinstance(node, ExclusiveGateway):
            continue
        for flow in definition.outgoing_flows(node.id):
            if flow.condition is None and flow.id != node.default_flow:
                found.append((UNCONDITIONED_FLOW, flow.id))
    return found


UNCONDITIONED_FLOW = (
    "flow leaving an exclusive gateway has no condition and is not the default: it is taken "
    "as true, in document order (as Camunda does); give it a condition or make it the default"
)


def reachable_from(definition: ProcessDefinition, roots: set[str]) -> set[str]:
    """The roots and every node a flow path leads to from them; a boundary event is reached
    with the activity it is attached to."""
    reached = set(roots)
    queue = deque(roots)
    while queue:
        node_id = queue.popleft()
        following = [flow.target for flow in definition.outgoing_flows(node_id)]
        following += [boundary.id for boundary in definition.boundaries_of(node_id)]
        following += [start.id for start in definition.inner_starts.get(node_id, ())]
        for target in following:
            if target in definition.nodes and target not in reached:
                reached.add(target)
                queue.append(target)
    return reached


def _check_reachable(definition: ProcessDefinition, report: Report) -> None:
    reached = reachable_from(definition, {start.id for start in definition.start_nodes})
    for node_id in definition.nodes:
        if node_id not in reached:
            report("node is unreachable from any start node", node_id)


# Where each timer form may be used; CYCLE on a boundary only when it does not interrupt.
_START_TIMER_KINDS = frozenset({TimerKind.CYCLE, TimerKind.CRON, TimerKind.DATE})
_CATCH_TIMER_KINDS = frozenset({TimerKind.DURATION, TimerKind.DATE})
_BOUNDARY_TIMER_KINDS = _CATCH_TIMER_KINDS | {TimerKind.CYCLE}


def _check_timers(definition: ProcessDefinition, report: Report) -> None:
    for node in definition.nodes.values():
        timer = timer_of(node)
        if timer is None:
            continue
        _check_timer_kind(node, timer, report)
        if timer.is_literal:
            try:
                check_timer_value(timer.kind, timer.value)
            except InvalidTimer as error:
                report(str(error), node.id)
        if isinstance(node, StartNode):
            _check_timer_start(node, report)


def _check_timer_kind(node: Node, timer: TimerSpec, report: Report) -> None:
    if isinstance(node, StartNode) and timer.kind not in _START_TIMER_KINDS:
        report(f"a timer start event takes a cycle, a cron or a date, not a {timer.kind}", node.id)
    elif isinstance(node, TimerCatchNode) and timer.kind not in _CATCH_TIMER_KINDS:
        report(f"an intermediate timer takes a duration or a date, not a {timer.kind}", node.id)
    elif isinstance(node, BoundaryEvent):
        if timer.kind not in _BOUNDARY_TIMER_KINDS:
            report(
                f"a boundary timer takes a duration, a date or a cycle, not a {timer.kind}",
                node.id,
            )
        elif timer.kind is TimerKind.CYCLE and node.interrupting:
            report(
                "a cycle repeats, so only a non-interrupting boundary timer may use one "
                '(interrupting: false; cancelActivity="false" in BPMN)',
                node.id,
            )


def _check_timer_start(start: StartNode, report: Report) -> None:
    # Nobody sends data to a timer start, so there is nothing to require or choose by.
    if start.mandatory_params:
        report("a timer start event cannot have mandatoryParams", start.id)
    if start.start_condition:
        report("a timer start event cannot have a startCondition", start.id)


def _check_boundaries(
    definition: ProcessDefinition, report: Report, reported: Collection[str | None]
) -> None:
    for node in definition.nodes.values():
        if not isinstance(node, BoundaryEvent):
            continue
        triggers = (node.timer, node.error, node.message)
        if all(t is None for t in triggers) and node.id not in reported:
            report("a boundary event needs a timer, an error or a message", node.id)
        activity = definition.nodes.get(node.attached_to)
        if activity is None:
            report(f"boundary event is attached to unknown activity {node.attached_to!r}", node.id)
        elif not _is_activity(activity):
            report(
                "a boundary event can only be attached to a task or user task, "
                f"not to {kind_of(activity)} {activity.id!r}",
                node.id,
            )
        elif node.error is not None and not _may_throw(activity):
            # Only something that can throw: external tasks (a worker's bpmnError),
            # subprocesses (an error end event inside) and call activities (the
            # child's uncaught error); engine.errors finds the catching boundary.
            report(
                "an error boundary event can only be attached to an external task, a "
                f"subprocess or a call activity, and {activity.id!r} is none of them "
                "(give it a topic)",
                node.id,
            )


def _may_throw(activity: Node) -> bool:
    """External tasks, subprocesses and call activities (the child's uncaught error)."""
    return is_external_task(activity) or isinstance(activity, SubProcessNode | CallActivityNode)


def _is_activity(node: Node) -> bool:
    return isinstance(node, ACTIVITY_KINDS) or (
        isinstance(node, MessageCatchNode) and node.receive_task
    )


def _check_event_gateways(definition: ProcessDefinition, report: Report) -> None:
    for node in definition.nodes.values():
        if not isinstance(node, EventBasedGateway):
            continue
        outgoing = definition.outgoing_flows(node.id)
        if len(outgoing) < 2:
            report("an event-based gateway needs at least two outgoing flows", node.id)
        for flow in outgoing:
            target = definition.nodes.get(flow.target)
            if target is None:
                continue
            is_catch_event = isinstance(target, MessageCatchNode) and not target.receive_task
            if not (isinstance(target, TimerCatchNode) or is_catch_event):
                report(
                    "a flow leaving an event-based gateway must lead to a timer or message "
                    "catch event, "
                    f"not to {kind_of(target)} {target.id!r}",
                    flow.id,
                )
            elif len(definition.incoming_flows(target.id)) > 1:
                report(
                    "a catch event after an event-based gateway cannot have other incoming flows",
                    target.id,
                )


def _check_expiry(definition: ProcessDefinition, report: Report) -> None:
    if definition.expiry_time is None:
        return
    try:
        check_timer_value(TimerKind.DURATION, definition.expiry_time)
    except InvalidTimer as error:
        report(f"expiryTime: {error}", definition.name)
