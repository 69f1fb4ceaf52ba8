"""Every error row of API.md: problem+json, the FlowX message, and nothing stored."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.api.conftest import Api


def assert_problem(response: Any, status: int, message: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["message"] and body["errorKey"]
    if message is not None:
        assert body["message"] == message
    return body


def test_mandatory_params_missing_lists_them(api: Api) -> None:
    before = api.stored_counts()
    response = api.client.post(
        api.start_path("onboarding"), json={"customer": {"id": 7}}, headers=api.headers()
    )
    body = assert_problem(response, 400, "Some mandatory params are missing.")
    assert body["params"] == ["customer.email"]
    assert api.stored_counts() == before


def test_multiple_start_nodes_without_start_condition(api: Api) -> None:
    response = api.client.post(api.start_path("two_doors"), json={}, headers=api.headers())
    assert_problem(response, 400, "Multiple start nodes found, but start condition not specified.")


def test_start_condition_matching_no_start_node(api: Api) -> None:
    response = api.client.post(
        api.start_path("two_doors"), json={"startCondition": "PHONE"}, headers=api.headers()
    )
    body = assert_problem(response, 400, "Start node for process definition not found.")
    assert body["errorKey"] == (
        "error.validation.process_instance.start_node_for_process_def_missing"
    )


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"a": 1', "not valid JSON"),
        (b"[1, 2]", "not list"),
        (b'"text"', "not str"),
        (b"null", "not null"),
        (b"42", "not int"),
    ],
)
def test_body_must_be_a_json_object(api: Api, raw: bytes, fragment: str) -> None:
    before = api.stored_counts()
    response = api.client.post(
        api.start_path("straight"),
        content=raw,
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    body = assert_problem(response, 400)
    assert fragment in body["message"]
    assert api.stored_counts() == before


def test_body_over_one_mebibyte_is_413(api: Api) -> None:
    before = api.stored_counts()
    big = b'{"blob": "' + b"x" * (1024 * 1024) + b'"}'
    response = api.client.post(
        api.start_path("straight"),
        content=big,
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert_problem(response, 413)
    assert api.stored_counts() == before


def test_body_over_the_limit_without_content_length_is_413(api: Api) -> None:
    def chunks() -> Any:
        yield b'{"blob": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}'

    response = api.client.post(
        api.start_path("straight"),
        content=chunks(),
        headers=api.headers(**{"Content-Type": "application/json"}),
    )
    assert_problem(response, 413)


def test_unknown_process_name(api: Api) -> None:
    before = api.stored_counts()
    response = api.client.post(api.start_path("nope"), json={}, headers=api.headers())
    assert_problem(response, 404, "Process definition not found.")
    assert api.stored_counts() == before


def test_unknown_instance(api: Api) -> None:
    response = api.client.get(f"/api/runtime/process/{uuid4()}/status", headers=api.headers())
    assert_problem(response, 404, "Process instance not found.")


def test_non_uuid_path_parameter_is_400(api: Api) -> None:
    before = api.stored_counts()
    response = api.client.post(
        f"/api/runtime/wks/not-a-uuid/app/{api.test_app}/process-name/straight/start",
        json={},
        headers=api.headers(),
    )
    body = assert_problem(response, 400)
    assert "workspaceId" in body["message"]
    response = api.client.get("/api/runtime/process/123/status", headers=api.headers())
    assert_problem(response, 400)
    assert api.stored_counts() == before


def test_unknown_workspace_app_and_build(api: Api) -> None:
    unknown = uuid4()
    headers = api.headers(api.mint({"*": frozenset(api_roles())}))
    cases = [
        (api.start_path("straight", workspace=unknown), "Workspace not found."),
        (api.start_path("straight", app=unknown), "Application not found."),
        (
            f"/api/runtime/app/{api.test_app}/build/{unknown}/process-name/straight/start",
            "Build not found.",
        ),
    ]
    for path, message in cases:
        assert_problem(api.client.post(path, json={}, headers=headers), 404, message)


def test_app_of_another_workspace_is_404(api: Api) -> None:
    headers = api.headers(api.mint({"*": frozenset(api_roles())}))
    response = api.client.post(
        api.start_path("straight", app=api.other_app), json={}, headers=headers
    )
    assert_problem(response, 404, "Application not found.")


def test_app_without_active_build_is_404(api: Api) -> None:
    app_id = uuid4()
    created = api.client.post(
        f"/api/admin/wks/{api.workspace}/apps",
        json={"name": "empty", "id": str(app_id)},
        headers=api.headers(),
    )
    assert created.status_code == 201
    response = api.client.post(
        api.start_path("straight", app=app_id), json={}, headers=api.headers()
    )
    assert_problem(response, 404, "The application has no active build.")


def test_unknown_route_is_problem_json(api: Api) -> None:
    assert_problem(api.client.get("/api/runtime/nothing-here"), 404)


def api_roles() -> set[Any]:
    from procflow.runtime.access import Role

    return set(Role)


def test_start_schema_is_checked_at_deploy_and_on_start(api: Api) -> None:
    invalid = (
        "name: s\nnodes:\n  - {id: b, type: start, schema: {type: 12}}\n"
        "  - {id: e, type: end}\nflows: [{from: b, to: e}]\n"
    )
    upload = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"s.yaml": invalid}},
        headers=api.headers(),
    )
    assert "not a valid JSON Schema" in assert_problem(upload, 400)["message"]
    valid = invalid.replace(
        "{type: 12}",
        "{type: object, required: [age], properties: {age: {type: integer, minimum: 18}}}",
    )
    upload = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"s.yaml": valid}, "activate": True},
        headers=api.headers(),
    )
    assert upload.status_code == 201, upload.text
    before = api.stored_counts()
    refused = api.client.post(api.start_path("s"), json={"age": 12}, headers=api.headers())
    body = assert_problem(refused, 400)
    assert body["errors"][0]["path"] == "age"
    assert api.stored_counts() == before
    assert api.start("s", {"age": 30})["state"] == "FINISHED"
