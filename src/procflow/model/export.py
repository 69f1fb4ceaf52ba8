"""Exporting any definition file as BPMN 2.0 XML with diagram interchange."""

from __future__ import annotations

from procflow.model.bpmn import (
    BPMN_SUFFIXES,
    BpmnProcess,
    export_bpmn,
    export_bpmn_process,
    parse_bpmn,
    select_process,
)
from procflow.model.errors import DefinitionInvalid, DefinitionProblem
from procflow.model.formats import parse_definition_file


def export_file(data: bytes, file: str, process: str | None = None) -> bytes:
    """BPMN input keeps its drawing; YAML/JSON input is laid out automatically."""
    if file.lower().endswith(BPMN_SUFFIXES):
        processes = parse_bpmn(data, file)
        chosen = select_process(processes, process, file) if process else _only(processes, file)
        return export_bpmn_process(chosen)
    [definition] = parse_definition_file(data, file, process)
    return export_bpmn(definition)


def _only(items: list[BpmnProcess], file: str) -> BpmnProcess:
    if len(items) != 1:
        message = f"the file holds {len(items)} processes; choose one with --process"
        raise DefinitionInvalid([DefinitionProblem(file, message)])
    return items[0]
