"""One entry point for deploying a definition file, whatever its format.

The file name's suffix picks the parser: YAML/JSON (``yaml_format``) or BPMN 2.0 XML
(``bpmn``). A BPMN file may hold several processes; a YAML file holds one.
"""

from __future__ import annotations

from procflow.model.bpmn import BPMN_SUFFIXES, MAX_BPMN_BYTES, parse_bpmn, select_process
from procflow.model.definition import ProcessDefinition
from procflow.model.errors import DefinitionInvalid, DefinitionProblem
from procflow.model.yaml_format import JSON_SUFFIXES, YAML_SUFFIXES, parse_definition_text

MAX_DEFINITION_BYTES = MAX_BPMN_BYTES
DEFINITION_SUFFIXES = YAML_SUFFIXES + JSON_SUFFIXES + BPMN_SUFFIXES


def parse_definition_file(
    data: bytes, file: str, process: str | None = None
) -> list[ProcessDefinition]:
    """The validated definitions in a file; with ``process``, only the one with that name
    (or, in BPMN, that process id). Raises ``DefinitionInvalid`` listing every problem."""
    suffix = file.lower()
    if suffix.endswith(BPMN_SUFFIXES):
        processes = parse_bpmn(data, file)
        if process is not None:
            return [select_process(processes, process, file).definition]
        return [found.definition for found in processes]
    if suffix.endswith(YAML_SUFFIXES + JSON_SUFFIXES):
        definition = parse_definition_text(_text(data, file), file)
        if process is not None and process != definition.name:
            _fail(file, f"the file has no process {process!r}; it has: {definition.name}")
        return [definition]
    known = ", ".join(DEFINITION_SUFFIXES)
    _fail(file, f"unknown definition file type; use one of {known}")
    return []


def _text(data: bytes, file: str) -> str:
    if len(data) > MAX_DEFINITION_BYTES:
        _fail(file, f"file is {len(data)} bytes; definitions are limited to 10 MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        _fail(file, f"not UTF-8 text: {error}")
        return ""


def _fail(file: str, message: str) -> None:
    raise DefinitionInvalid([DefinitionProblem(file, message)])
