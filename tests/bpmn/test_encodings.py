"""BPMN files in the encodings XML allows: decoded as the file says, stored as UTF-8."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime

import pytest

from procflow.model.errors import DefinitionInvalid
from procflow.model.formats import definition_text, parse_definition_file, uploaded_file_bytes
from procflow.runtime.deploy import new_build, parse_build_files
from tests.api.test_bpmn_http import BPMN_IO_FILE

NAME = "Überprüfung des Antrags"


def _declaring(encoding: str) -> str:
    return BPMN_IO_FILE.replace('encoding="UTF-8"', f'encoding="{encoding}"')


def _task_name(data: bytes) -> str:
    (definition,) = parse_definition_file(data, "pruefung.bpmn")
    return definition.nodes["Activity_1"].name


@pytest.mark.parametrize(
    "data",
    [
        _declaring("ISO-8859-1").encode("latin-1"),
        _declaring("windows-1252").encode("cp1252"),
        codecs.BOM_UTF16_LE + _declaring("UTF-16").encode("utf-16-le"),
        codecs.BOM_UTF16_BE + _declaring("UTF-16").encode("utf-16-be"),
        _declaring("UTF-16").encode("utf-16-le"),
        codecs.BOM_UTF8 + BPMN_IO_FILE.encode(),
    ],
    ids=["latin-1", "cp1252", "utf-16-le-bom", "utf-16-be-bom", "utf-16-no-bom", "utf-8-bom"],
)
def test_deploys_with_the_names_it_declares(data: bytes) -> None:
    (source,) = parse_build_files({"pruefung.bpmn": data})
    # The stored text says UTF-8 and parses (as the catalog will) to the same names.
    assert source.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert _task_name(source.text.encode()) == NAME
    assert new_build(source.id, source.id, {"pruefung.bpmn": data}, datetime.now(UTC)).checksum


def test_a_file_that_is_not_in_its_declared_encoding_is_a_clear_problem() -> None:
    data = _declaring("UTF-16").encode()  # says UTF-16, is UTF-8 bytes without a mark
    with pytest.raises(DefinitionInvalid) as raised:
        parse_build_files({"pruefung.bpmn": data})
    assert "cannot be read as" in raised.value.problems[0].message


def test_an_unknown_encoding_is_a_clear_problem() -> None:
    with pytest.raises(DefinitionInvalid, match="cannot be read as no-such-codec"):
        definition_text(_declaring("no-such-codec").encode(), "pruefung.bpmn")


def test_yaml_stays_utf8() -> None:
    yaml_text = "name: x\nnodes: []\nflows: []\n# Überprüfung\n"
    with pytest.raises(DefinitionInvalid, match="not UTF-8 text"):
        parse_build_files({"x.yaml": yaml_text.encode("utf-16")})


def test_uploaded_text_gets_a_declaration_matching_its_bytes() -> None:
    data = uploaded_file_bytes("pruefung.bpmn", _declaring("ISO-8859-1"))
    assert _task_name(data) == NAME
    assert uploaded_file_bytes("x.yaml", "a: ü") == "a: ü".encode()
