"""BPMN 2.0 XML: read what bpmn.io and Camunda Modeler draw, and write definitions back.

See ``docs/bpmn.md`` for the supported elements and the ``procflow`` extension namespace.
"""

from procflow.model.bpmn.namespaces import BPMN_NS, PROCFLOW_NS
from procflow.model.bpmn.reader import BPMN_SUFFIXES, BpmnProcess, parse_bpmn, select_process
from procflow.model.bpmn.secure_xml import MAX_BPMN_BYTES
from procflow.model.bpmn.writer import export_bpmn, export_bpmn_process

__all__ = [
    "BPMN_NS",
    "BPMN_SUFFIXES",
    "MAX_BPMN_BYTES",
    "PROCFLOW_NS",
    "BpmnProcess",
    "export_bpmn",
    "export_bpmn_process",
    "parse_bpmn",
    "select_process",
]
