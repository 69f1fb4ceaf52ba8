"""The deploy entry point picks the parser by file suffix."""

from __future__ import annotations

from pathlib import Path

import pytest

from procflow.model.errors import DefinitionInvalid
from procflow.model.formats import parse_definition_file
from tests.bpmn.documents import REVIEW, REVIEW_YAML, document, minimal_body, process

ROOT = Path(__file__).resolve().parents[2]


def test_yaml_and_bpmn_files_give_the_same_definition() -> None:
    [from_yaml] = parse_definition_file(REVIEW_YAML.encode(), "review.yml")
    [from_bpmn] = parse_definition_file(REVIEW, "review.bpmn")
    assert from_yaml == from_bpmn


def test_examples_deploy() -> None:
    yaml_file = ROOT / "examples/loans/loan_application.yaml"
    bpmn_file = ROOT / "examples/loans/loan_application.bpmn"
    [loans] = parse_definition_file(yaml_file.read_bytes(), yaml_file.name)
    [loans_bpmn] = parse_definition_file(bpmn_file.read_bytes(), bpmn_file.name, "Process_loans")
    assert (loans.name, loans_bpmn.name) == ("loan_application", "loan_application_bpmn")


def test_json_and_xml_suffixes() -> None:
    json_text = (
        b'{"name": "j", "nodes": [{"id": "s", "type": "start"}, {"id": "e", "type": "end"}],'
    )
    json_text += b' "flows": [{"from": "s", "to": "e"}]}'
    assert parse_definition_file(json_text, "j.json")[0].name == "j"
    assert parse_definition_file(REVIEW, "review.bpmn20.XML")[0].name == "document_review"


def test_several_bpmn_processes_or_one_picked() -> None:
    other = minimal_body().replace('id="', 'id="b_').replace('Ref="', 'Ref="b_')
    data = document(process(minimal_body(), name="first"), process(other, "Process_2"))
    assert [d.name for d in parse_definition_file(data, "two.bpmn")] == ["first", "Process_2"]
    assert [d.name for d in parse_definition_file(data, "two.bpmn", "Process_2")] == ["Process_2"]


@pytest.mark.parametrize(
    ("data", "file", "process_name", "message"),
    [
        (REVIEW_YAML.encode(), "review.yaml", "other", "no process 'other'"),
        (b"\xff\xfe\x00", "broken.yaml", None, "not UTF-8"),
        (b"name: x", "notes.txt", None, "unknown definition file type"),
        (b" " * (11 * 1024 * 1024), "big.yaml", None, "limited to 10 MB"),
    ],
)
def test_refusals(data: bytes, file: str, process_name: str | None, message: str) -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition_file(data, file, process_name)
    [problem] = caught.value.problems
    assert message in problem.message
    assert problem.file == file
