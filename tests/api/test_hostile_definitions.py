"""Definition files that used to crash, hang or poison a build, uploaded over HTTP."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import pytest

from procflow.engine.start import check_start_data
from procflow.model.definition import StartNode
from procflow.model.errors import StartDataInvalid
from tests.api.conftest import Api
from tests.api.test_bpmn_http import BPMN_IO_FILE
from tests.api.test_errors import assert_problem

# 576 bytes that expand into 9**9 (387 million) list items for any walk of the loaded tree.
ALIAS_BOMB = (
    "name: bomb\n"
    + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    + "nodes: []\nflows: []\n"
)


def _upload(api: Api, files: dict[str, str]) -> Any:
    return api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": files, "activate": True},
        headers=api.headers(),
    )


def _flow(schema: str) -> str:
    return (
        "name: guarded\nnodes:\n"
        f"  - id: begin\n    type: start\n    schema: {schema}\n"
        "  - {id: done, type: end}\nflows:\n  - {from: begin, to: done}\n"
    )


def test_a_latin1_bpmn_file_deploys_with_its_real_names(api: Api) -> None:
    text = BPMN_IO_FILE.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    response = _upload(api, {"pruefung.bpmn": text})
    assert response.status_code == 201, response.text
    build = api.client.get(
        f"/api/runtime/wks/{api.workspace}/app/{api.test_app}/build/info", headers=api.headers()
    )
    assert build.status_code == 200, build.text
    with api.store.transaction() as txn:
        stored = txn.get_build(UUID(response.json()["buildId"]))
    assert stored is not None
    (source,) = stored.definitions
    assert 'name="Überprüfung des Antrags"' in source.text
    high = api.start("pruefung", {"betrag": 5000})
    assert [t["currentNodeId"] for t in high["tokens"]] == ["Activity_1"]


def test_an_alias_bomb_is_refused_fast_with_its_line(api: Api) -> None:
    assert len(ALIAS_BOMB) < 600
    started = time.perf_counter()
    response = _upload(api, {"bomb.yaml": ALIAS_BOMB})
    elapsed = time.perf_counter() - started
    body = assert_problem(response, 400)
    (problem,) = body["problems"]
    assert problem["line"] == 2
    assert "anchors and aliases are not allowed" in problem["message"]
    assert elapsed < 2.0


def test_aliases_inside_a_start_schema_are_refused(api: Api) -> None:
    schema = (
        "\n      $defs:\n        s: &s {type: string}\n"
        "      properties:\n        a: *s\n        b: *s\n"
    )
    body = assert_problem(_upload(api, {"guarded.yaml": _flow(schema)}), 400)
    (problem,) = body["problems"]
    assert (problem["line"], "anchor &s" in problem["message"]) == (7, True)


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("'#/$defs/nope'", "points to nothing"),
        ("'https://example.invalid/schema.json'", "is not local"),
        ("'other.json#/x'", "is not local"),
    ],
)
def test_bad_schema_refs_are_refused_at_deploy(api: Api, ref: str, words: str) -> None:
    schema = "{properties: {a: {$ref: " + ref + "}}}"
    body = assert_problem(_upload(api, {"guarded.yaml": _flow(schema)}), 400)
    (problem,) = body["problems"]
    assert problem["elementId"] == "begin"
    assert words in problem["message"]


def test_local_schema_refs_still_validate(api: Api) -> None:
    schema = "{$defs: {name: {type: string}}, properties: {a: {$ref: '#/$defs/name'}}}"
    assert _upload(api, {"guarded.yaml": _flow(schema)}).status_code == 201
    assert api.start("guarded", {"a": "text"})["state"] == "FINISHED"
    before = api.stored_counts()
    refused = api.client.post(api.start_path("guarded"), json={"a": 1}, headers=api.headers())
    assert_problem(refused, 400, "The start data does not match the start node's schema.")
    assert api.stored_counts() == before


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/nope"},
        {"$ref": "https://example.invalid/schema.json"},
        {"$ref": "#"},  # refers to itself forever
    ],
)
def test_a_start_schema_stored_before_these_checks_answers_400(schema: dict[str, Any]) -> None:
    start = StartNode("begin", "", None, (), schema)
    with pytest.raises(StartDataInvalid):
        check_start_data(start, {"a": 1})
