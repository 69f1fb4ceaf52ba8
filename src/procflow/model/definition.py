"""Process definitions: nodes, sequence flows and the lookups the engine needs.

A definition is built once by a parser (YAML/JSON or BPMN), validated, and then only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from procflow.model.expression import Expression
from procflow.model.timers import TimerKind, TimerSpec


@dataclass(frozen=True)
class Assignment:
    """``path`` in the data receives the value of ``expression``."""

    path: str
    expression: Expression


@dataclass(frozen=True)
class BusinessRule:
    """An ordered group of assignments; all are evaluated on the data as it was before the rule,
    then merged in, so assignments within one rule do not see each other."""

    name: str
    assignments: tuple[Assignment, ...]


@dataclass(frozen=True)
class StartNode:
    id: str
    name: str = ""
    start_condition: str | None = None
    mandatory_params: tuple[str, ...] = ()
    data_schema: Mapping[str, Any] | None = None
    # A timer start event (CYCLE, CRON or DATE): started by the worker, never over HTTP.
    timer: TimerSpec | None = None


@dataclass(frozen=True)
class EndNode:
    id: str
    name: str = ""


@dataclass(frozen=True)
class TaskNode:
    id: str
    name: str = ""
    rules: tuple[BusinessRule, ...] = ()
    is_async: bool = False


@dataclass(frozen=True)
class UserTaskNode:
    id: str
    name: str = ""
    actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExclusiveGateway:
    id: str
    name: str = ""
    default_flow: str | None = None


@dataclass(frozen=True)
class ParallelGateway:
    id: str
    name: str = ""


# Only for constructing a node without its timer; parsers always set one.
_NO_WAIT = TimerSpec(TimerKind.DURATION, "PT0S")


@dataclass(frozen=True)
class TimerCatchNode:
    """An intermediate timer catch event: the token waits, then leaves by its one flow."""

    id: str
    name: str = ""
    timer: TimerSpec = _NO_WAIT


@dataclass(frozen=True)
class BoundaryEvent:
    """An event on an activity (task or user task). It has no incoming flow: it is armed while
    a token is at ``attached_to`` and, when it fires, a token leaves by its one outgoing flow.
    Interrupting (BPMN ``cancelActivity``) cancels the activity; non-interrupting leaves it
    running and may repeat (a CYCLE timer). Only timers trigger it for now."""

    id: str
    name: str = ""
    attached_to: str = ""
    timer: TimerSpec | None = None
    interrupting: bool = True


@dataclass(frozen=True)
class EventBasedGateway:
    """Waits on the catch events its flows lead to; the first to fire wins, the others are
    cancelled."""

    id: str
    name: str = ""


Node = (
    StartNode
    | EndNode
    | TaskNode
    | UserTaskNode
    | ExclusiveGateway
    | ParallelGateway
    | TimerCatchNode
    | BoundaryEvent
    | EventBasedGateway
)

NODE_KINDS: dict[str, type[Node]] = {
    "start": StartNode,
    "end": EndNode,
    "task": TaskNode,
    "userTask": UserTaskNode,
    "exclusiveGateway": ExclusiveGateway,
    "parallelGateway": ParallelGateway,
    "timer": TimerCatchNode,
    "boundaryTimer": BoundaryEvent,
    "eventGateway": EventBasedGateway,
}

# Activities that boundary events may be attached to.
ACTIVITY_KINDS = (TaskNode, UserTaskNode)


def timer_of(node: Node) -> TimerSpec | None:
    """The timer of a node that may have one (timer start, catch and boundary events)."""
    if isinstance(node, StartNode | TimerCatchNode | BoundaryEvent):
        return node.timer
    return None


def kind_of(node: Node) -> str:
    return next(kind for kind, cls in NODE_KINDS.items() if isinstance(node, cls))


@dataclass(frozen=True)
class Flow:
    """A sequence flow. ``condition`` is read by exclusive gateways; ``action`` by user tasks
    whose outgoing flows depend on which action was executed."""

    id: str
    source: str
    target: str
    condition: Expression | None = None
    action: str | None = None
    name: str = ""


@dataclass(frozen=True)
class ProcessDefinition:
    name: str
    nodes: Mapping[str, Node]
    flows: tuple[Flow, ...]
    description: str = ""
    # FlowX expiryTime, an ISO 8601 duration: an instance still running after it is EXPIRED.
    expiry_time: str | None = None
    # Indexes derived from ``flows`` once, so the engine never scans the flow list.
    outgoing: Mapping[str, tuple[Flow, ...]] = field(default_factory=dict, compare=False)
    incoming: Mapping[str, tuple[Flow, ...]] = field(default_factory=dict, compare=False)
    # Boundary events by the id of the activity they are attached to, in definition order.
    boundaries: Mapping[str, tuple[BoundaryEvent, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def create(
        cls,
        name: str,
        nodes: list[Node],
        flows: list[Flow],
        description: str = "",
        expiry_time: str | None = None,
    ) -> ProcessDefinition:
        outgoing: dict[str, list[Flow]] = {node.id: [] for node in nodes}
        incoming: dict[str, list[Flow]] = {node.id: [] for node in nodes}
        for flow in flows:
            outgoing.setdefault(flow.source, []).append(flow)
            incoming.setdefault(flow.target, []).append(flow)
        boundaries: dict[str, list[BoundaryEvent]] = {}
        for node in nodes:
            if isinstance(node, BoundaryEvent):
                boundaries.setdefault(node.attached_to, []).append(node)
        return cls(
            name=name,
            nodes={node.id: node for node in nodes},
            flows=tuple(flows),
            description=description,
            expiry_time=expiry_time,
            outgoing={key: tuple(value) for key, value in outgoing.items()},
            incoming={key: tuple(value) for key, value in incoming.items()},
            boundaries={key: tuple(value) for key, value in boundaries.items()},
        )

    @property
    def start_nodes(self) -> tuple[StartNode, ...]:
        return tuple(node for node in self.nodes.values() if isinstance(node, StartNode))

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def outgoing_flows(self, node_id: str) -> tuple[Flow, ...]:
        return self.outgoing.get(node_id, ())

    def incoming_flows(self, node_id: str) -> tuple[Flow, ...]:
        return self.incoming.get(node_id, ())

    def boundaries_of(self, activity_id: str) -> tuple[BoundaryEvent, ...]:
        return self.boundaries.get(activity_id, ())
