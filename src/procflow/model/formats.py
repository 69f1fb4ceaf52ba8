"""One entry point for deploying a definition file, whatever its format.

The file name's suffix picks the parser: YAML/JSON (``yaml_format``) or BPMN 2.0 XML
(``bpmn``). A BPMN file may hold several processes; a YAML file holds one.
"""

from __future__ import annotations

import codecs
import re
from typing import NoReturn

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
            if not any(process in (found.id, found.name) for found in processes):
                # A build deployed before non-executable pools were skipped may run one.
                processes = parse_bpmn(data, file, every_process=True)
            return [select_process(processes, process, file).definition]
        return [found.definition for found in processes]
    if suffix.endswith(YAML_SUFFIXES + JSON_SUFFIXES):
        definition = parse_definition_text(_text(data, file), file)
        if process is not None and process != definition.name:
            _fail(file, f"the file has no process {process!r}; it has: {definition.name}")
        return [definition]
    known = ", ".join(DEFINITION_SUFFIXES)
    _fail(file, f"unknown definition file type; use one of {known}")


def definition_text(data: bytes, file: str) -> str:
    """A file's text, as a build stores it and every later parse reads it (UTF-8 bytes).

    YAML and JSON are UTF-8 (a BOM is allowed). A BPMN file is decoded as XML says it is
    encoded (a byte-order mark, else the declaration's ``encoding``, else UTF-8), and its
    declaration is rewritten to say UTF-8, so that ``text.encode()`` parses to the same tree.
    """
    if not file.lower().endswith(BPMN_SUFFIXES):
        return _text(data, file)
    _check_size(data, file)
    encoding = xml_encoding(data)
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError) as error:
        _fail(file, f"cannot be read as {encoding}, the encoding the file declares: {error}")
    return with_utf8_declaration(text)


def uploaded_file_bytes(file: str, text: str) -> bytes:
    """A file sent as JSON text is already decoded: whatever encoding its XML declaration
    names no longer applies, so the declaration is made to match the UTF-8 bytes."""
    if file.lower().endswith(BPMN_SUFFIXES):
        text = with_utf8_declaration(text)
    return text.encode()


# Byte-order marks, longest first (a UTF-32 LE mark begins like a UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# XML 1.0 appendix F: a declaration in UTF-16 without a mark starts "<?" in two bytes each.
_UNMARKED = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
_DECLARED = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
_DECLARATION_ENCODING = re.compile(r"""^(\ufeff?<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")


def xml_encoding(data: bytes) -> str:
    """The Python codec for an XML document's bytes, found as an XML parser finds it."""
    for mark, encoding in _BOMS:
        if data.startswith(mark):
            return encoding
    for prefix, encoding in _UNMARKED:
        if data.startswith(prefix):
            return encoding
    declared = _DECLARED.match(data[:1024])
    return declared.group(1).decode("ascii") if declared else "utf-8"


def with_utf8_declaration(text: str) -> str:
    text = text.removeprefix("\ufeff")
    return _DECLARATION_ENCODING.sub(r"\1\2UTF-8\2", text, count=1)


def _check_size(data: bytes, file: str) -> None:
    if len(data) > MAX_DEFINITION_BYTES:
        _fail(file, f"file is {len(data)} bytes; definitions are limited to 10 MB")


def _text(data: bytes, file: str) -> str:
    _check_size(data, file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        _fail(file, f"not UTF-8 text: {error}")


def _fail(file: str, message: str) -> NoReturn:
    raise DefinitionInvalid([DefinitionProblem(file, message)])
