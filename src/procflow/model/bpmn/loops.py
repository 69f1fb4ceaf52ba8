"""``bpmn:multiInstanceLoopCharacteristics``: Procflow's attributes or Zeebe's extension.

Procflow: ``procflow:collection="<CEL>"``, ``procflow:elementVariable`` (default ``item``),
``procflow:outputElement="<CEL>"``, ``procflow:outputCollection="<path>"``. Zeebe:
``<zeebe:loopCharacteristics inputCollection="=path" inputElement="x"
outputCollection="y" outputElement="=path"/>``; Zeebe's values are FEEL, which Procflow does
not run, so only a plain variable path (``=order.items``) is read, as ``input.order.items``.
Both take the standard ``isSequential`` and ``bpmn:completionCondition`` (CEL, or a Zeebe
``=path``).
"""

from __future__ import annotations

import re

from lxml import etree

from procflow.model.bpmn.context import ReadContext
from procflow.model.bpmn.namespaces import BPMN_NS, PROCFLOW_NS, bpmn, procflow, split_tag, zeebe
from procflow.model.bpmn.nodes import text_of
from procflow.model.expression import Expression
from procflow.model.loops import DEFAULT_ELEMENT_VARIABLE, LoopSpec

LOOP_TAG = "multiInstanceLoopCharacteristics"
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
_FEEL_PATH = re.compile(r"=\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*")
_ATTRIBUTES = frozenset({"collection", "elementVariable", "outputElement", "outputCollection"})
# Standard children that say how to run the loop in ways Procflow does not read.
_UNREAD = ("loopCardinality", "loopDataInputRef", "loopDataOutputRef", "inputDataItem",
           "outputDataItem", "complexBehaviorDefinition")  # fmt: skip


def read_loop(element: etree._Element, node_id: str, ctx: ReadContext) -> LoopSpec | None:
    """The activity's multi-instance loop, None without one (or when it is broken: reported)."""
    loop = next(element.iterchildren(bpmn(LOOP_TAG)), None)
    if loop is None:
        return None
    _check_children(loop, node_id, ctx)
    sequential = loop.get("isSequential", "false").strip()
    if sequential not in ("true", "false"):
        ctx.report(f"isSequential must be 'true' or 'false', not {sequential!r}", node_id, loop)
    zeebe_loop = next((c for e in loop.iterchildren(bpmn("extensionElements"))
                       for c in e.iterchildren(zeebe("loopCharacteristics"))), None)  # fmt: skip
    if zeebe_loop is not None:
        spec = _zeebe_loop(zeebe_loop, node_id, ctx)
    else:
        spec = _procflow_loop(loop, node_id, ctx)
    if spec is None:
        return None
    condition = _completion_condition(loop, node_id, ctx)
    if condition is False:
        return None
    completion = condition if isinstance(condition, Expression) else None
    return LoopSpec(spec[0], spec[1], spec[2], spec[3], completion, sequential == "true")


_Parts = tuple[Expression, str, Expression | None, str | None]


def _check_children(loop: etree._Element, node_id: str, ctx: ReadContext) -> None:
    for name in loop.attrib:
        namespace, local = split_tag(name)
        if namespace == PROCFLOW_NS and local not in _ATTRIBUTES:
            ctx.report(f"procflow:{local} is not allowed on bpmn:{LOOP_TAG}", node_id, loop)
    for child in loop:
        namespace, local = split_tag(child.tag)
        if namespace == BPMN_NS and local in _UNREAD:
            ctx.report(
                f"bpmn:{local} of a multi-instance activity is not supported; give "
                'procflow:collection="<CEL>" (and procflow:elementVariable) instead',
                node_id,
                child,
            )


def _procflow_loop(loop: etree._Element, node_id: str, ctx: ReadContext) -> _Parts | None:
    source = (loop.get(procflow("collection")) or "").strip()
    if not source:
        ctx.report(
            'a multi-instance activity needs procflow:collection="<CEL>" (or Zeebe\'s '
            "zeebe:loopCharacteristics inputCollection)",
            node_id,
            loop,
        )
        return None
    collection = ctx.compile(source, node_id, loop)
    variable = _variable(loop.get(procflow("elementVariable")), node_id, loop, ctx)
    output_source = (loop.get(procflow("outputElement")) or "").strip()
    output = ctx.compile(output_source, node_id, loop) if output_source else None
    output_collection = _path(loop.get(procflow("outputCollection")), node_id, loop, ctx)
    if collection is None or (output_source and output is None):
        return None
    return collection, variable, output, output_collection


def _zeebe_loop(zeebe_loop: etree._Element, node_id: str, ctx: ReadContext) -> _Parts | None:
    collection = _feel_path(zeebe_loop.get("inputCollection"), "inputCollection", node_id,
                            zeebe_loop, ctx)  # fmt: skip
    variable = _variable(zeebe_loop.get("inputElement"), node_id, zeebe_loop, ctx)
    output_text = zeebe_loop.get("outputElement")
    output = _feel_path(output_text, "outputElement", node_id, zeebe_loop, ctx) if output_text \
        else None  # fmt: skip
    output_collection = _path(zeebe_loop.get("outputCollection"), node_id, zeebe_loop, ctx)
    if collection is None or (output_text and output is None):
        return None
    return collection, variable, output, output_collection


def _feel_path(
    value: str | None, what: str, node_id: str, element: etree._Element, ctx: ReadContext
) -> Expression | None:
    match = _FEEL_PATH.fullmatch(value or "")
    if match is None:
        ctx.report(
            f"zeebe {what} {value!r} is not supported: Procflow reads a variable path "
            '("=order.items"), not FEEL; write CEL in procflow:collection / '
            "procflow:outputElement instead",
            node_id,
            element,
        )
        return None
    return ctx.compile(f"input.{match.group(1)}", node_id, element)


def _variable(value: str | None, node_id: str, element: etree._Element, ctx: ReadContext) -> str:
    if value is None:
        return DEFAULT_ELEMENT_VARIABLE
    if not _VARIABLE.fullmatch(value):
        ctx.report(f"element variable {value!r} is not a plain name (letters, digits, '_')",
                   node_id, element)  # fmt: skip
    return value


def _path(value: str | None, node_id: str, element: etree._Element, ctx: ReadContext) -> str | None:
    if value is None:
        return None
    ctx.check_path(value, node_id, element)
    return value


def _completion_condition(
    loop: etree._Element, node_id: str, ctx: ReadContext
) -> Expression | bool | None:
    """The condition; None without one; False when it is broken (reported)."""
    element = next(loop.iterchildren(bpmn("completionCondition")), None)
    if element is None:
        return None
    source = text_of(element)
    if not source:
        ctx.report("bpmn:completionCondition needs a CEL expression", node_id, element)
        return False
    if source.startswith("="):
        compiled = _feel_path(source, "completionCondition", node_id, element, ctx)
    else:
        compiled = ctx.compile(source, node_id, element)
    return compiled if compiled is not None else False
