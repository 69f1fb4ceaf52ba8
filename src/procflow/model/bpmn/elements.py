"""Which BPMN elements Procflow runs, which it skips as pure drawing, and which it refuses.

Anything that would change how a process runs must either be executed or reported: silently
dropping a timer or a boundary event would run a different process than the one drawn.
"""

from __future__ import annotations

from lxml import etree

from procflow.model.bpmn.modelers import event_definition_ref_message, trigger_reason
from procflow.model.bpmn.namespaces import split_tag

TASK_TAGS = frozenset({"task", "scriptTask", "serviceTask", "sendTask", "businessRuleTask"})
NODE_TAGS = TASK_TAGS | {
    "startEvent",
    "endEvent",
    "userTask",
    "manualTask",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
    "eventBasedGateway",
    "receiveTask",
    "callActivity",
}
SUBPROCESS_TAG = "subProcess"
# Activities that may carry bpmn:multiInstanceLoopCharacteristics (model.loops).
LOOP_TAGS = TASK_TAGS | {"userTask", SUBPROCESS_TAG, "callActivity"}
# Children of a bpmn:subProcess that are about the subprocess itself, not its content.
SUBPROCESS_OWN = frozenset(
    {"incoming", "outgoing", "multiInstanceLoopCharacteristics", "dataInputAssociation",
     "dataOutputAssociation", "documentation", "extensionElements", "ioSpecification",
     "property"}
)  # fmt: skip
# Events that may carry a bpmn:timerEventDefinition; any other trigger is not supported yet.
TIMER_EVENT_TAGS = frozenset({"startEvent", "intermediateCatchEvent", "boundaryEvent"})
# Event definitions each event accepts besides a timer.
OTHER_TRIGGERS = {
    "boundaryEvent": frozenset({"errorEventDefinition", "messageEventDefinition"}),
    "intermediateCatchEvent": frozenset({"messageEventDefinition"}),
    "startEvent": frozenset({"messageEventDefinition"}),
    "endEvent": frozenset({"errorEventDefinition", "terminateEventDefinition"}),
}
# Events that only exist for their trigger: without a timer there is nothing to run.
TRIGGERED_EVENT_TAGS = frozenset({"intermediateCatchEvent", "boundaryEvent"})
FLOW_TAG = "sequenceFlow"
GATEWAY_TAGS = frozenset(
    {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway"}
    | {"complexGateway"}
)

# Children of a process that document or decorate it without affecting the run.
PROCESS_ARTIFACTS = frozenset(
    {
        "documentation",
        "extensionElements",
        "laneSet",
        "textAnnotation",
        "association",
        "group",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "property",
        "ioSpecification",
        "ioBinding",
    }
)

# Children of a flow node or sequence flow that Procflow reads itself or may skip: references
# to flows (``sourceRef``/``targetRef`` are authoritative), data and resource declarations.
NODE_ARTIFACTS = frozenset(
    {
        "documentation",
        "extensionElements",
        "incoming",
        "outgoing",
        "conditionExpression",
        "ioSpecification",
        "property",
        "dataInput",
        "dataOutput",
        "inputSet",
        "outputSet",
        "dataInputAssociation",
        "dataOutputAssociation",
        "performer",
        "humanPerformer",
        "potentialOwner",
        "rendering",
        # Membership of a bpmn:group: a drawing aid.
        "categoryValueRef",
    }
)

_CHILD_MESSAGES = {
    "standardLoopCharacteristics": "loop tasks are not supported yet",
    "multiInstanceLoopCharacteristics": (
        "multi-instance is supported on tasks, user tasks and subprocesses only"
    ),
    "script": (
        "scriptTask scripts are not run; compute data with <procflow:rule> instead, or make it "
        'an external task with camunda:type="external" camunda:topic="..."'
    ),
}


def unsupported_child(parent: str, child: str) -> str:
    """Why ``child`` inside a supported ``parent`` element cannot be run."""
    if child == "eventDefinitionRef":
        return event_definition_ref_message(parent)
    if child.endswith("EventDefinition"):
        kind = child.removesuffix("EventDefinition")
        return f"{kind} {parent} ({child}) is not supported yet{trigger_reason(kind)}"
    return _CHILD_MESSAGES.get(child, f"bpmn:{child} inside bpmn:{parent} is not supported yet")


def unsupported_trigger(element: etree._Element, tag: str) -> str | None:
    """Why a catch or boundary event cannot run: a trigger other than a timer, or none."""
    definitions = event_definitions(element)
    accepted = {"timerEventDefinition", *OTHER_TRIGGERS.get(tag, ())}
    other = [local for local in definitions if local not in accepted]
    if other:
        return unsupported_child(tag, other[0])
    if not definitions:
        what = "a timer, error or message" if tag in OTHER_TRIGGERS else "a timerEventDefinition"
        return f"bpmn:{tag} without {what} is not supported yet"
    return None


def unsupported_element(tag: str) -> str:
    return f"bpmn:{tag} is not supported yet"


def event_definitions(element: etree._Element) -> list[str]:
    """The local names of the event's definitions (and references to top-level ones)."""
    return [
        local
        for local in (split_tag(child.tag)[1] for child in element)
        if local.endswith("EventDefinition") or local == "eventDefinitionRef"
    ]


def unsupported_throw(element: etree._Element) -> str | None:
    """Why an intermediate throw event cannot run; None for one without a definition, which
    only marks a point reached (a milestone) and is passed through."""
    definitions = event_definitions(element)
    if not definitions:
        return None
    return unsupported_child("intermediateThrowEvent", definitions[0])
