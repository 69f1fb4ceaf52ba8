"""Every error status the OpenAPI document promises is produced, here, by a real request, and
its body is valid against the published Problem schema. A status documented without a case
below fails ``test_every_documented_problem_has_a_case``."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from procflow.api.app import create_app
from procflow.config import Settings
from procflow.runtime.access import Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.tokens import TokenIssuer
from procflow.store.postgres import PostgresStore
from tests.api.conftest import DEFINITIONS, Api
from tests.api.openapi_document import Document, operations, validate_against

Case = Callable[[Api], httpx.Response]
GARBAGE = b"{not json"


def _too_big(api: Api) -> bytes:
    return b'{"x": "' + b"a" * (1024 * 1024) + b'"}'


def _token(api: Api, *roles: Role) -> dict[str, str]:
    return api.headers(api.mint({str(api.workspace): frozenset(roles)}))


def _no_token() -> dict[str, str]:
    return {}


def _instance(api: Api) -> str:
    return str(api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})["uuid"])


def _waiting(api: Api) -> tuple[str, str]:
    started = api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})
    return started["uuid"], started["tokens"][0]["uuid"]


def _get(path: Callable[[Api], str], headers: Callable[[Api], dict[str, str]]) -> Case:
    def case(api: Api) -> httpx.Response:
        response: httpx.Response = api.client.get(path(api), headers=headers(api))
        return response

    return case


def _post(
    path: Callable[[Api], str],
    headers: Callable[[Api], dict[str, str]],
    body: Callable[[Api], bytes] = lambda _: b"{}",
    method: str = "POST",
) -> Case:
    def case(api: Api) -> httpx.Response:
        sent = {"Content-Type": "application/json", **headers(api)}
        response: httpx.Response = api.client.request(
            method, path(api), content=body(api), headers=sent
        )
        return response

    return case


def _reused_key(path: Callable[[Api], str], first: bytes, second: bytes) -> Case:
    def case(api: Api) -> httpx.Response:
        headers = api.headers(**{"Idempotency-Key": "k-" + uuid4().hex})
        target = path(api)
        assert api.client.post(target, content=first, headers=headers).status_code == 200
        response: httpx.Response = api.client.post(target, content=second, headers=headers)
        return response

    return case


def _s1(api: Api) -> str:
    return api.start_path("straight")


def _s2(api: Api) -> str:
    return f"/api/runtime/app/{api.test_app}/build/{api.test_build.id}/process-name/straight/start"


def _s3(api: Api) -> str:
    return api.copy_path("straight", _instance(api))


def _action(api: Api) -> str:
    uuid, token = _waiting(api)
    return f"/api/runtime/process/{uuid}/token/{token}/action/confirm/execute"


def _finished_action(api: Api) -> str:
    """An action on a token that has moved on: the token no longer waits there."""
    path = _action(api)
    assert api.client.post(path, json={}, headers=api.headers()).status_code == 200
    return path


def api_headers(api: Api) -> dict[str, str]:
    return api.headers()


def start_only(api: Api) -> dict[str, str]:
    return _token(api, Role.START)


def read_only(api: Api) -> dict[str, str]:
    return _token(api, Role.READ)


def _none(_: Api) -> dict[str, str]:
    return _no_token()


def _admin_path(suffix: str) -> Callable[[Api], str]:
    return lambda api: f"/api/admin/wks/{api.workspace}{suffix}"


def _app_path(
    suffix: str, app: Callable[[Api], object] = lambda api: api.test_app
) -> Callable[[Api], str]:
    return lambda api: f"/api/admin/wks/{api.workspace}/app/{app(api)}{suffix}"


STRAIGHT_FILES = {"straight.yaml": (DEFINITIONS / "straight.yaml").read_text()}


def _build(api: Api) -> bytes:
    return orjson.dumps({"files": STRAIGHT_FILES})


def _existing_build(api: Api) -> bytes:
    return orjson.dumps({"files": STRAIGHT_FILES, "buildId": str(api.test_build.id)})


STRAIGHT = b'{"a": 1, "b": 2}'


def _start_cases(operation: str, path: Callable[[Api], str]) -> dict[tuple[str, int], Case]:
    return {
        (operation, 400): _post(path, api_headers, lambda _: GARBAGE),
        (operation, 401): _post(path, _none, lambda _: STRAIGHT),
        (operation, 403): _post(path, read_only, lambda _: STRAIGHT),
        (operation, 404): _post(
            lambda api: path(api).replace("/straight/", "/nothing/"), api_headers
        ),
        (operation, 409): _reused_key(path, STRAIGHT, b'{"a": 2, "b": 2}'),
        (operation, 413): _post(path, api_headers, _too_big),
    }


def _read_cases(
    operation: str, suffix: str, prefix: str = "/api/runtime/process/"
) -> dict[tuple[str, int], Case]:
    def at(uuid: Callable[[Api], str]) -> Callable[[Api], str]:
        return lambda api: f"{prefix}{uuid(api)}{suffix}"

    return {
        (operation, 400): _get(at(lambda _: "not-a-uuid"), api_headers),
        (operation, 401): _get(at(_instance), _none),
        (operation, 403): _get(at(_instance), start_only),
        (operation, 404): _get(at(lambda _: str(uuid4())), api_headers),
    }


def _workspace_read_cases(operation: str, suffix: str) -> dict[tuple[str, int], Case]:
    def at(workspace: Callable[[Api], object]) -> Callable[[Api], str]:
        return lambda api: f"/api/runtime/wks/{workspace(api)}{suffix.format(app=api.test_app)}"

    return {
        (operation, 400): _get(at(lambda _: "not-a-uuid"), api_headers),
        (operation, 401): _get(at(lambda api: api.workspace), _none),
        (operation, 403): _get(at(lambda api: api.workspace), start_only),
        (operation, 404): _get(at(lambda _: uuid4()), api_headers),
    }


def _admin_cases(
    operation: str,
    path: Callable[[Api], str],
    good: Callable[[Api], bytes],
    conflict: Callable[[Api], bytes] | None,
    missing: Callable[[Api], str],
    method: str = "POST",
) -> dict[tuple[str, int], Case]:
    cases = {
        (operation, 400): _post(path, api_headers, lambda _: b'{"name": 42}', method),
        (operation, 401): _post(path, _none, good, method),
        (operation, 403): _post(path, start_only, good, method),
        (operation, 404): _post(missing, api_headers, good, method),
        (operation, 413): _post(path, api_headers, _too_big, method),
    }
    if conflict is not None:
        cases[(operation, 409)] = _post(path, api_headers, conflict, method)
    return cases


def _global_admin(api: Api) -> dict[str, str]:
    return api.headers(api.mint({"*": frozenset(Role)}))


def _workspace_admin(api: Api) -> dict[str, str]:
    return _token(api, Role.ADMIN)


def _create_workspace_cases() -> dict[tuple[str, int], Case]:
    path = lambda _: "/api/admin/workspaces"  # noqa: E731
    good = lambda _: b'{"name": "w"}'  # noqa: E731
    return {
        ("createWorkspace", 400): _post(path, _global_admin, lambda _: b'{"name": ""}'),
        ("createWorkspace", 401): _post(path, _none, good),
        ("createWorkspace", 403): _post(path, _workspace_admin, good),
        ("createWorkspace", 409): _post(
            path,
            _global_admin,
            lambda api: b'{"name": "w", "id": "%s"}' % str(api.workspace).encode(),
        ),
        ("createWorkspace", 413): _post(path, _global_admin, _too_big),
    }


def _action_cases() -> dict[tuple[str, int], Case]:
    op = "executeAction"
    return {
        (op, 400): _post(_action, api_headers, lambda _: GARBAGE),
        (op, 401): _post(_action, _none),
        (op, 403): _post(_action, read_only),
        (op, 404): _post(
            lambda _: f"/api/runtime/process/{uuid4()}/token/{uuid4()}/action/confirm/execute",
            api_headers,
        ),
        (op, 409): _post(_finished_action, api_headers),
        (op, 413): _post(_action, api_headers, _too_big),
    }


def _finished(api: Api) -> str:
    return str(api.start("straight", {"a": 1, "b": 2})["uuid"])


def _operate(operation: str, uuid: Callable[[Api], str] = _instance) -> Callable[[Api], str]:
    return lambda api: f"/api/runtime/process/{uuid(api)}/{operation}"


def _resolved_retry(api: Api) -> str:
    """A retry of an incident that was retried (and resolved) already."""
    failed = api.start("failing", {"a": 1, "zero": 0})["uuid"]
    path = f"/api/runtime/process/{failed}/incidents/1/retry"
    fix = {"data": {"zero": 1}}
    assert api.client.post(path, json=fix, headers=api.headers()).status_code == 200
    return path


def _operation_cases() -> dict[tuple[str, int], Case]:
    unknown = _operate("terminate", lambda _: str(uuid4()))
    cases: dict[tuple[str, int], Case] = {
        ("terminateInstance", 400): _post(_operate("terminate"), api_headers,
                                          lambda _: b'{"reason": 5}'),
        ("terminateInstance", 404): _post(unknown, api_headers),
        ("terminateInstance", 409): _post(_operate("terminate", _finished), api_headers),
        ("terminateInstance", 413): _post(_operate("terminate"), api_headers, _too_big),
        ("retryIncident", 400): _post(_operate("incidents/1/retry"), api_headers,
                                      lambda _: GARBAGE),
        ("retryIncident", 404): _post(_operate("incidents/1/retry"), api_headers),
        ("retryIncident", 409): _post(_resolved_retry, api_headers),
        ("retryIncident", 413): _post(_operate("incidents/1/retry"), api_headers, _too_big),
    }  # fmt: skip
    for name, path in (
        ("terminateInstance", "terminate"),
        ("holdInstance", "hold"),
        ("unholdInstance", "unhold"),
        ("retryIncident", "incidents/1/retry"),
    ):
        cases[(name, 401)] = _post(_operate(path), _none)
        cases[(name, 403)] = _post(_operate(path), read_only)
    for name, path in (("holdInstance", "hold"), ("unholdInstance", "unhold")):
        cases[(name, 400)] = _post(_operate(path, lambda _: "not-a-uuid"), api_headers)
        cases[(name, 404)] = _post(_operate(path, lambda _: str(uuid4())), api_headers)
        cases[(name, 409)] = _post(_operate(path, _finished), api_headers)
    return cases


def _inherit(*, missing_source: bool = False) -> Callable[[Api], str]:
    def path(api: Api) -> str:
        started = api.status(_instance(api))
        source = uuid4() if missing_source else started["uuid"]
        return (
            f"/api/runtime/wks/{api.workspace}/app/{api.test_app}"
            f"/rdi/{started['resourceDefinitionId']}/start/inherit-from/{source}"
        )

    return path


def _inherit_cases() -> dict[tuple[str, int], Case]:
    op, path = "startInheriting", _inherit()
    some = b'{"paramsToInherit": {"paramsToCopy": ["customer"]}}'
    return {
        (op, 400): _post(path, api_headers, lambda _: b'{"paramsToInherit": []}'),
        (op, 401): _post(path, _none),
        (op, 403): _post(path, read_only),
        (op, 404): _post(_inherit(missing_source=True), api_headers),
        (op, 409): _reused_key(path, b"{}", some),
        (op, 413): _post(path, api_headers, _too_big),
    }


def _ui_action(api: Api) -> str:
    uuid, token = _waiting(api)
    [offered] = api.status(uuid)["tokens"][0]["uiActions"]
    return (
        f"/api/runtime/process/{uuid}/token/{token}/ui-action/{offered['uiActionFlowxUuid']}"
        "/context/main/execute"
    )


def _ui_action_cases() -> dict[tuple[str, int], Case]:
    op = "executeUiAction"
    unknown = (
        f"/api/runtime/process/{uuid4()}/token/{uuid4()}/ui-action/{uuid4()}/context/main/execute"
    )
    return {
        (op, 400): _post(_ui_action, api_headers, lambda _: GARBAGE),
        (op, 401): _post(_ui_action, _none),
        (op, 403): _post(_ui_action, read_only),
        (op, 404): _post(lambda _: unknown, api_headers),
        (op, 413): _post(_ui_action, api_headers, _too_big),
    }


def _batches(
    workspace: Callable[[Api], object] = lambda api: api.workspace,
) -> Callable[[Api], str]:
    return lambda api: f"/api/runtime/wks/{workspace(api)}/batches"


TERMINATE_NONE = b'{"operation": "terminate", "filter": {"processName": "none"}}'


def _finished_batch(api: Api) -> str:
    """A batch over no instance: COMPLETED as soon as it is created."""
    created = api.client.post(_batches()(api), content=TERMINATE_NONE, headers=api.headers())
    assert created.status_code == 202, created.text
    return f"{_batches()(api)}/{created.json()['id']}"


def _batch_at(suffix: str, batch: Callable[[Api], str] = _finished_batch) -> Callable[[Api], str]:
    return lambda api: batch(api) + suffix


def _unknown_batch(api: Api) -> str:
    return f"{_batches()(api)}/{uuid4()}"


def _batch_cases() -> dict[tuple[str, int], Case]:
    create = _batches()
    cases: dict[tuple[str, int], Case] = {
        ("createBatch", 400): _post(create, api_headers, lambda _: b'{"operation": "explode"}'),
        ("createBatch", 401): _post(create, _none, lambda _: TERMINATE_NONE),
        ("createBatch", 403): _post(create, read_only, lambda _: TERMINATE_NONE),
        ("createBatch", 404): _post(_batches(lambda _: uuid4()), api_headers,
                                    lambda _: TERMINATE_NONE),
        ("createBatch", 413): _post(create, api_headers, _too_big),
        ("listBatchItems", 400): _get(_batch_at("/items?cursor=x"), api_headers),
        ("cancelBatch", 400): _post(_batch_at("/cancel", lambda _: f"{create(_)}/nope"),
                                    api_headers),
        ("cancelBatch", 403): _post(_batch_at("/cancel"), read_only),
        ("cancelBatch", 409): _post(_batch_at("/cancel"), api_headers),
    }  # fmt: skip
    for op, suffix in (("getBatch", ""), ("listBatchItems", "/items")):
        cases[(op, 403)] = _get(_batch_at(suffix), start_only)
        cases[(op, 404)] = _get(_batch_at(suffix, _unknown_batch), api_headers)
        cases[(op, 401)] = _get(_batch_at(suffix), _none)
    cases[("getBatch", 400)] = _get(lambda api: f"{create(api)}/nope", api_headers)
    cases[("cancelBatch", 401)] = _post(_batch_at("/cancel"), _none)
    cases[("cancelBatch", 404)] = _post(_batch_at("/cancel", _unknown_batch), api_headers)
    return cases


def _admin_read_cases() -> dict[tuple[str, int], Case]:
    source = "/definitions/straight/source"
    cases: dict[tuple[str, int], Case] = {
        ("listWorkspaces", 401): _get(lambda _: "/api/admin/workspaces", _none),
    }
    paths: dict[str, Callable[[Api, object], str]] = {
        "listApps": lambda api, wks: f"/api/admin/wks/{wks}/apps",
        "listBuilds": lambda api, wks: f"/api/admin/wks/{wks}/app/{api.test_app}/builds",
        "getBuild": lambda api, wks: (
            f"/api/admin/wks/{wks}/app/{api.test_app}/builds/{api.test_build.id}"
        ),
        "getDefinitionSource": lambda api, wks: (
            f"/api/admin/wks/{wks}/app/{api.test_app}/builds/{api.test_build.id}{source}"
        ),
        "getDefinitionDiagram": lambda api, wks: (
            f"/api/admin/wks/{wks}/app/{api.test_app}/builds/{api.test_build.id}"
            "/definitions/straight/diagram"
        ),
    }
    for op, path in paths.items():
        cases.update(_admin_read(op, path))
    return cases


def _admin_read(op: str, path: Callable[[Api, object], str]) -> dict[tuple[str, int], Case]:
    return {
        (op, 400): _get(lambda api: path(api, "not-a-uuid"), api_headers),
        (op, 401): _get(lambda api: path(api, api.workspace), _none),
        (op, 403): _get(lambda api: path(api, api.workspace), start_only),
        (op, 404): _get(lambda api: path(api, uuid4()), api_headers),
    }


def _locked_task(api: Api) -> str:
    """A task of a new ``charge`` instance, fetched and locked by worker ``w1``."""
    api.start("charge", {"amount": 1})
    body = {"workerId": "w1", "maxTasks": 1,
            "topics": [{"topicName": "payments", "lockDuration": 60_000}]}  # fmt: skip
    path = f"/api/runtime/wks/{api.workspace}/external-tasks/fetch-and-lock"
    [task] = api.client.post(path, json=body, headers=api.headers()).json()
    return str(task["id"])


WORKER_ANSWERS = {
    "complete": b'{"workerId": "w2"}',
    "failure": b'{"workerId": "w2", "retries": 0}',
    "bpmnError": b'{"workerId": "w2", "errorCode": "X"}',
    "extendLock": b'{"workerId": "w2", "newDuration": 1000}',
}


def _task_cases(operation: str, prefix: str, answer: str | None) -> dict[tuple[str, int], Case]:
    """An answer to a task (``answer`` None: unlock); 409 is another worker's answer."""

    def at(task: Callable[[Api], str]) -> Callable[[Api], str]:
        return lambda api: f"{prefix}/{task(api)}/{answer or 'unlock'}"

    other = WORKER_ANSWERS.get(answer or "", b"{}")
    cases: dict[tuple[str, int], Case] = {
        (operation, 400): _post(at(_locked_task), api_headers, lambda _: GARBAGE),
        (operation, 401): _post(at(_locked_task), _none, lambda _: other),
        (operation, 403): _post(at(_locked_task), read_only, lambda _: other),
        (operation, 404): _post(at(lambda _: str(uuid4())), api_headers, lambda _: other),
        (operation, 413): _post(at(_locked_task), api_headers, _too_big),
    }
    if answer is not None:
        cases[(operation, 409)] = _post(at(_locked_task), api_headers, lambda _: other)
    return cases


FETCH = b'{"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "t", "lockDuration": 1}]}'


def _fetch_cases() -> dict[tuple[str, int], Case]:
    native = lambda api: f"/api/runtime/wks/{api.workspace}/external-tasks/fetch-and-lock"  # noqa: E731
    camunda = lambda _: "/engine-rest/external-task/fetchAndLock"  # noqa: E731
    cases: dict[tuple[str, int], Case] = {
        ("fetchExternalTasks", 404): _post(
            lambda _: f"/api/runtime/wks/{uuid4()}/external-tasks/fetch-and-lock",
            api_headers, lambda _: FETCH,
        ),
    }  # fmt: skip
    for op, path in (("fetchExternalTasks", native), ("camundaFetchAndLock", camunda)):
        cases[(op, 400)] = _post(path, api_headers, lambda _: b'{"workerId": "w", "maxTasks": 0}')
        cases[(op, 401)] = _post(path, _none, lambda _: FETCH)
        cases[(op, 403)] = _post(path, read_only, lambda _: FETCH)
        cases[(op, 413)] = _post(path, api_headers, _too_big)
    return cases


def _message_cases() -> dict[tuple[str, int], Case]:
    path = lambda api: f"/api/runtime/wks/{api.workspace}/messages"  # noqa: E731
    good = lambda _: b'{"messageName": "m"}'  # noqa: E731
    return {
        ("correlateMessage", 400): _post(path, api_headers, lambda _: b'{"messageName": ""}'),
        ("correlateMessage", 401): _post(path, _none, good),
        ("correlateMessage", 403): _post(path, read_only, good),
        ("correlateMessage", 404): _post(
            lambda _: f"/api/runtime/wks/{uuid4()}/messages", api_headers, good
        ),
        ("correlateMessage", 413): _post(path, api_headers, _too_big),
    }


NATIVE_TASKS = "/api/runtime/external-tasks"
CAMUNDA_TASKS = "/engine-rest/external-task"


def _worker_cases() -> dict[tuple[str, int], Case]:
    cases = {**_fetch_cases(), **_message_cases()}
    for native, camunda, answer in (
        ("completeExternalTask", "camundaComplete", "complete"),
        ("failExternalTask", "camundaFailure", "failure"),
        ("throwBpmnError", "camundaBpmnError", "bpmnError"),
        ("extendTaskLock", "camundaExtendLock", "extendLock"),
        ("unlockExternalTask", "camundaUnlock", None),
    ):
        cases |= _task_cases(native, NATIVE_TASKS, answer)
        cases |= _task_cases(camunda, CAMUNDA_TASKS, answer)
    return cases


CASES: dict[tuple[str, int], Case] = {
    **_worker_cases(),
    **_start_cases("startProcess", _s1),
    **_start_cases("startPinned", _s2),
    **_start_cases("startWithCopiedData", _s3),
    **_read_cases("getStatus", "/status"),
    **_read_cases("getInstance", ""),
    **_read_cases("getData", "/data"),
    **_read_cases("getAuditLog", "/audit"),
    **_read_cases("getLineage", "/lineage"),
    **_read_cases("getInstanceDiagram", "/diagram"),
    **_read_cases("listInstanceExternalTasks", "/external-tasks"),
    **_read_cases("getInstanceBuild", "/build/info", "/api/runtime/process-instance/"),
    **_workspace_read_cases("getActiveBuild", "/app/{app}/build/info"),
    **_workspace_read_cases("searchInstances", "/process-instances"),
    **_workspace_read_cases("countInstances", "/process-instances/counts"),
    **_action_cases(),
    **_operation_cases(),
    **_create_workspace_cases(),
    **_inherit_cases(),
    **_ui_action_cases(),
    **_batch_cases(),
    **_admin_read_cases(),
    **_admin_cases(
        "createApp",
        _admin_path("/apps"),
        lambda _: b'{"name": "a"}',
        lambda api: b'{"name": "a", "id": "%s"}' % str(api.test_app).encode(),
        lambda _: f"/api/admin/wks/{uuid4()}/apps",
    ),
    **_admin_cases(
        "uploadBuild",
        _app_path("/builds"),
        _build,
        _existing_build,
        _app_path("/builds", lambda _: uuid4()),
    ),
    **_admin_cases(
        "setActiveBuild",
        _app_path("/active-build"),
        lambda api: b'{"buildId": "%s"}' % str(api.test_build.id).encode(),
        None,
        _app_path("/active-build", lambda _: uuid4()),
        method="PUT",
    ),
}


@pytest.fixture
def document(api: Api) -> Document:
    spec: Document = api.client.get("/openapi.json").json()
    return spec


# Produced by test_readiness_is_a_503_problem_when_the_database_does_not_answer.
READINESS = ("getReadiness", 503)


def _documented(document: Document) -> set[tuple[str, int]]:
    return {
        (operation_id, int(status))
        for operation_id, (_, _, operation) in operations(document).items()
        for status in operation["responses"]
        if status.startswith(("4", "5"))
    }


def test_every_documented_problem_has_a_case(document: Document) -> None:
    assert _documented(document) == {*CASES, READINESS}


def test_readiness_is_a_503_problem_when_the_database_does_not_answer(document: Document) -> None:
    # A real PostgreSQL store on a loopback port where nothing listens.
    store = PostgresStore("postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    settings = Settings.from_env()
    issuer = TokenIssuer("s" * 48, "procflow", "procflow")
    with TestClient(create_app(RuntimeContext(store), settings, issuer)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    validate_against(document, "Problem", response.json())
    assert response.json()["errorKey"] == "error.health.not_ready"


OPERATIONS = sorted({operation for operation, _ in CASES})


# One test per operation, its statuses in a loop: an ``api`` fixture per status would cost
# a store set-up each (on both backends) for a one-request check.
@pytest.mark.parametrize("operation", OPERATIONS)
def test_documented_problems_are_produced(operation: str, api: Api, document: Document) -> None:
    for (name, status), case in sorted(CASES.items()):
        if name != operation:
            continue
        response = case(api)
        assert response.status_code == status, (status, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        validate_against(document, "Problem", body)
        assert body["status"] == status
