"""Reading BPMN messages: ``messageRef`` to a top-level ``bpmn:message``, and where the
correlation key comes from: ``procflow:correlationKey="<CEL over input>"`` on the catching
element or on the ``bpmn:message``, or Zeebe's ``<zeebe:subscription correlationKey="=path"/>``
inside the message (a plain path only: FEEL is not run)."""

from __future__ import annotations

from lxml import etree

from procflow.model.bpmn.context import PATH_PATTERN, ReadContext
from procflow.model.bpmn.namespaces import bpmn, procflow, zeebe
from procflow.model.definition import MessageSpec
from procflow.model.expression import Expression


def read_message(
    element: etree._Element, ref_holder: etree._Element, node_id: str, ctx: ReadContext
) -> MessageSpec | None:
    """The message ``ref_holder``'s ``messageRef`` names, with its correlation key."""
    ref = ref_holder.get("messageRef")
    if not ref:
        ctx.report("a message event or receive task needs a messageRef", node_id, ref_holder)
        return None
    root = element.getroottree().getroot()
    message = next((m for m in root.iterchildren(bpmn("message")) if m.get("id") == ref), None)
    if message is None:
        ctx.report(f"messageRef {ref!r} names no bpmn:message of the file", node_id, ref_holder)
        return None
    name = (message.get("name") or "").strip()
    if not name:
        ctx.report(f"bpmn:message {ref!r} needs a name (what senders correlate by)", node_id,
                   message)  # fmt: skip
        return None
    return MessageSpec(name, _key(element, message, node_id, ctx))


def _key(
    element: etree._Element, message: etree._Element, node_id: str, ctx: ReadContext
) -> Expression | None:
    own = element.get(procflow("correlationKey")) or message.get(procflow("correlationKey"))
    if own is not None:
        return ctx.compile(own.strip().removeprefix("="), node_id, element)
    for container in message.iterchildren(bpmn("extensionElements")):
        for subscription in container.iterchildren(zeebe("subscription")):
            return _zeebe_key(subscription, node_id, ctx)
    return None


def _zeebe_key(subscription: etree._Element, node_id: str, ctx: ReadContext) -> Expression | None:
    path = (subscription.get("correlationKey") or "").strip().removeprefix("=").strip()
    if not PATH_PATTERN.fullmatch(path):
        ctx.report(
            f"zeebe:subscription correlationKey {path!r} is not a plain data path; write "
            "procflow:correlationKey as CEL instead",
            node_id,
            subscription,
        )
        return None
    return ctx.compile(f"input.{path}", node_id, subscription)
