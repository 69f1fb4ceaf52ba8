"""Reading BPMN 2.0 XML into validated ``ProcessDefinition``s, one per ``bpmn:process``.

Every problem of a file is collected before raising, each placed by element id and line, and
the graph rules are the same ``check_graph`` the YAML format uses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from lxml import etree

from procflow.model.bpmn.context import ReadContext
from procflow.model.bpmn.elements import (
    FLOW_TAG,
    GATEWAY_TAGS,
    LOOP_TAGS,
    NODE_ARTIFACTS,
    NODE_TAGS,
    OTHER_TRIGGERS,
    PROCESS_ARTIFACTS,
    SUBPROCESS_OWN,
    SUBPROCESS_TAG,
    TIMER_EVENT_TAGS,
    TRIGGERED_EVENT_TAGS,
    event_definitions,
    unsupported_child,
    unsupported_element,
    unsupported_throw,
    unsupported_trigger,
)
from procflow.model.bpmn.external import HINT, is_marked_external
from procflow.model.bpmn.loops import LOOP_TAG, read_loop
from procflow.model.bpmn.modelers import (
    check_unique_ids,
    executable_processes,
    process_name,
    with_warnings,
)
from procflow.model.bpmn.namespaces import (
    BPMN_NS,
    BPMNDI_NS,
    PROCFLOW_NS,
    bpmn,
    procflow,
    split_tag,
)
from procflow.model.bpmn.nodes import check_extensions, read_flow, read_node, text_of
from procflow.model.bpmn.secure_xml import load_xml
from procflow.model.definition import (
    Flow,
    Node,
    ParallelGateway,
    ProcessDefinition,
    SubProcessNode,
    TaskNode,
)
from procflow.model.errors import DefinitionInvalid, DefinitionProblem, ProblemCollector
from procflow.model.loops import LoopSpec
from procflow.model.validation import check_graph, reachable_from

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml", ".xml")

# check_graph's wording; problems it reports only because an unsupported element was left out
# of the graph are dropped, since that element is already reported on its own.
_UNREACHABLE = "node is unreachable from any start node"


@dataclass(frozen=True)
class BpmnProcess:
    """One ``bpmn:process`` of a file: its id, its definition, and its drawing as found.

    ``diagram`` maps element ids to the file's ``bpmndi:BPMNShape``/``BPMNEdge`` elements, so
    that exporting the definition again keeps the layout the modeler drew.
    """

    id: str
    definition: ProcessDefinition
    diagram: Mapping[str, etree._Element] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.definition.name


def parse_bpmn(data: bytes, file: str, *, every_process: bool = False) -> list[BpmnProcess]:
    """Every process of a BPMN file that is to run (``executable_processes``; with
    ``every_process``, all of them), validated; raises ``DefinitionInvalid`` with all problems."""
    problems = ProblemCollector(file)
    root = load_xml(data, problems)
    if root is None or not _check_root(root, problems):
        problems.raise_if_any()
        return []
    process_elements = list(root.iterchildren(bpmn("process")))
    if not every_process:
        process_elements = executable_processes(process_elements)
    if not process_elements:
        _report(problems, "the file defines no bpmn:process", None, root)
    _check_unique_ids(root, problems)
    processes = [_read_process(element, problems) for element in process_elements]
    _check_unique_names(processes, process_elements, problems)
    # The file-wide id check and check_graph may both see the same duplicate id.
    problems.problems = _first_of_each(problems.problems)
    problems.raise_if_any()
    diagram = diagram_elements(root)
    return [_with_diagram(process, diagram) for process in processes]


def _first_of_each(problems: list[DefinitionProblem]) -> list[DefinitionProblem]:
    unique: dict[tuple[str, str | None], DefinitionProblem] = {}
    for problem in problems:
        unique.setdefault((problem.message, problem.element_id), problem)
    return list(unique.values())


def select_process(processes: Sequence[BpmnProcess], wanted: str, file: str) -> BpmnProcess:
    """The process whose id or name is ``wanted``; ``DefinitionInvalid`` if there is none."""
    for process in processes:
        if wanted in (process.id, process.name):
            return process
    available = ", ".join(sorted({p.id for p in processes} | {p.name for p in processes}))
    message = f"the file has no process {wanted!r}; it has: {available or 'none'}"
    raise DefinitionInvalid([DefinitionProblem(file, message)])


def _report(
    problems: ProblemCollector, message: str, element_id: str | None, element: etree._Element
) -> None:
    line = element.sourceline
    problems.add(message, element_id, line if isinstance(line, int) else None)


def _check_root(root: etree._Element, problems: ProblemCollector) -> bool:
    if root.tag == bpmn("definitions"):
        return True
    namespace, local = split_tag(root.tag)
    if namespace != BPMN_NS:
        message = (
            f"root element is in namespace {namespace or '(none)'!r}; BPMN 2.0 files use "
            f"{BPMN_NS!r}"
        )
    else:
        message = f"root element is bpmn:{local}; a BPMN file starts with bpmn:definitions"
    _report(problems, message, root.get("id"), root)
    return False


def _check_unique_ids(root: etree._Element, problems: ProblemCollector) -> None:
    duplicates: list[tuple[str, etree._Element]] = []
    check_unique_ids(root, duplicates)
    for element_id, element in duplicates:
        _report(problems, f"duplicate id {element_id!r}", element_id, element)


def _check_unique_names(
    processes: list[BpmnProcess], elements: list[etree._Element], problems: ProblemCollector
) -> None:
    seen: set[str] = set()
    for process, element in zip(processes, elements, strict=True):
        if process.name in seen:
            _report(problems, f"two processes are named {process.name!r}", process.id, element)
        seen.add(process.name)


def _read_process(element: etree._Element, problems: ProblemCollector) -> BpmnProcess:
    process_id = element.get("id", "")
    ctx = ReadContext(problems)
    name = process_name(element, ctx)
    graph = _ProcessGraph(ctx)
    for child in element:
        graph.add(child)
    definition = ProcessDefinition.create(
        name.name,
        graph.nodes,
        graph.flows,
        _description(element),
        _expiry_time(element, ctx),
        scopes=graph.scopes,
        loops=graph.loops,
    )
    graph.check(definition, process_id, element)
    definition = with_warnings(definition, problems.file, graph.lines, name.title, ctx.warnings)
    return BpmnProcess(process_id, _without(definition, graph.placeholders))


def _expiry_time(element: etree._Element, ctx: ReadContext) -> str | None:
    value = element.get(procflow("expiryTime"))
    if value is not None and not value.strip():
        ctx.report("procflow:expiryTime must not be empty", element.get("id"), element)
    return value.strip() if value and value.strip() else None


def _description(element: etree._Element) -> str:
    documentation = next(element.iterchildren(bpmn("documentation")), None)
    return text_of(documentation) if documentation is not None else ""


def _throws_message_to_worker(element: etree._Element) -> bool:
    definitions = [split_tag(c.tag)[1] for c in element if split_tag(c.tag)[1].endswith(
        "EventDefinition")]  # fmt: skip
    return definitions == ["messageEventDefinition"] and is_marked_external(element)


# Elements read as nodes (a throw event that the caller did not refuse is a pass-through).
_READ_TAGS = NODE_TAGS | {FLOW_TAG, "intermediateThrowEvent"}


def _refuse_throw(element: etree._Element, ctx: ReadContext) -> bool:
    """Report a throw event that cannot run; a message one marked external was read already."""
    reason = unsupported_throw(element)
    if reason is not None:
        if "messageEventDefinition" in event_definitions(element):
            reason = f"a message intermediateThrowEvent needs a topic (a worker sends it); {HINT}"
        ctx.report(reason, element.get("id"), element)
    return reason is not None


class _ProcessGraph:
    """Nodes and flows read so far, with stand-ins for unsupported elements.

    A stand-in keeps the graph connected, so that one unsupported timer does not also make
    every node after it "unreachable" or its flows "unknown".
    """

    def __init__(self, ctx: ReadContext) -> None:
        self.ctx = ctx
        self.nodes: list[Node] = []
        self.flows: list[Flow] = []
        self.placeholders: set[str] = set()
        self.lines: dict[str, int] = {}
        # The subprocess each nested element is in, and each activity's multi-instance loop.
        self.scopes: dict[str, str] = {}
        self.loops: dict[str, LoopSpec] = {}

    def add(self, child: etree._Element, scope: str | None = None) -> None:
        namespace, tag = split_tag(child.tag)
        element_id = child.get("id")
        self._note(child, namespace, tag, scope)
        if namespace == BPMN_NS and tag == SUBPROCESS_TAG:
            self._add_subprocess(child, element_id or "")
            return
        if namespace == PROCFLOW_NS:
            self.ctx.report(f"<procflow:{tag}> is not allowed here", element_id, child)
        if namespace != BPMN_NS or tag in PROCESS_ARTIFACTS:
            return
        trigger = unsupported_trigger(child, tag) if tag in TRIGGERED_EVENT_TAGS else None
        if trigger is not None:
            # Run as something else it would not be the drawn process: reported, stood in for.
            self.ctx.report(trigger, element_id, child)
            self._add_placeholder(element_id or "", tag)
            return
        if tag == "intermediateThrowEvent" and self._add_throw(child, element_id or ""):
            return
        if tag == "sendTask" and not is_marked_external(child):
            # Sending means handing the message to a worker: without a topic it would do nothing.
            message = f"bpmn:sendTask is not supported yet without a topic; {HINT}"
            self.ctx.report(message, element_id, child)
            self._add_placeholder(element_id or "", tag)
            return
        if tag in _READ_TAGS:
            self._check_element(child, tag, element_id)
        if tag == FLOW_TAG:
            self.flows.append(read_flow(child, self.ctx))
        elif tag in _READ_TAGS:
            self.nodes.append(read_node(child, tag, self.ctx))
            self._add_loop(child, tag, element_id or "")
        else:
            self.ctx.report(unsupported_element(tag), element_id, child)
            self._add_placeholder(element_id or "", tag)

    def _add_throw(self, child: etree._Element, element_id: str) -> bool:
        """Whether the throw event was dealt with here (read or refused); one without a
        definition, a milestone, is read by the caller as a task that passes the token on."""
        if _throws_message_to_worker(child):
            # "Send" means a worker hands the message on: read as the external task it is.
            self.ctx.check_id(element_id, "id", element_id, child)
            self.nodes.append(read_node(child, "sendTask", self.ctx))
            return True
        if _refuse_throw(child, self.ctx):
            self._add_placeholder(element_id, "intermediateThrowEvent")
            return True
        return False

    def _check_element(self, element: etree._Element, tag: str, element_id: str | None) -> None:
        if not element_id:
            self.ctx.report(f"bpmn:{tag} needs an id", None, element)
        else:
            what = "flow id" if tag == FLOW_TAG else "id"
            self.ctx.check_id(element_id, what, element_id, element)
        for child in element:
            namespace, local = split_tag(child.tag)
            if namespace == BPMN_NS and local not in NODE_ARTIFACTS:
                if tag == "scriptTask" and local == "script" and not text_of(child):
                    continue
                if tag in TIMER_EVENT_TAGS and local == "timerEventDefinition":
                    continue
                if local in OTHER_TRIGGERS.get(tag, ()):
                    continue
                if local == LOOP_TAG and tag in LOOP_TAGS:
                    continue
                self.ctx.report(unsupported_child(tag, local), element.get("id"), child)

    def _note(
        self, child: etree._Element, namespace: str | None, tag: str, scope: str | None
    ) -> None:
        """Where the element is: its line, and the subprocess it is in."""
        element_id = child.get("id")
        if element_id and isinstance(child.sourceline, int):
            self.lines.setdefault(element_id, child.sourceline)
        if scope is not None and element_id and namespace == BPMN_NS and tag != FLOW_TAG:
            self.scopes.setdefault(element_id, scope)

    def _add_loop(self, element: etree._Element, tag: str, element_id: str) -> None:
        if tag in LOOP_TAGS:
            loop = read_loop(element, element_id, self.ctx)
            if loop is not None:
                self.loops[element_id] = loop

    def _add_subprocess(self, element: etree._Element, element_id: str) -> None:
        """An embedded subprocess: its node, then its own flow elements, nested to any depth."""
        if element.get("triggeredByEvent", "false").strip() == "true":
            self.ctx.report("an event subprocess (triggeredByEvent) is not supported yet",
                            element_id, element)  # fmt: skip
            self._add_placeholder(element_id, SUBPROCESS_TAG)
            return
        if not element_id:
            self.ctx.report(f"bpmn:{SUBPROCESS_TAG} needs an id", None, element)
        else:
            self.ctx.check_id(element_id, "id", element_id, element)
        check_extensions(element, SUBPROCESS_TAG, element_id, self.ctx)
        default = element.get("default") or None
        self.nodes.append(SubProcessNode(element_id, element.get("name", ""), default))
        self._add_loop(element, SUBPROCESS_TAG, element_id)
        for child in element:
            namespace, local = split_tag(child.tag)
            if namespace == BPMN_NS and local in SUBPROCESS_OWN:
                continue
            if namespace == BPMN_NS and local == "standardLoopCharacteristics":
                self.ctx.report(unsupported_child(SUBPROCESS_TAG, local), element_id, child)
                continue
            self.add(child, element_id)

    def _add_placeholder(self, element_id: str, tag: str) -> None:
        self.placeholders.add(element_id)
        stand_in = ParallelGateway(element_id) if tag in GATEWAY_TAGS else TaskNode(element_id)
        self.nodes.append(stand_in)

    def check(
        self, definition: ProcessDefinition, process_id: str, element: etree._Element
    ) -> None:
        lines = dict(self.lines)
        if isinstance(element.sourceline, int):
            lines.setdefault(definition.name, element.sourceline)
            lines.setdefault(process_id, element.sourceline)
        found = ProblemCollector(self.ctx.problems.file)
        reported = {problem.element_id for problem in self.ctx.problems.problems}
        check_graph(definition, found, lines.get, reported)
        self.ctx.problems.problems.extend(
            problem for problem in found.problems if not self._explained(problem, definition)
        )

    def _explained(self, problem: DefinitionProblem, definition: ProcessDefinition) -> bool:
        """Whether a graph problem only stems from a stand-in, which is reported already."""
        if not self.placeholders:
            return False
        touching = {
            flow.id for flow in definition.flows if {flow.source, flow.target} & self.placeholders
        }
        if problem.element_id in self.placeholders | touching:
            return True
        return problem.message == _UNREACHABLE and problem.element_id in reachable_from(
            definition, self.placeholders
        )


def _without(definition: ProcessDefinition, placeholders: set[str]) -> ProcessDefinition:
    if not placeholders:
        return definition
    nodes = [node for node in definition.nodes.values() if node.id not in placeholders]
    rebuilt = ProcessDefinition.create(
        definition.name,
        nodes,
        list(definition.flows),
        definition.description,
        definition.expiry_time,
        scopes={k: v for k, v in definition.scopes.items() if k not in placeholders},
        loops=definition.loops,
    )
    return replace(rebuilt, warnings=definition.warnings, title=definition.title)


def diagram_elements(root: etree._Element) -> dict[str, etree._Element]:
    """Each DI shape and edge of the file by the id of the element it draws."""
    drawn: dict[str, etree._Element] = {}
    for diagram in root.iterchildren(f"{{{BPMNDI_NS}}}BPMNDiagram"):
        for plane_element in diagram.iter(f"{{{BPMNDI_NS}}}BPMNShape", f"{{{BPMNDI_NS}}}BPMNEdge"):
            target = plane_element.get("bpmnElement")
            if target and target not in drawn:
                drawn[target] = copy.deepcopy(plane_element)
    return drawn


def _with_diagram(process: BpmnProcess, diagram: dict[str, etree._Element]) -> BpmnProcess:
    ids = set(process.definition.nodes) | {flow.id for flow in process.definition.flows}
    own = {element_id: diagram[element_id] for element_id in ids if element_id in diagram}
    return BpmnProcess(process.id, process.definition, own)
