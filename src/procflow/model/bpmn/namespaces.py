"""XML namespaces of BPMN 2.0, its diagram interchange, and the Procflow extension."""

from __future__ import annotations

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PROCFLOW_NS = "https://procflow.dev/schema/bpmn"
# Read for their task markings only (external tasks), and to refuse what cannot run.
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"

NSMAP = {
    "bpmn": BPMN_NS,
    "bpmndi": BPMNDI_NS,
    "dc": DC_NS,
    "di": DI_NS,
    "xsi": XSI_NS,
    "procflow": PROCFLOW_NS,
}


def bpmn(local: str) -> str:
    return f"{{{BPMN_NS}}}{local}"


def procflow(local: str) -> str:
    return f"{{{PROCFLOW_NS}}}{local}"


def bpmndi(local: str) -> str:
    return f"{{{BPMNDI_NS}}}{local}"


def split_tag(tag: object) -> tuple[str | None, str]:
    """``{ns}local`` as ``(ns, local)``; comments and processing instructions: ``(None, "")``."""
    if not isinstance(tag, str):
        return None, ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def camunda(local: str) -> str:
    return f"{{{CAMUNDA_NS}}}{local}"


def zeebe(local: str) -> str:
    return f"{{{ZEEBE_NS}}}{local}"
