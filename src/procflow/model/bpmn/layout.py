"""A simple automatic layout for definitions that were never drawn (YAML ones, new nodes).

Columns are longest-path layers from the start nodes, ignoring flows that loop back; each
column stacks its nodes in rows, centred on the tallest column. Good enough for bpmn.io to
open the file and a person to tidy it up.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from procflow.model.definition import (
    BoundaryEvent,
    EndNode,
    EventBasedGateway,
    ExclusiveGateway,
    Flow,
    InclusiveGateway,
    Node,
    ParallelGateway,
    ProcessDefinition,
    StartNode,
    TimerCatchNode,
)

COLUMN_WIDTH = 180
ROW_HEIGHT = 130
LEFT = 150
TOP = 80
LOOP_GAP = 40
# Boundary events sit on the bottom edge of their activity, this far apart.
BOUNDARY_SPACING = 40

Point = tuple[int, int]


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    width: int
    height: int

    @property
    def center(self) -> Point:
        return self.x + self.width // 2, self.y + self.height // 2

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height


def size_of(node: Node) -> tuple[int, int]:
    if isinstance(node, StartNode | EndNode | TimerCatchNode | BoundaryEvent):
        return 36, 36
    if isinstance(node, ExclusiveGateway | InclusiveGateway | ParallelGateway | EventBasedGateway):
        return 50, 50
    return 100, 80


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    waypoints: dict[str, list[Point]]


def layout(definition: ProcessDefinition) -> Layout:
    """Boxes and waypoints for every node and flow. Each subprocess's content is laid out
    on its own, as the plane bpmn.io opens when one drills into the collapsed subprocess."""
    if not definition.scopes:
        return _layout_scope(definition)
    boxes: dict[str, Box] = {}
    waypoints: dict[str, list[Point]] = {}
    for scope in (None, *sorted(set(definition.scopes.values()))):
        part = _layout_scope(scope_part(definition, scope))
        boxes.update(part.boxes)
        waypoints.update(part.waypoints)
    return Layout(boxes, waypoints)


def scope_part(definition: ProcessDefinition, scope: str | None) -> ProcessDefinition:
    """The nodes directly in ``scope`` (None: the process) and the flows between them, as a
    definition of their own (a subprocess's start event is its start node)."""
    nodes = [n for n in definition.nodes.values() if definition.scope_of(n.id) == scope]
    ids = {node.id for node in nodes}
    flows = [flow for flow in definition.flows if flow.source in ids]
    return ProcessDefinition.create(definition.name, nodes, flows)


def _layout_scope(definition: ProcessDefinition) -> Layout:
    order, loops = _order(definition)
    layers = _layers(definition, order, loops)
    boxes = _place(definition, order, layers)
    below = max((box.bottom for box in boxes.values()), default=TOP) + LOOP_GAP
    waypoints = {
        flow.id: _route_flow(definition, flow, boxes, flow.id in loops, below)
        for flow in definition.flows
        if flow.source in boxes and flow.target in boxes
    }
    return Layout(boxes, waypoints)


def _successors(definition: ProcessDefinition, node_id: str) -> Iterator[Flow]:
    """The node's flows, then a stand-in flow to each boundary event on it, so that a
    boundary event is ordered, layered and ranked with its activity."""
    yield from definition.outgoing_flows(node_id)
    for boundary in definition.boundaries_of(node_id):
        yield Flow(f"{node_id}->{boundary.id}", node_id, boundary.id)


def _is_attachment(definition: ProcessDefinition, flow: Flow) -> bool:
    return isinstance(definition.nodes.get(flow.target), BoundaryEvent) and not any(
        flow is real for real in definition.outgoing_flows(flow.source)
    )


def _order(definition: ProcessDefinition) -> tuple[list[str], set[str]]:
    """Nodes in topological order of the forward flows, and the ids of flows that loop back."""
    search = _DepthFirst(definition)
    roots = [start.id for start in definition.start_nodes] + list(definition.nodes)
    for root in roots:
        search.visit(root)
    return search.finished[::-1], search.loops


class _DepthFirst:
    def __init__(self, definition: ProcessDefinition) -> None:
        self.definition = definition
        self.open: set[str] = set()
        self.seen: set[str] = set()
        self.finished: list[str] = []
        self.loops: set[str] = set()

    def visit(self, root: str) -> None:
        if root in self.seen:
            return
        stack = [self._enter(root)]
        while stack:
            node_id, flows = stack[-1]
            flow = next(flows, None)
            if flow is None:
                stack.pop()
                self.open.discard(node_id)
                self.finished.append(node_id)
            elif flow.target in self.open:
                self.loops.add(flow.id)
            elif flow.target not in self.seen and flow.target in self.definition.nodes:
                stack.append(self._enter(flow.target))

    def _enter(self, node_id: str) -> tuple[str, Iterator[Flow]]:
        self.seen.add(node_id)
        self.open.add(node_id)
        return node_id, _successors(self.definition, node_id)


def _layers(definition: ProcessDefinition, order: list[str], loops: set[str]) -> dict[str, int]:
    layers = dict.fromkeys(order, 0)
    for node_id in order:
        for flow in _successors(definition, node_id):
            if flow.id not in loops and flow.target in layers:
                step = 0 if _is_attachment(definition, flow) else 1
                layers[flow.target] = max(layers[flow.target], layers[node_id] + step)
    return layers


def _place(
    definition: ProcessDefinition, order: list[str], layers: dict[str, int]
) -> dict[str, Box]:
    columns = _columns(definition, order, layers)
    tallest = max((len(column) for column in columns.values()), default=1)
    boxes: dict[str, Box] = {}
    for layer, column in columns.items():
        offset = (tallest - len(column)) * ROW_HEIGHT // 2
        for row, node_id in enumerate(column):
            width, height = size_of(definition.nodes[node_id])
            center_x = LEFT + layer * COLUMN_WIDTH + 50
            center_y = TOP + offset + row * ROW_HEIGHT + 40
            boxes[node_id] = Box(center_x - width // 2, center_y - height // 2, width, height)
    for activity_id, boundaries in definition.boundaries.items():
        if activity_id in boxes:
            boxes.update(_on_border(boxes[activity_id], boundaries))
    return boxes


def _on_border(activity: Box, boundaries: tuple[BoundaryEvent, ...]) -> dict[str, Box]:
    """Boundary events centred on the activity's bottom edge, from its left."""
    boxes: dict[str, Box] = {}
    for index, boundary in enumerate(boundaries):
        width, height = size_of(boundary)
        center_x = activity.x + 30 + index * BOUNDARY_SPACING
        boxes[boundary.id] = Box(
            center_x - width // 2, activity.bottom - height // 2, width, height
        )
    return boxes


def _columns(
    definition: ProcessDefinition, order: list[str], layers: dict[str, int]
) -> dict[int, list[str]]:
    """Nodes by layer; within a layer, in the order of the flows that lead to them, which
    keeps branches from crossing."""
    columns: dict[int, list[str]] = {}
    for node_id in order:
        # Boundary events are drawn on their activity, not in a column of their own.
        if not isinstance(definition.nodes[node_id], BoundaryEvent):
            columns.setdefault(layers[node_id], []).append(node_id)
    rows: dict[str, int] = {}
    for layer in sorted(columns):
        columns[layer].sort(key=lambda node_id: _entry_rank(definition, node_id, rows))
        for row, node_id in enumerate(columns[layer]):
            rows[node_id] = row
            rows.update((boundary.id, row) for boundary in definition.boundaries_of(node_id))
    return columns


def _entry_rank(definition: ProcessDefinition, node_id: str, rows: dict[str, int]) -> Point:
    """(row of the first placed predecessor, index of the flow among its outgoing flows);
    flows from a boundary event rank after its activity's own, as they leave from below."""
    ranks = [
        (rows[flow.source], _flow_rank(definition, flow))
        for flow in definition.incoming_flows(node_id)
        if flow.source in rows
    ]
    return min(ranks, default=(len(rows), 0))


def _flow_rank(definition: ProcessDefinition, flow: Flow) -> int:
    index = definition.outgoing_flows(flow.source).index(flow)
    source = definition.nodes[flow.source]
    if isinstance(source, BoundaryEvent):
        return len(definition.outgoing_flows(source.attached_to)) + index
    return index


def _route_flow(
    definition: ProcessDefinition, flow: Flow, boxes: dict[str, Box], loops_back: bool, below: int
) -> list[Point]:
    source, target = boxes[flow.source], boxes[flow.target]
    if isinstance(definition.nodes[flow.source], BoundaryEvent) and not loops_back:
        return _route_down(source, target)
    return _route(source, target, loops_back, below)


def _route_down(source: Box, target: Box) -> list[Point]:
    """Out of the bottom of a boundary event, then across to the target's left side."""
    (source_x, _), (_, target_y) = source.center, target.center
    if target_y > source.bottom:
        return [(source_x, source.bottom), (source_x, target_y), (target.x, target_y)]
    under = source.bottom + LOOP_GAP // 2
    middle = max(source.right, (source.right + target.x) // 2)
    return [
        (source_x, source.bottom),
        (source_x, under),
        (middle, under),
        (middle, target_y),
        (target.x, target_y),
    ]


def _route(source: Box, target: Box, loops_back: bool, below: int) -> list[Point]:
    if loops_back:
        (source_x, _), (target_x, _) = source.center, target.center
        return [
            (source_x, source.bottom),
            (source_x, below),
            (target_x, below),
            (target_x, target.bottom),
        ]
    (_, source_y), (_, target_y) = source.center, target.center
    start, end = (source.right, source_y), (target.x, target_y)
    if source_y == target_y:
        return [start, end]
    middle = (source.right + target.x) // 2
    return [start, (middle, source_y), (middle, target_y), end]
