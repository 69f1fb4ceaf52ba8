"""Graph rules every definition must satisfy, whatever format it was written in.

Parsers build a ``ProcessDefinition`` and then call ``check_graph`` with a collector and a
way to find an element's line, so that BPMN and YAML report problems the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import jsonschema

from procflow.model.definition import (
    EndNode,
    ExclusiveGateway,
    ParallelGateway,
    ProcessDefinition,
    StartNode,
    UserTaskNode,
)
from procflow.model.errors import ProblemCollector
from procflow.model.schema_refs import ref_problems

LineOf = Callable[[str], int | None]


def no_lines(_element_id: str) -> int | None:
    return None


def check_graph(
    definition: ProcessDefinition, problems: ProblemCollector, line_of: LineOf = no_lines
) -> None:
    def report(message: str, element_id: str) -> None:
        problems.add(message, element_id, line_of(element_id))

    _check_flows(definition, report)
    _check_starts(definition, report)
    _check_start_schemas(definition, report)
    _check_node_arity(definition, report)
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
        if flow.condition is not None and not isinstance(source, ExclusiveGateway):
            report("only flows leaving an exclusive gateway may have a condition", flow.id)
        if flow.action is not None:
            _check_action_flow(source, flow.action, flow.id, report)


def _check_action_flow(source: object, action: str, flow_id: str, report: Report) -> None:
    if not isinstance(source, UserTaskNode):
        report("only flows leaving a user task may name an action", flow_id)
    elif action not in source.actions:
        report(f"flow names action {action!r}, which the user task does not define", flow_id)


def _check_starts(definition: ProcessDefinition, report: Report) -> None:
    starts = definition.start_nodes
    if not starts:
        report("a process needs at least one start node", definition.name)
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
        if isinstance(node, EndNode):
            if outgoing:
                report("an end node cannot have outgoing flows", node.id)
            continue
        if not outgoing:
            report("node has no outgoing flow", node.id)
        elif len(outgoing) > 1 and not _may_branch(node, definition):
            report("node has several outgoing flows; split with a gateway", node.id)
        if isinstance(node, ExclusiveGateway):
            _check_exclusive(definition, node, report)


def _may_branch(node: object, definition: ProcessDefinition) -> bool:
    if isinstance(node, ExclusiveGateway | ParallelGateway):
        return True
    if isinstance(node, UserTaskNode):
        return all(flow.action for flow in definition.outgoing_flows(node.id))
    return False


def _check_exclusive(definition: ProcessDefinition, node: ExclusiveGateway, report: Report) -> None:
    outgoing = definition.outgoing_flows(node.id)
    ids = {flow.id for flow in outgoing}
    if node.default_flow is not None and node.default_flow not in ids:
        report(f"default flow {node.default_flow!r} does not leave this gateway", node.id)
    for flow in outgoing:
        if flow.condition is None and flow.id != node.default_flow:
            report(
                "flow leaving an exclusive gateway needs a condition or to be the default", flow.id
            )


def reachable_from(definition: ProcessDefinition, roots: set[str]) -> set[str]:
    """The roots and every node a flow path leads to from them."""
    reached = set(roots)
    queue = deque(roots)
    while queue:
        for flow in definition.outgoing_flows(queue.popleft()):
            if flow.target in definition.nodes and flow.target not in reached:
                reached.add(flow.target)
                queue.append(flow.target)
    return reached


def _check_reachable(definition: ProcessDefinition, report: Report) -> None:
    reached = reachable_from(definition, {start.id for start in definition.start_nodes})
    for node_id in definition.nodes:
        if node_id not in reached:
            report("node is unreachable from any start node", node_id)
