"""The compact YAML/JSON definition format (``docs/definitions.md``).

Parsing happens in two passes: the document is checked against the format's JSON Schema
(``definition.schema.json``), then nodes and flows are built and the graph rules applied.
Every problem of a file is reported at once, each with the node id and line where known.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import yaml

from procflow.model.definition import (
    DEFAULT_RETRIES,
    SPLITTING_KINDS,
    Assignment,
    BoundaryEvent,
    BusinessRule,
    CallActivityNode,
    EndNode,
    ErrorCatch,
    EventBasedGateway,
    ExclusiveGateway,
    ExternalWork,
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
)
from procflow.model.errors import DefinitionProblem, ProblemCollector
from procflow.model.expression import Expression, ExpressionSyntaxError
from procflow.model.loops import DEFAULT_ELEMENT_VARIABLE, LoopSpec
from procflow.model.timers import CEL_PREFIX, TimerKind, TimerSpec, timer_spec
from procflow.model.validation import check_graph, graph_warnings

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)


@cache
def definition_schema() -> dict[str, Any]:
    text = resources.files("procflow.model").joinpath("definition.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def parse_definition_text(text: str, file: str) -> ProcessDefinition:
    problems = ProblemCollector(file)
    document, lines = _load(text, file, problems)
    problems.raise_if_any()
    _check_schema(document, problems, lines)
    problems.raise_if_any()
    definition = _build(document, problems, lines)
    check_graph(definition, problems, lines.get, {p.element_id for p in problems.problems})
    problems.raise_if_any()
    warnings = tuple(
        DefinitionProblem(file, message, element_id, lines.get(element_id))
        for message, element_id in graph_warnings(definition)
    )
    return replace(definition, warnings=warnings) if warnings else definition


def _load(text: str, file: str, problems: ProblemCollector) -> tuple[Any, dict[str, int]]:
    kind = "JSON" if file.endswith(JSON_SUFFIXES) else "YAML"
    try:
        if kind == "JSON":
            return json.loads(text), {}
        if _report_anchors(text, problems):
            return None, {}
        node = yaml.compose(text, Loader=_Loader)
        return yaml.load(text, Loader=_Loader), _id_lines(node)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        problems.add(f"not valid {kind}: {error}")
    except RecursionError:
        problems.add(f"not valid {kind}: the document nests too deeply")
    return None, {}


def _report_anchors(text: str, problems: ProblemCollector) -> bool:
    """Refuse anchors and aliases, reading only the event stream (linear in the text).

    An alias makes the loader share one subtree under many parents, so a few hundred bytes of
    nested aliases expand into billions of nodes for any code that walks the result (the id
    scan below, JSON Schema validation, a saved document). Definitions have no use for them.
    """
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        anchor = getattr(event, "anchor", None)
        if anchor is None:
            continue
        sign = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
        mark = event.start_mark
        problems.add(
            f"YAML anchors and aliases are not allowed in definitions "
            f"(found {sign}{anchor}); write the value out",
            line=mark.line + 1 if mark is not None else None,
        )
        return True
    return False


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps timestamps as the strings written: a timer's unquoted
    ``date: 2027-01-01T09:00:00Z`` stays ISO 8601 text, and data stays JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _id_lines(node: yaml.Node | None) -> dict[str, int]:
    """Map each ``id:`` value in the YAML tree to its 1-based line, for error messages."""
    lines: dict[str, int] = {}
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                if key.value == "id" and isinstance(value, yaml.ScalarNode):
                    lines.setdefault(str(value.value), current.start_mark.line + 1)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return lines


def _check_schema(document: Any, problems: ProblemCollector, lines: dict[str, int]) -> None:
    validator = jsonschema.Draft202012Validator(definition_schema())
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        element = _element_at(document, list(error.absolute_path))
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        problems.add(f"{where}: {error.message}", element, lines.get(element or ""))


def _element_at(document: Any, path: list[Any]) -> str | None:
    """The id of the innermost node or flow on ``path``, to name it in an error."""
    element: str | None = None
    current = document
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(current, Mapping) and isinstance(current.get("id"), str):
            element = current["id"]
    return element


def _build(
    document: Mapping[str, Any], problems: ProblemCollector, lines: dict[str, int]
) -> ProcessDefinition:
    def compile_at(source: str, element_id: str) -> Expression | None:
        try:
            return Expression.compile(source)
        except ExpressionSyntaxError as error:
            problems.add(
                f"expression {source!r} does not compile: {error}",
                element_id,
                lines.get(element_id),
            )
            return None

    scoped = _Scoped()
    scoped.add(document["nodes"], document["flows"], None, compile_at)
    scoped.nodes = [_with_line(node, lines) for node in scoped.nodes]
    _report_duplicate_ids(scoped.nodes, problems, lines)
    return ProcessDefinition.create(
        document["name"],
        scoped.nodes,
        scoped.flows,
        document.get("description", ""),
        document.get("expiryTime"),
        scopes=scoped.scopes,
        loops=scoped.loops,
    )


class _Scoped:
    """Nodes and flows of the process and of its subprocesses (nested ``nodes``/``flows``),
    in one flat list, with the subprocess each nested node is in and each activity's loop."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.flows: list[Flow] = []
        self.scopes: dict[str, str] = {}
        self.loops: dict[str, LoopSpec] = {}

    def add(
        self, nodes: list[Any], flows: list[Any], scope: str | None, compile_at: Compile
    ) -> None:
        for raw in nodes:
            node = _build_node(raw, compile_at)
            if isinstance(node, SPLITTING_KINDS) and raw.get("default"):
                node = replace(node, default_flow=raw["default"])  # implicit split
            self.nodes.append(node)
            if scope is not None:
                self.scopes.setdefault(node.id, scope)
            if "multiInstance" in raw:
                loop = _build_loop(raw["multiInstance"], node.id, compile_at)
                if loop is not None:
                    self.loops[node.id] = loop
            if raw["type"] == "subProcess":
                self.add(raw["nodes"], raw["flows"], node.id, compile_at)
        self.flows.extend(_build_flow(raw, compile_at) for raw in flows)


def _build_loop(raw: Mapping[str, Any], node_id: str, compile_at: Compile) -> LoopSpec | None:
    """A ``multiInstance:`` mapping; None when an expression does not compile (reported)."""
    sources = [raw.get(key) for key in ("collection", "outputElement", "completionCondition")]
    compiled = [compile_at(source, node_id) if source else None for source in sources]
    collection, output, condition = compiled
    if collection is None or any(c is None for c, s in zip(compiled, sources, strict=True) if s):
        return None
    return LoopSpec(
        collection,
        raw.get("elementVariable", DEFAULT_ELEMENT_VARIABLE),
        output,
        raw.get("outputCollection"),
        condition,
        bool(raw.get("sequential", False)),
    )


Compile = Callable[[str, str], Expression | None]


def _with_line(node: Node, lines: dict[str, int]) -> Node:
    """A call activity keeps its line: the build-wide checks (calledElement) report it."""
    if isinstance(node, CallActivityNode):
        return replace(node, line=lines.get(node.id))
    return node


def _build_node(raw: Mapping[str, Any], compile_at: Compile) -> Node:
    node_id, name, kind = raw["id"], raw.get("name", ""), raw["type"]
    if kind in _COMPOSITE_BUILDERS:
        return _COMPOSITE_BUILDERS[kind](raw, compile_at)
    if kind == "eventGateway":
        return EventBasedGateway(node_id, name)
    if kind == "userTask":
        return UserTaskNode(node_id, name, tuple(raw["actions"]))
    if kind == "exclusiveGateway":
        return ExclusiveGateway(node_id, name, raw.get("default"))
    if kind == "parallelGateway":
        return ParallelGateway(node_id, name)
    if kind == "subProcess":
        return SubProcessNode(node_id, name)
    if kind == "inclusiveGateway":
        return InclusiveGateway(node_id, name, raw.get("default"))
    return EndNode(node_id, name, raw.get("errorCode"), bool(raw.get("terminate", False)))


def _build_start(raw: Mapping[str, Any], compile_at: Compile) -> Node:
    node_id = raw["id"]
    return StartNode(
        node_id,
        raw.get("name", ""),
        raw.get("startCondition"),
        tuple(raw.get("mandatoryParams", ())),
        raw.get("schema"),
        _build_timer(raw.get("timer"), node_id, compile_at),
        _build_message(raw.get("message"), node_id, compile_at),
    )


def _build_message_catch(raw: Mapping[str, Any], compile_at: Compile) -> Node:
    node_id = raw["id"]
    message = _build_message(raw["message"], node_id, compile_at)
    node = MessageCatchNode(node_id, raw.get("name", ""), receive_task=raw["type"] == "receiveTask")
    return replace(node, message=message) if message else node


def _build_timer_catch(raw: Mapping[str, Any], compile_at: Compile) -> Node:
    node_id, name = raw["id"], raw.get("name", "")
    timer = _build_timer(raw["timer"], node_id, compile_at)
    return TimerCatchNode(node_id, name, timer) if timer else TimerCatchNode(node_id, name)


def _build_boundary(raw: Mapping[str, Any], compile_at: Compile) -> BoundaryEvent:
    node_id, name, attached_to = raw["id"], raw.get("name", ""), raw["attachedTo"]
    if raw["type"] == "boundaryError":
        error = ErrorCatch(raw.get("errorCode"), raw.get("errorVariable"))
        return BoundaryEvent(node_id, name, attached_to, None, True, error)
    interrupting = bool(raw.get("interrupting", True))
    if raw["type"] == "boundaryMessage":
        message = _build_message(raw["message"], node_id, compile_at)
        return BoundaryEvent(node_id, name, attached_to, None, interrupting, message=message)
    timer = _build_timer(raw["timer"], node_id, compile_at)
    return BoundaryEvent(node_id, name, attached_to, timer, interrupting)


def _build_message(
    raw: Mapping[str, Any] | None, node_id: str, compile_at: Compile
) -> MessageSpec | None:
    """A ``message:`` mapping; None when absent or its key does not compile (reported)."""
    if raw is None:
        return None
    source = raw.get("correlationKey")
    if source is None:
        return MessageSpec(raw["name"])
    key = compile_at(source.removeprefix(CEL_PREFIX), node_id)
    return MessageSpec(raw["name"], key) if key else None


def _build_task(raw: Mapping[str, Any], compile_at: Compile) -> TaskNode:
    node_id = raw["id"]
    rules = tuple(
        _build_rule(rule, node_id, index, compile_at)
        for index, rule in enumerate(raw.get("rules", ()))
    )
    topic = raw.get("topic")
    external = ExternalWork(topic, raw.get("retries", DEFAULT_RETRIES)) if topic else None
    return TaskNode(node_id, raw.get("name", ""), rules, bool(raw.get("async", False)), external)


def _build_call(raw: Mapping[str, Any], _compile_at: Compile) -> Node:
    copied = raw.get("paramsToCopy")
    return CallActivityNode(
        raw["id"],
        raw.get("name", ""),
        raw["calledElement"],
        raw.get("binding", "build"),
        tuple(copied) if copied is not None else None,
        tuple(raw.get("withoutParams", ())),
        raw.get("outputKey"),
        bool(raw.get("async", False)),
    )


_COMPOSITE_BUILDERS: dict[str, Callable[[Mapping[str, Any], Compile], Node]] = {
    "start": _build_start,
    "message": _build_message_catch,
    "receiveTask": _build_message_catch,
    "timer": _build_timer_catch,
    "boundaryTimer": _build_boundary,
    "boundaryError": _build_boundary,
    "boundaryMessage": _build_boundary,
    "task": _build_task,
    "callActivity": _build_call,
}


def _build_timer(
    raw: Mapping[str, str] | None, node_id: str, compile_at: Compile
) -> TimerSpec | None:
    """The one ``{form: value}`` pair of a ``timer:`` mapping (the schema checked its shape)."""
    if raw is None:
        return None
    [(form, value)] = raw.items()
    kind = TimerKind(form)
    if value.strip().startswith(CEL_PREFIX):
        expression = compile_at(value.strip().removeprefix(CEL_PREFIX).strip(), node_id)
        return TimerSpec(kind, expression.source, expression) if expression else None
    return timer_spec(kind, value)


def _build_rule(
    raw: Mapping[str, Any], node_id: str, index: int, compile_at: Compile
) -> BusinessRule:
    assignments = []
    for path, source in raw["set"].items():
        expression = compile_at(source, node_id)
        if expression is not None:
            assignments.append(Assignment(path, expression))
    return BusinessRule(raw.get("name", f"rule{index + 1}"), tuple(assignments))


def _build_flow(raw: Mapping[str, Any], compile_at: Compile) -> Flow:
    # The generated id is a valid XML ID, so an exported BPMN file stays valid for modelers.
    flow_id = raw.get("id") or f"Flow_{raw['from']}_{raw['to']}"
    condition = raw.get("condition")
    return Flow(
        id=flow_id,
        source=raw["from"],
        target=raw["to"],
        condition=compile_at(condition, flow_id) if condition else None,
        action=raw.get("action"),
        name=raw.get("name", ""),
    )


def _report_duplicate_ids(
    nodes: list[Node], problems: ProblemCollector, lines: dict[str, int]
) -> None:
    seen: set[str] = set()
    for node in nodes:
        if node.id in seen:
            problems.add(f"duplicate node id {node.id!r}", node.id, lines.get(node.id))
        seen.add(node.id)
