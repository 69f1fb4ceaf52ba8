"""Deploy-time rules for embedded subprocesses and multi-instance activities."""

from __future__ import annotations

from collections.abc import Callable

from procflow.model.definition import (
    LOOP_KINDS,
    BoundaryEvent,
    ProcessDefinition,
    StartNode,
    SubProcessNode,
    kind_of,
)
from procflow.model.loops import LOOP_COUNTER

Report = Callable[[str, str], None]


def check_scopes(definition: ProcessDefinition, report: Report) -> None:
    """Each subprocess has exactly one plain start event; flows and boundary events stay
    inside the scope they are drawn in."""
    for node in definition.nodes.values():
        if isinstance(node, SubProcessNode):
            _check_subprocess_starts(definition, node, report)
    for flow in definition.flows:
        if flow.source not in definition.nodes or flow.target not in definition.nodes:
            continue  # reported as an unknown node
        if definition.scope_of(flow.source) != definition.scope_of(flow.target):
            report(
                f"flow crosses a subprocess boundary ({flow.source!r} is in "
                f"{_scope_name(definition, flow.source)}, {flow.target!r} in "
                f"{_scope_name(definition, flow.target)}); a flow stays inside its scope",
                flow.id,
            )
    for node in definition.nodes.values():
        if not isinstance(node, BoundaryEvent) or node.attached_to not in definition.nodes:
            continue
        if definition.scope_of(node.id) != definition.scope_of(node.attached_to):
            report("a boundary event must be drawn in the same scope as its activity", node.id)


def _scope_name(definition: ProcessDefinition, node_id: str) -> str:
    scope = definition.scope_of(node_id)
    return f"subprocess {scope!r}" if scope else "the process"


def _check_subprocess_starts(
    definition: ProcessDefinition, node: SubProcessNode, report: Report
) -> None:
    starts = definition.inner_starts.get(node.id, ())
    if not starts:
        empty = not any(definition.scope_of(n) == node.id for n in definition.nodes)
        hint = " (it is empty: draw what it does)" if empty else ""
        report(f"a subprocess needs a start event{hint}", node.id)
    elif len(starts) > 1:
        report("a subprocess takes one start event", node.id)
    for start in starts:
        if _is_triggered(start):
            report(
                "a subprocess's start event has no trigger, condition or parameters "
                "(event subprocesses are not supported yet)",
                start.id,
            )


def _is_triggered(start: StartNode) -> bool:
    return bool(
        start.timer
        or start.message
        or start.start_condition
        or start.mandatory_params
        or start.data_schema
    )


def check_loops(definition: ProcessDefinition, report: Report) -> None:
    for node_id, loop in definition.loops.items():
        node = definition.nodes.get(node_id)
        if node is None:
            continue
        if not isinstance(node, LOOP_KINDS):
            report(f"{kind_of(node)} {node_id!r} cannot be a multi-instance activity", node_id)
        if loop.element_variable == LOOP_COUNTER:
            report(f"the element variable cannot be {LOOP_COUNTER!r} (the loop counter)", node_id)
        if (loop.output_element is None) != (loop.output_collection is None):
            report(
                "a multi-instance activity takes an output element and an output collection "
                "together (or neither)",
                node_id,
            )
