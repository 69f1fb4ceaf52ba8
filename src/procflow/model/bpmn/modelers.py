"""What modeling tools draw, read the way their own engines read it.

bpmn.io, Camunda Modeler, Signavio and ADONIS write names meant for people, pools for the
other parties of a collaboration, flows whose condition was never filled in, and vendor
extensions with ids of their own. Each rule here lets such a file deploy as drawn, and says
on deploy (a warning) where what runs may not be what was meant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from lxml import etree

from procflow.model.bpmn.context import NAME_PATTERN, ReadContext
from procflow.model.bpmn.namespaces import BPMN_NS, split_tag
from procflow.model.definition import ProcessDefinition
from procflow.model.errors import DefinitionProblem
from procflow.model.validation import graph_warnings

# A user task or manual task drawn without procflow:action gets this one action.
IMPLICIT_ACTION = "complete"


@dataclass(frozen=True)
class ProcessName:
    """``name`` identifies the definition (URL-safe); ``title`` is the drawn name when that
    could not be it, kept for display."""

    name: str
    title: str = ""


def process_name(element: etree._Element, ctx: ReadContext) -> ProcessName:
    """The drawn name if it is URL-safe, else the process id (the drawn name kept as title)."""
    process_id = element.get("id", "")
    drawn = element.get("name", "").strip()
    if drawn and NAME_PATTERN.fullmatch(drawn):
        return ProcessName(drawn)
    if NAME_PATTERN.fullmatch(process_id):
        return ProcessName(process_id, drawn)
    ctx.report(
        f"process id {process_id!r} cannot name a definition (letters, digits, '_', '.', ':', "
        "'-')" + (f", nor can its name {drawn!r}" if drawn else ""),
        process_id,
        element,
    )
    return ProcessName(drawn or process_id)


def executable_processes(processes: list[etree._Element]) -> list[etree._Element]:
    """The processes to deploy. When some process of the file is marked executable, those
    marked ``isExecutable="false"`` are the other parties' pools of a collaboration, drawn
    for context: skipped, as Camunda skips them. Otherwise every process is read."""
    if not any(_executable(element) == "true" for element in processes):
        return processes
    return [element for element in processes if _executable(element) != "false"]


def _executable(element: etree._Element) -> str:
    return element.get("isExecutable", "").strip().lower()


def check_unique_ids(root: etree._Element, problems: list[tuple[str, etree._Element]]) -> None:
    """Duplicate ids among BPMN elements. Other vendors' extension elements (Camunda form
    fields, ADONIS rows, ...) and diagram elements have ids of their own, which may repeat
    or repeat a BPMN id without meaning anything to the process."""
    seen: set[str] = set()
    for element in root.iter():
        if split_tag(element.tag)[0] != BPMN_NS or _inside_extension(element):
            continue
        element_id = element.get("id")
        if element_id is None:
            continue
        if element_id in seen:
            problems.append((element_id, element))
        seen.add(element_id)


def _inside_extension(element: etree._Element) -> bool:
    return any(
        split_tag(ancestor.tag) == (BPMN_NS, "extensionElements")
        for ancestor in element.iterancestors()
    )


def with_warnings(
    definition: ProcessDefinition,
    file: str,
    lines: dict[str, int],
    title: str,
    read: Sequence[DefinitionProblem] = (),
) -> ProcessDefinition:
    """The definition carrying its deploy warnings (placed by element and line) and title;
    ``read``: those the reader found (a translated JUEL condition)."""
    warnings = tuple(read) + tuple(
        DefinitionProblem(file, message, element_id, lines.get(element_id))
        for message, element_id in graph_warnings(definition)
    )
    if not warnings and not title:
        return definition
    return replace(definition, warnings=definition.warnings + warnings, title=title)


# Why each event trigger Procflow does not run is refused, for the problem message.
TRIGGER_REASONS = {
    "signal": "Procflow has no signal broadcast; use a message (correlated by name and key)",
    "escalation": "escalations are not run; use a BPMN error (interrupting) or a message",
    "compensate": "compensation is not run; model the undoing steps as tasks",
    "conditional": (
        "conditional events (waiting until the data makes a condition true) are not run; "
        "use a gateway, or a message when the data changes"
    ),
    "link": "link events are not run; draw the sequence flow instead",
    "cancel": "cancel events belong to transactions, which are not run",
}


def trigger_reason(kind: str) -> str:
    reason = TRIGGER_REASONS.get(kind)
    return f": {reason}" if reason else ""


def event_definition_ref_message(tag: str) -> str:
    return (
        f"bpmn:{tag} refers to a top-level event definition (eventDefinitionRef), which is "
        "not supported yet; put the event definition inside the event"
    )
