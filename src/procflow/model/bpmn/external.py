"""How a BPMN task is implemented: rules run by Procflow, or an external task for a worker.

Recognised markings of an external task, all equivalent: ``procflow:topic="T"``, Camunda 7
``camunda:type="external" camunda:topic="T"``, Zeebe ``<zeebe:taskDefinition type="T"/>``.
Every other Camunda or Zeebe implementation (a Java class, an expression, a delegate, a
connector, a Zeebe task without a type) is refused with a hint: Procflow never runs a task
that differs from the drawing, and a silent no-op would.
"""

from __future__ import annotations

import re

from lxml import etree

from procflow.model.bpmn.context import ReadContext
from procflow.model.bpmn.namespaces import bpmn, camunda, procflow, zeebe
from procflow.model.definition import DEFAULT_RETRIES, ExternalWork

HINT = 'make it an external task with camunda:type="external" camunda:topic="..."'
_JAVA_IMPLEMENTATIONS = ("class", "expression", "delegateExpression")
# Camunda's retry cycle: R<n>/<interval>; only the count is used.
_RETRY_CYCLE = re.compile(r"R(\d+)/\S+")


def is_marked_external(element: etree._Element) -> bool:
    """Whether the task carries any external-task marking (checked in full when read)."""
    has_zeebe = any(
        True for c in element.iterchildren(bpmn("extensionElements"))
        for _ in c.iterchildren(zeebe("taskDefinition"))
    )  # fmt: skip
    marks = (element.get(procflow("topic")), element.get(camunda("type")))
    return has_zeebe or any(mark is not None for mark in marks)


def read_external(element: etree._Element, node_id: str, ctx: ReadContext) -> ExternalWork | None:
    _refuse_unrunnable(element, node_id, ctx)
    topics = [t for t in (_procflow_topic(element), _camunda_topic(element, node_id, ctx),
              _zeebe_topic(element, node_id, ctx)) if t is not None]  # fmt: skip
    if not topics:
        if element.get(procflow("retries")) is not None:
            ctx.report("procflow:retries is only for external tasks (give it a topic)", node_id,
                       element)  # fmt: skip
        return None
    if len(set(topics)) > 1:
        ctx.report(f"the task names different topics {sorted(set(topics))}", node_id, element)
    topic = topics[0]
    if not topic.strip():
        ctx.report("an external task's topic must not be empty", node_id, element)
    return ExternalWork(topic.strip(), _retries(element, node_id, ctx))


def _procflow_topic(element: etree._Element) -> str | None:
    return element.get(procflow("topic"))


def _camunda_topic(element: etree._Element, node_id: str, ctx: ReadContext) -> str | None:
    kind = element.get(camunda("type"))
    if kind is None:
        return None
    if kind != "external":
        ctx.report(f'camunda:type="{kind}" cannot run in Procflow; {HINT}', node_id, element)
        return None
    topic = element.get(camunda("topic"))
    if topic is None:
        ctx.report('camunda:type="external" needs a camunda:topic', node_id, element)
    return topic


def _zeebe_topic(element: etree._Element, node_id: str, ctx: ReadContext) -> str | None:
    found = [d for c in element.iterchildren(bpmn("extensionElements"))
             for d in c.iterchildren(zeebe("taskDefinition"))]  # fmt: skip
    if not found:
        return None
    kind = found[0].get("type")
    if not kind:
        ctx.report(f"a Zeebe task needs <zeebe:taskDefinition type>; {HINT}", node_id, found[0])
        return None
    if kind.startswith("="):
        ctx.report("a Zeebe task type expression is not supported; write the topic", node_id,
                   found[0])  # fmt: skip
    return kind


def _refuse_unrunnable(element: etree._Element, node_id: str, ctx: ReadContext) -> None:
    for name in _JAVA_IMPLEMENTATIONS:
        if element.get(camunda(name)) is not None:
            ctx.report(f"camunda:{name} cannot run in Procflow (no Java); {HINT}", node_id,
                       element)  # fmt: skip
    for container in element.iterchildren(bpmn("extensionElements")):
        for connector in container.iterchildren(camunda("connector")):
            ctx.report(f"camunda:connector cannot run in Procflow; {HINT}", node_id, connector)


def _retries(element: etree._Element, node_id: str, ctx: ReadContext) -> int:
    value = element.get(procflow("retries"))
    if value is not None:
        if not value.strip().isdigit():
            ctx.report(f"procflow:retries must be a whole number, not {value!r}", node_id,
                       element)  # fmt: skip
            return DEFAULT_RETRIES
        return int(value)
    for container in element.iterchildren(bpmn("extensionElements")):
        for cycle in container.iterchildren(camunda("failedJobRetryTimeCycle")):
            text = (cycle.text or "").strip()
            match = _RETRY_CYCLE.fullmatch(text)
            if match is None:
                ctx.report(f"camunda:failedJobRetryTimeCycle {text!r} is not R<n>/<interval>",
                           node_id, cycle)  # fmt: skip
                continue
            return int(match.group(1))
    return DEFAULT_RETRIES
