"""/openapi.json tells the truth: a valid document, typed bodies and answers, problems,
security, headers and short stable operationIds; FastAPI's 422 nowhere."""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.api.conftest import DEFINITIONS, Api
from tests.api.openapi_document import Document, operations, validate_against

EXPECTED_OPERATIONS = {
    "startProcess",
    "startPinned",
    "startWithCopiedData",
    "startInheriting",
    "getStatus",
    "getInstance",
    "getData",
    "getAuditLog",
    "executeAction",
    "executeUiAction",
    "terminateInstance",
    "holdInstance",
    "unholdInstance",
    "retryIncident",
    "getLineage",
    "getInstanceBuild",
    "getActiveBuild",
    "searchInstances",
    "createWorkspace",
    "createApp",
    "uploadBuild",
    "setActiveBuild",
    "listWorkspaces",
    "listApps",
    "listBuilds",
    "getBuild",
    "getDefinitionSource",
    "getDefinitionDiagram",
    "getInstanceDiagram",
    "countInstances",
    "listInstanceExternalTasks",
    "createBatch",
    "getBatch",
    "listBatchItems",
    "cancelBatch",
    "getLiveness",
    "getReadiness",
    "fetchExternalTasks",
    "completeExternalTask",
    "failExternalTask",
    "throwBpmnError",
    "extendTaskLock",
    "unlockExternalTask",
    "camundaFetchAndLock",
    "camundaComplete",
    "camundaFailure",
    "camundaBpmnError",
    "camundaExtendLock",
    "camundaUnlock",
    "correlateMessage",
}
BODY_OPERATIONS = {
    "startProcess": "ProcessData",
    "startPinned": "ProcessData",
    "startWithCopiedData": "ProcessData",
    "executeAction": "ProcessData",
    "executeUiAction": "ProcessData",
    "startInheriting": "InheritFrom",
    "createBatch": "CreateBatch",
    "terminateInstance": "TerminateInstance",
    "retryIncident": "RetryIncident",
    "createWorkspace": "CreateWorkspace",
    "createApp": "CreateApp",
    "uploadBuild": "UploadBuild",
    "setActiveBuild": "SetActiveBuild",
    "fetchExternalTasks": "FetchBody",
    "completeExternalTask": "CompleteBody",
    "failExternalTask": "FailureBody",
    "throwBpmnError": "BpmnErrorBody",
    "extendTaskLock": "ExtendLockBody",
    "camundaFetchAndLock": "CamundaFetch",
    "camundaComplete": "CamundaComplete",
    "camundaFailure": "CamundaFailure",
    "camundaBpmnError": "CamundaBpmnError",
    "camundaExtendLock": "CamundaExtendLock",
    "correlateMessage": "MessageBody",
}
START_OPERATIONS = ("startProcess", "startPinned", "startWithCopiedData")


@pytest.fixture
def document(api: Api) -> Document:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    spec: Document = response.json()
    return spec


def test_the_document_is_valid_openapi(document: Document) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_operation_ids_are_the_short_stable_names(document: Document) -> None:
    ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids))
    assert set(ids) == EXPECTED_OPERATIONS
    assert all(re.fullmatch(r"[a-z][A-Za-z]{2,24}", i) for i in ids)
    assert not any(path.startswith("/rtm") for path in document["paths"])


def test_no_422_anywhere(document: Document) -> None:
    assert "422" not in str(
        [op["responses"] for methods in document["paths"].values() for op in methods.values()]
    )
    assert "HTTPValidationError" not in document["components"]["schemas"]


# The console's diagrams answer BPMN 2.0 XML (api/routes_diagrams.py).
XML_OPERATIONS = {"getInstanceDiagram", "getDefinitionDiagram"}


def test_every_operation_has_a_typed_answer_and_problem_answers(document: Document) -> None:
    for operation_id, (_, _, operation) in operations(document).items():
        responses = operation["responses"]
        status, success = next((k, v) for k, v in responses.items() if k.startswith("2"))
        if status == "204":  # an answer that is done, with nothing to say
            assert "content" not in success, operation_id
        elif operation_id in XML_OPERATIONS:  # BPMN XML, and only that
            assert set(success["content"]) == {"application/xml"}, operation_id
        else:
            schema = success["content"]["application/json"]["schema"]
            assert schema != {"type": "string"}, operation_id
        for status, answer in responses.items():
            if status.startswith(("4", "5")):
                problem = answer["content"]["application/problem+json"]["schema"]
                assert problem == {"$ref": "#/components/schemas/Problem"}, operation_id


def test_bodies_are_declared(document: Document) -> None:
    for operation_id, (_, _, operation) in operations(document).items():
        body = operation.get("requestBody")
        if operation_id not in BODY_OPERATIONS:
            assert body is None, operation_id
            continue
        assert body is not None, operation_id
        schema = body["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{BODY_OPERATIONS[operation_id]}"}
        assert body["content"]["application/json"]["examples"], operation_id


def test_bearer_security_on_every_operation_but_the_probes(document: Document) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for operation_id, (_, path, operation) in operations(document).items():
        if path.startswith("/health/"):
            assert operation["security"] == [], operation_id
        else:
            assert operation["security"] == [{"bearerAuth": []}], operation_id
            assert "401" in operation["responses"], operation_id


def _parameters(operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == where}


def test_start_headers_in_and_out(document: Document) -> None:
    for operation_id in START_OPERATIONS:
        _, _, operation = operations(document)[operation_id]
        headers = _parameters(operation, "header")
        assert set(headers) == {"Idempotency-Key", "Flowx-Platform"}, operation_id
        key_schema = headers["Idempotency-Key"]["schema"]["anyOf"][0]
        assert (key_schema["minLength"], key_schema["maxLength"]) == (1, 255)
        answer_headers = operation["responses"]["200"]["headers"]
        assert set(answer_headers) == {"Location", "Idempotent-Replayed", "X-Request-ID"}


def test_copy_data_from_documents_its_query_options_and_dry_run_answer(document: Document) -> None:
    _, _, operation = operations(document)["startWithCopiedData"]
    query = set(_parameters(operation, "query"))
    assert query == {"paramsToCopy", "withoutParams", "dryRun", "startAt"}
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    refs = {item["$ref"] for item in answer["anyOf"]}
    assert refs == {"#/components/schemas/StartResponse", "#/components/schemas/DryRunResponse"}


def test_cursor_is_a_string_as_the_server_returns_it(document: Document, api: Api) -> None:
    _, _, operation = operations(document)["searchInstances"]
    cursor = _parameters(operation, "query")["cursor"]["schema"]["anyOf"][0]
    assert cursor["type"] == "string"
    page = document["components"]["schemas"]["SearchPage"]["properties"]["nextCursor"]
    assert {"type": "string"} in page["anyOf"]
    for _ in range(2):
        api.start("straight", {"a": 1, "b": 2})
    path = f"/api/runtime/wks/{api.workspace}/process-instances"
    first = api.client.get(path, params={"limit": 1}, headers=api.headers()).json()
    validate_against(document, "SearchPage", first)
    second = api.client.get(
        path, params={"limit": 1, "cursor": first["nextCursor"]}, headers=api.headers()
    )
    assert second.status_code == 200
    assert second.json()["content"][0]["uuid"] != first["content"][0]["uuid"]


def test_examples_come_from_the_readme_story(document: Document) -> None:
    _, _, operation = operations(document)["startProcess"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["loan"]
    assert example["value"] == {
        "applicant": {"name": "Ada", "income": 5000},
        "loan": {"amount": 12000},
    }
    start = document["components"]["schemas"]["StartResponse"]["example"]
    validate_against(document, "StartResponse", start)
    problem = document["components"]["schemas"]["Problem"]["example"]
    validate_against(document, "Problem", problem)


def test_answers_match_their_published_schemas(document: Document, api: Api) -> None:
    started = api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})
    validate_against(document, "StartResponse", started)
    uuid = started["uuid"]
    answers = {
        "InstanceStatus": f"/api/runtime/process/{uuid}/status",
        "AuditLog": f"/api/runtime/process/{uuid}/audit",
        "Lineage": f"/api/runtime/process/{uuid}/lineage",
        "BuildInfo": f"/api/runtime/process-instance/{uuid}/build/info",
        "ProcessData": f"/api/runtime/process/{uuid}/data",
    }
    for schema, path in answers.items():
        response = api.client.get(path, headers=api.headers())
        assert response.status_code == 200, path
        validate_against(document, schema, response.json())


def test_batch_answers_match_their_published_schemas(document: Document, api: Api) -> None:
    _, _, operation = operations(document)["listBatchItems"]
    cursor = _parameters(operation, "query")["cursor"]["schema"]["anyOf"][0]
    assert (cursor["type"], cursor["pattern"]) == ("string", r"^[0-9]{1,19}$")
    sources = [api.start("straight", {"a": n, "b": 1})["uuid"] for n in range(3)]
    path = f"/api/runtime/wks/{api.workspace}/batches"
    body = {"operation": "terminate", "filter": {"uuids": sources}}
    dry = api.client.post(path, params={"dryRun": "true"}, json=body, headers=api.headers())
    assert dry.status_code == 200, dry.text
    validate_against(document, "BatchDryRun", dry.json())
    created = api.client.post(path, json=body, headers=api.headers())
    assert created.status_code == 202, created.text
    validate_against(document, "Batch", created.json())
    batch = f"{path}/{created.json()['id']}"
    assert created.headers["location"] == batch
    validate_against(document, "Batch", api.client.get(batch, headers=api.headers()).json())
    first = api.client.get(f"{batch}/items", params={"limit": 2}, headers=api.headers()).json()
    validate_against(document, "BatchItemPage", first)
    rest = api.client.get(
        f"{batch}/items", params={"cursor": first["nextCursor"]}, headers=api.headers()
    ).json()
    assert [i["sourceUuid"] for i in first["content"] + rest["content"]] == sources
    cancelled = api.client.post(f"{batch}/cancel", headers=api.headers())
    assert cancelled.status_code == 200, cancelled.text
    validate_against(document, "Batch", cancelled.json())


def test_admin_read_answers_match_their_published_schemas(document: Document, api: Api) -> None:
    builds = f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds"
    answers = {
        "WorkspaceList": "/api/admin/workspaces",
        "AppList": f"/api/admin/wks/{api.workspace}/apps",
        "BuildList": builds,
        "BuildInfo": f"{builds}/{api.test_build.id}",
    }
    for schema, path in answers.items():
        response = api.client.get(path, headers=api.headers())
        assert response.status_code == 200, path
        validate_against(document, schema, response.json())
    files = {"straight.yaml": (DEFINITIONS / "straight.yaml").read_text()}
    new = api.client.post(builds, json={"files": files}, headers=api.headers())
    assert new.status_code == 201, new.text
    validate_against(document, "BuildInfo", new.json())
    again = api.client.post(builds, json={"files": files}, headers=api.headers())
    assert again.status_code == 200, again.text
    validate_against(document, "ExistingBuild", again.json())
    _, _, upload = operations(document)["uploadBuild"]
    answer = upload["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/ExistingBuild"}


def test_a_definition_source_documents_its_media_types(document: Document, api: Api) -> None:
    _, _, operation = operations(document)["getDefinitionSource"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/yaml", "application/json", "application/xml"}
    builds = f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds"
    source = f"{builds}/{api.test_build.id}/definitions/straight/source"
    response = api.client.get(source, headers=api.headers())
    assert response.status_code == 200
    assert response.headers["content-type"] in content
    assert "Content-Disposition" in operation["responses"]["200"]["headers"]


def test_diagrams_answer_the_xml_they_document(document: Document, api: Api) -> None:
    started = api.start("straight", {"a": 1, "b": 2})
    build = f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds/{api.test_build.id}"
    paths = {
        "getInstanceDiagram": f"/api/runtime/process/{started['uuid']}/diagram",
        "getDefinitionDiagram": f"{build}/definitions/straight/diagram",
    }
    for operation_id, path in paths.items():
        _, _, operation = operations(document)[operation_id]
        answer = api.client.get(path, headers=api.headers())
        assert answer.status_code == 200
        assert (
            answer.headers["content-type"].split(";")[0] in operation["responses"]["200"]["content"]
        )
