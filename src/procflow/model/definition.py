"""Process definitions: nodes, sequence flows and the lookups the engine needs.

A definition is built once by a parser (YAML/JSON or BPMN), validated, and then only read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from procflow.model.errors import DefinitionProblem
from procflow.model.expression import Expression
from procflow.model.loops import LoopSpec
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

    @cached_property
    def expressions(self) -> tuple[Expression, ...]:
        """The assignments' expressions, in order (gathered once: every run of the rule
        evaluates them as one group)."""
        return tuple(assignment.expression for assignment in self.assignments)


@dataclass(frozen=True)
class MessageSpec:
    """The message a node waits for (or starts on): its ``name`` and, optionally, the CEL
    over ``input`` that computes the correlation key when a token arrives."""

    name: str
    correlation_key: Expression | None = None


@dataclass(frozen=True)
class StartNode:
    id: str
    name: str = ""
    start_condition: str | None = None
    mandatory_params: tuple[str, ...] = ()
    data_schema: Mapping[str, Any] | None = None
    # A timer start event (CYCLE, CRON or DATE): started by the worker, never over HTTP.
    timer: TimerSpec | None = None
    # A message start event: a correlated message of this name starts an instance.
    message: MessageSpec | None = None


@dataclass(frozen=True)
class EndNode:
    """An end event. ``error_code``: an error end event, which throws that BPMN error to the
    innermost enclosing boundary (``engine.errors``); ``terminate``: a terminate end event,
    which ends every token of the instance."""

    id: str
    name: str = ""
    error_code: str | None = None
    terminate: bool = False


# Camunda's default: an external task fails three times before it becomes an incident.
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class ExternalWork:
    """A task done by a worker outside Procflow: it fetches the task by ``topic``, locks it,
    and completes it, fails it (``retries`` times before an incident) or throws a BPMN error."""

    topic: str
    retries: int = DEFAULT_RETRIES


@dataclass(frozen=True)
class TaskNode:
    id: str
    name: str = ""
    rules: tuple[BusinessRule, ...] = ()
    is_async: bool = False
    # Set for an external task (service, send or business-rule task with a topic).
    external: ExternalWork | None = None
    # The flow taken when no other leaves (BPMN ``default`` on an activity: implicit split).
    default_flow: str | None = None

    @cached_property
    def rule_names(self) -> tuple[str, ...]:
        """The rules' names, in order (gathered once: every execution of the task reports
        them)."""
        return tuple(rule.name for rule in self.rules)


@dataclass(frozen=True)
class UserTaskNode:
    id: str
    name: str = ""
    actions: tuple[str, ...] = ()
    default_flow: str | None = None


@dataclass(frozen=True)
class ExclusiveGateway:
    id: str
    name: str = ""
    default_flow: str | None = None


@dataclass(frozen=True)
class ParallelGateway:
    id: str
    name: str = ""


@dataclass(frozen=True)
class InclusiveGateway:
    """Forks on every outgoing flow whose condition is true (a flow without one always is),
    on ``default_flow`` when none is; as a join (several incoming flows) it waits for every
    token that can still arrive (``ProcessDefinition.upstream_of``)."""

    id: str
    name: str = ""
    default_flow: str | None = None


# Only for constructing a node without its timer; parsers always set one.
_NO_WAIT = TimerSpec(TimerKind.DURATION, "PT0S")


@dataclass(frozen=True)
class TimerCatchNode:
    """An intermediate timer catch event: the token waits, then leaves by its one flow."""

    id: str
    name: str = ""
    timer: TimerSpec = _NO_WAIT


_NO_MESSAGE = MessageSpec("")


@dataclass(frozen=True)
class MessageCatchNode:
    """The token waits for a message, then leaves by its one flow: an intermediate message
    catch event (``WAITING_MESSAGE_EVENT``) or a receive task (``WAITING_MESSAGE``)."""

    id: str
    name: str = ""
    message: MessageSpec = _NO_MESSAGE
    receive_task: bool = False


@dataclass(frozen=True)
class ErrorCatch:
    """What an error boundary event catches: the BPMN error ``code`` (None: any code), and
    where in the data the caught code and message are written (``variable``, optional)."""

    code: str | None = None
    variable: str | None = None


@dataclass(frozen=True)
class BoundaryEvent:
    """An event on an activity (task or user task). It has no incoming flow: it is armed while
    a token is at ``attached_to`` and, when it fires, a token leaves by its one outgoing flow.
    Interrupting (BPMN ``cancelActivity``) cancels the activity; non-interrupting leaves it
    running and may repeat (a CYCLE timer). A timer triggers it, or (``error``) a BPMN error
    thrown at the activity; an error boundary is always interrupting."""

    id: str
    name: str = ""
    attached_to: str = ""
    timer: TimerSpec | None = None
    interrupting: bool = True
    error: ErrorCatch | None = None
    message: MessageSpec | None = None


@dataclass(frozen=True)
class EventBasedGateway:
    """Waits on the catch events its flows lead to; the first to fire wins, the others are
    cancelled."""

    id: str
    name: str = ""


@dataclass(frozen=True)
class SubProcessNode:
    """An embedded subprocess: a scope of the same instance (same data) with its own start
    and end events. Its nodes are in the definition's flat node map; ``ProcessDefinition``
    records which scope each one is in (``scopes``)."""

    id: str
    name: str = ""
    default_flow: str | None = None


@dataclass(frozen=True)
class CallActivityNode:
    """A call activity: the token waits (EXECUTING) while a child instance of the process
    ``called_element`` runs (engine/calls.py). ``binding`` "build": that process of the
    caller's own build (checked at deploy); "latest": of the app's active build when the
    child starts. The child's data is the caller's, narrowed by ``params_to_copy`` (None:
    all) and ``without_params``; at its end it is merged back, or set under ``output_key``.
    ``is_async``: the caller moves on at once and nothing comes back."""

    id: str
    name: str = ""
    called_element: str = ""
    binding: str = "build"
    params_to_copy: tuple[str, ...] | None = None
    without_params: tuple[str, ...] = ()
    output_key: str | None = None
    is_async: bool = False
    default_flow: str | None = None
    # Where the element is in its file, for deploy-time problems found across the build.
    line: int | None = field(default=None, compare=False)


CALL_BINDINGS = ("build", "latest")


Node = (
    StartNode
    | EndNode
    | TaskNode
    | UserTaskNode
    | ExclusiveGateway
    | ParallelGateway
    | InclusiveGateway
    | TimerCatchNode
    | MessageCatchNode
    | BoundaryEvent
    | EventBasedGateway
    | SubProcessNode
    | CallActivityNode
)

NODE_KINDS: dict[str, type[Node]] = {
    "start": StartNode,
    "end": EndNode,
    "task": TaskNode,
    "userTask": UserTaskNode,
    "exclusiveGateway": ExclusiveGateway,
    "parallelGateway": ParallelGateway,
    "inclusiveGateway": InclusiveGateway,
    "timer": TimerCatchNode,
    "boundaryTimer": BoundaryEvent,
    "boundaryError": BoundaryEvent,
    "boundaryMessage": BoundaryEvent,
    "message": MessageCatchNode,
    "receiveTask": MessageCatchNode,
    "eventGateway": EventBasedGateway,
    "subProcess": SubProcessNode,
    "callActivity": CallActivityNode,
}

# Activities that boundary events may be attached to.
ACTIVITY_KINDS = (TaskNode, UserTaskNode, SubProcessNode, CallActivityNode)
# Activities that may carry multi-instance loop characteristics (``ProcessDefinition.loops``).
LOOP_KINDS = (TaskNode, UserTaskNode, SubProcessNode, CallActivityNode)


# Activities that may leave by several flows at once (BPMN implicit split, ``engine.leaving``).
SPLITTING_KINDS = (TaskNode, UserTaskNode, SubProcessNode, CallActivityNode)


def default_flow_of(node: Node) -> str | None:
    """The default flow of a gateway or an activity that names one."""
    if isinstance(node, (*SPLITTING_KINDS, ExclusiveGateway, InclusiveGateway)):
        return node.default_flow
    return None


def timer_of(node: Node) -> TimerSpec | None:
    """The timer of a node that may have one (timer start, catch and boundary events)."""
    if isinstance(node, StartNode | TimerCatchNode | BoundaryEvent):
        return node.timer
    return None


def kind_of(node: Node) -> str:
    if isinstance(node, BoundaryEvent) and node.error is not None:
        return "boundaryError"
    if isinstance(node, BoundaryEvent) and node.message is not None:
        return "boundaryMessage"
    if isinstance(node, MessageCatchNode) and node.receive_task:
        return "receiveTask"
    return next(kind for kind, cls in NODE_KINDS.items() if isinstance(node, cls))


def message_of(node: Node) -> MessageSpec | None:
    """The message of a node that may wait for one (catch, receive task, boundary, start)."""
    if isinstance(node, MessageCatchNode):
        return node.message
    if isinstance(node, StartNode | BoundaryEvent):
        return node.message
    return None


def is_external_task(node: Node) -> bool:
    return isinstance(node, TaskNode) and node.external is not None


@dataclass(frozen=True)
class Flow:
    """A sequence flow. ``condition`` is read by exclusive and inclusive gateways and by
    activities that split (several flows out, or one with a condition); ``action`` by user
    tasks whose outgoing flows depend on which action was executed."""

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
    # The subprocess each nested node is in (nodes of the process itself are absent).
    scopes: Mapping[str, str] = field(default_factory=dict)
    # Multi-instance loop characteristics by activity id.
    loops: Mapping[str, LoopSpec] = field(default_factory=dict)
    # The start events of each subprocess, derived from ``scopes`` once.
    inner_starts: Mapping[str, tuple[StartNode, ...]] = field(default_factory=dict, compare=False)
    # What a modeler drew that runs, but maybe not as meant (a gateway flow without a
    # condition): told on deploy, never a refusal. Set by the parsers.
    warnings: tuple[DefinitionProblem, ...] = field(default=(), compare=False)
    # The name to show when ``name`` (the definition's identifier) had to be the process id
    # because the drawn name is not URL-safe ("Test Process").
    title: str = ""

    @classmethod
    def create(
        cls,
        name: str,
        nodes: list[Node],
        flows: list[Flow],
        description: str = "",
        expiry_time: str | None = None,
        scopes: Mapping[str, str] | None = None,
        loops: Mapping[str, LoopSpec] | None = None,
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
        scopes = dict(scopes or {})
        inner_starts: dict[str, list[StartNode]] = {}
        for node in nodes:
            if isinstance(node, StartNode) and node.id in scopes:
                inner_starts.setdefault(scopes[node.id], []).append(node)
        return cls(
            name=name,
            nodes={node.id: node for node in nodes},
            flows=tuple(flows),
            description=description,
            expiry_time=expiry_time,
            outgoing={key: tuple(value) for key, value in outgoing.items()},
            incoming={key: tuple(value) for key, value in incoming.items()},
            boundaries={key: tuple(value) for key, value in boundaries.items()},
            scopes=scopes,
            loops=dict(loops or {}),
            inner_starts={key: tuple(value) for key, value in inner_starts.items()},
        )

    # The cached properties below are computed once per definition, on first use (a frozen
    # dataclass's cached_property writes to the instance dict directly): a definition is
    # never changed, and every start and step asks for them again.

    @cached_property
    def start_nodes(self) -> tuple[StartNode, ...]:
        """The process's own start events (a subprocess's are in ``inner_starts``)."""
        return tuple(
            node
            for node in self.nodes.values()
            if isinstance(node, StartNode) and node.id not in self.scopes
        )

    @cached_property
    def untimed_starts(self) -> tuple[StartNode, ...]:
        """The process's own start events that have no timer."""
        return tuple(start for start in self.start_nodes if start.timer is None)

    def scope_of(self, node_id: str) -> str | None:
        """The subprocess ``node_id`` is in; None for the process's own nodes."""
        return self.scopes.get(node_id)

    def loop_of(self, node_id: str) -> LoopSpec | None:
        return self.loops.get(node_id)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def outgoing_flows(self, node_id: str) -> tuple[Flow, ...]:
        return self.outgoing.get(node_id, ())

    def actionless_flows(self, node_id: str) -> tuple[Flow, ...]:
        """The node's outgoing flows that name no user-task action, in order."""
        return self._actionless.get(node_id, ())

    @cached_property
    def _actionless(self) -> dict[str, tuple[Flow, ...]]:
        return {
            node_id: tuple(flow for flow in flows if flow.action is None)
            for node_id, flows in self.outgoing.items()
        }

    def incoming_flows(self, node_id: str) -> tuple[Flow, ...]:
        return self.incoming.get(node_id, ())

    def boundaries_of(self, activity_id: str) -> tuple[BoundaryEvent, ...]:
        return self.boundaries.get(activity_id, ())

    def upstream_of(self, join_id: str) -> frozenset[str]:
        """The nodes from which a token can still reach the inclusive join ``join_id``."""
        return self._inclusive_upstream.get(join_id, frozenset())

    @cached_property
    def inclusive_joins(self) -> tuple[str, ...]:
        return tuple(self._inclusive_upstream)

    @cached_property
    def _inclusive_upstream(self) -> dict[str, frozenset[str]]:
        # The catalog keeps definitions, so a step only looks the sets up.
        return {
            node.id: self._reaching(node.id)
            for node in self.nodes.values()
            if isinstance(node, InclusiveGateway) and len(self.incoming_flows(node.id)) > 1
        }

    def _reaching(self, target: str) -> frozenset[str]:
        """Nodes with a path to ``target`` that does not pass through ``target`` itself (BPMN
        2.0 13.3.2: a path through the join is not one by which a token can still arrive).
        A boundary event is reached from the activity it is attached to."""
        found: set[str] = set()
        queue = deque([target])
        while queue:
            node_id = queue.popleft()
            before = [flow.source for flow in self.incoming_flows(node_id)]
            node = self.nodes.get(node_id)
            if isinstance(node, BoundaryEvent):
                before.append(node.attached_to)
            for source in before:
                if source != target and source not in found:
                    found.add(source)
                    queue.append(source)
        return frozenset(found)
