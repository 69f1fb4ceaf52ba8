"""``bpmn:timerEventDefinition`` as a ``TimerSpec``, and back.

A definition holds one of ``timeDuration``, ``timeDate`` or ``timeCycle`` (formal expressions),
or the ``procflow:cron`` attribute for a cron schedule, which BPMN has no element for. The
text is a literal, or CEL when it starts with ``=`` (or the expression's ``language`` is CEL).
Literals are checked with the graph rules (``validation.check_graph``), like YAML ones.
"""

from __future__ import annotations

from lxml import etree

from procflow.model.bpmn.context import ReadContext
from procflow.model.bpmn.namespaces import PROCFLOW_NS, XSI_NS, bpmn, procflow, split_tag
from procflow.model.expression import ExpressionSyntaxError
from procflow.model.timers import CEL_PREFIX, TimerKind, TimerSpec, timer_spec

TIMER_DEFINITION = "timerEventDefinition"
CRON_ATTRIBUTE = "cron"

_ELEMENT_KINDS = {
    "timeDuration": TimerKind.DURATION,
    "timeDate": TimerKind.DATE,
    "timeCycle": TimerKind.CYCLE,
}
_ELEMENT_OF_KIND = {kind: local for local, kind in _ELEMENT_KINDS.items()}
_CEL_LANGUAGES = ("cel", "https://github.com/google/cel-spec")


def timer_definitions(element: etree._Element) -> list[etree._Element]:
    return list(element.iterchildren(bpmn(TIMER_DEFINITION)))


def read_timer(element: etree._Element, owner_id: str, ctx: ReadContext) -> TimerSpec | None:
    """The timer of an event element, or ``None`` if it has no timer definition (or a broken
    one, which is reported)."""
    definitions = timer_definitions(element)
    for extra in definitions[1:]:
        ctx.report("an event takes one timerEventDefinition", owner_id, extra)
    if not definitions:
        return None
    return _read_definition(definitions[0], owner_id, ctx)


def _read_definition(
    definition: etree._Element, owner_id: str, ctx: ReadContext
) -> TimerSpec | None:
    _check_attributes(definition, owner_id, ctx)
    forms = [child for child in definition if split_tag(child.tag)[1] in _ELEMENT_KINDS]
    for child in definition:
        namespace, local = split_tag(child.tag)
        if (
            namespace
            and local not in _ELEMENT_KINDS
            and local not in ("documentation", "extensionElements")
        ):
            ctx.report(f"bpmn:{local} is not allowed in a timerEventDefinition", owner_id, child)
    cron = definition.get(procflow(CRON_ATTRIBUTE))
    if len(forms) + (cron is not None) != 1:
        problem = "has none of" if not forms and cron is None else "takes only one of"
        ctx.report(
            f"the timerEventDefinition {problem} timeDuration, timeDate, timeCycle and "
            "procflow:cron, which say when the timer fires",
            owner_id,
            definition,
        )
        return None
    if cron is not None:
        return _spec(TimerKind.CRON, cron, owner_id, definition, ctx)
    return _read_form(forms[0], owner_id, ctx)


def _check_attributes(definition: etree._Element, owner_id: str, ctx: ReadContext) -> None:
    for name in definition.attrib:
        namespace, local = split_tag(name)
        if namespace == PROCFLOW_NS and local != CRON_ATTRIBUTE:
            ctx.report(
                f"procflow:{local} is not allowed on bpmn:timerEventDefinition",
                owner_id,
                definition,
            )


def _read_form(form: etree._Element, owner_id: str, ctx: ReadContext) -> TimerSpec | None:
    kind = _ELEMENT_KINDS[split_tag(form.tag)[1]]
    text = "".join(str(part) for part in form.itertext()).strip()
    expression_type = form.get(f"{{{XSI_NS}}}type", "")
    if expression_type and not expression_type.endswith("tFormalExpression"):
        ctx.report(f"timer of xsi:type {expression_type!r} is not supported", owner_id, form)
        return None
    language = form.get("language", "").strip()
    if language and language.lower() not in _CEL_LANGUAGES:
        ctx.report(
            f"timer language {language!r} is not supported; write the ISO 8601 value, or "
            "=<CEL> to compute it",
            owner_id,
            form,
        )
        return None
    if language and not text.startswith(CEL_PREFIX):
        text = CEL_PREFIX + text
    return _spec(kind, text, owner_id, form, ctx)


def _spec(
    kind: TimerKind, text: str, owner_id: str, element: etree._Element, ctx: ReadContext
) -> TimerSpec | None:
    try:
        return timer_spec(kind, text)
    except ExpressionSyntaxError as error:
        ctx.report(f"timer expression {text!r} does not compile: {error}", owner_id, element)
        return None


def write_timer(element: etree._Element, timer: TimerSpec) -> None:
    """Append the ``timerEventDefinition`` of ``timer`` to an event element."""
    definition = etree.SubElement(element, bpmn(TIMER_DEFINITION))
    definition.set("id", f"{element.get('id')}_timer")
    text = CEL_PREFIX + timer.value if timer.expression is not None else timer.value
    if timer.kind is TimerKind.CRON:
        definition.set(procflow(CRON_ATTRIBUTE), text)
        return
    form = etree.SubElement(definition, bpmn(_ELEMENT_OF_KIND[timer.kind]))
    form.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
    form.text = text
