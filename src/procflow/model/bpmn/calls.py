"""``bpmn:callActivity``: which process it calls, and how data goes to the child and back.

Procflow's own attributes (``procflow:binding``, ``paramsToCopy``, ``withoutParams``,
``outputKey``, ``async``) are read, and so are the simple vendor forms of the same thing:
Camunda 7's ``camunda:calledElementBinding="latest"`` and Zeebe's
``<zeebe:calledElement processId="..."/>``.
"""

from __future__ import annotations

from lxml import etree

from procflow.model.bpmn.context import ReadContext
from procflow.model.bpmn.namespaces import bpmn, camunda, procflow, zeebe
from procflow.model.definition import CALL_BINDINGS, CallActivityNode, Node

# Camunda 7 bindings and what they mean here ("deployment": the caller's own build).
_CAMUNDA_BINDINGS = {"latest": "latest", "deployment": "build"}


def read_call_activity(element: etree._Element, node_id: str, name: str, ctx: ReadContext) -> Node:
    line = element.sourceline if isinstance(element.sourceline, int) else None
    return CallActivityNode(
        node_id,
        name,
        _called_element(element, node_id, ctx),
        _binding(element, node_id, ctx),
        _paths(element, "paramsToCopy", node_id, ctx),
        _paths(element, "withoutParams", node_id, ctx) or (),
        _output_key(element, node_id, ctx),
        _is_async(element, node_id, ctx),
        line=line,
    )


def _called_element(element: etree._Element, node_id: str, ctx: ReadContext) -> str:
    called = (element.get("calledElement") or "").strip()
    for container in element.iterchildren(bpmn("extensionElements")):
        for zeebe_call in container.iterchildren(zeebe("calledElement")):
            called = called or (zeebe_call.get("processId") or "").strip()
    if not called:
        ctx.report("a callActivity needs a calledElement (the process it calls)", node_id, element)
    elif called.startswith("="):
        ctx.report(f"calledElement {called!r}: an expression is not supported; name the process",
                   node_id, element)  # fmt: skip
    return called


def _binding(element: etree._Element, node_id: str, ctx: ReadContext) -> str:
    binding = element.get(procflow("binding"))
    if binding is not None:
        if binding.strip() not in CALL_BINDINGS:
            ctx.report(f"procflow:binding must be 'build' or 'latest', not {binding!r}",
                       node_id, element)  # fmt: skip
        return binding.strip()
    vendor = element.get(camunda("calledElementBinding"))
    if vendor is None:
        return "build"
    if vendor.strip() not in _CAMUNDA_BINDINGS:
        ctx.report(f"camunda:calledElementBinding {vendor!r} is not supported "
                   "(use 'latest' or 'deployment')", node_id, element)  # fmt: skip
        return "build"
    return _CAMUNDA_BINDINGS[vendor.strip()]


def _paths(
    element: etree._Element, attribute: str, node_id: str, ctx: ReadContext
) -> tuple[str, ...] | None:
    """A comma-separated list of data paths; None when the attribute is absent."""
    value = element.get(procflow(attribute))
    if value is None:
        return None
    paths = tuple(part.strip() for part in value.split(",") if part.strip())
    for path in paths:
        ctx.check_path(path, node_id, element)
    return paths


def _output_key(element: etree._Element, node_id: str, ctx: ReadContext) -> str | None:
    key = element.get(procflow("outputKey"))
    if key is None:
        return None
    ctx.check_path(key.strip(), node_id, element)
    return key.strip()


def _is_async(element: etree._Element, node_id: str, ctx: ReadContext) -> bool:
    value = element.get(procflow("async"), "false").strip()
    if value not in ("true", "false"):
        ctx.report(f"procflow:async must be 'true' or 'false', not {value!r}", node_id, element)
    return value == "true"
