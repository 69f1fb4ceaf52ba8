"""Hostile requests answer a clear 4xx (or a problem+json 500), change nothing, and tell a
caller nothing about workspaces it cannot see."""

from __future__ import annotations

import json
import logging
from uuid import uuid4

import httpx
import jwt
import pytest
from fastapi import Request
from starlette.responses import Response

from procflow.api.render import JsonResponse
from procflow.model.build import Workspace
from procflow.runtime.access import Role
from procflow.runtime.context import RuntimeContext
from tests.api.conftest import SECRET, Api
from tests.api.test_errors import assert_problem

SEARCH = "/api/runtime/wks/{}/process-instances"


def test_a_cursor_past_64_bits_is_a_400(api: Api) -> None:
    for cursor in ("9223372036854775808", "99999999999999999999999"):
        response = api.client.get(
            SEARCH.format(api.workspace), params={"cursor": cursor}, headers=api.headers()
        )
        assert_problem(response, 400)
    largest = api.client.get(
        SEARCH.format(api.workspace),
        params={"cursor": str(2**63 - 1)},
        headers=api.headers(),
    )
    assert largest.status_code == 200 and largest.json()["content"] == []


def test_roles_given_as_a_list_of_lists_are_a_401(api: Api) -> None:
    claims = {
        "sub": "x",
        "iss": "procflow",
        "aud": "procflow",
        "exp": 9999999999,
        "workspaces": {str(api.workspace): [["admin"]]},
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = api.client.get(SEARCH.format(api.workspace), headers=api.headers(token))
    assert_problem(response, 401, "Invalid token.")


def _pinned_start(api: Api, build: str) -> httpx.Response:
    path = f"/api/runtime/app/{api.other_app}/build/{build}/process-name/straight/start"
    response: httpx.Response = api.client.post(path, json={"a": 1, "b": 1}, headers=api.headers())
    return response


def test_a_foreign_build_and_an_unknown_build_answer_the_same_bytes(api: Api) -> None:
    with api.store.transaction() as txn:
        foreign = txn.get_active_build_id(api.other_workspace, api.other_app)
    assert foreign is not None
    before = api.stored_counts()
    on_foreign = _pinned_start(api, str(foreign))
    on_unknown = _pinned_start(api, str(uuid4()))
    assert on_foreign.status_code == on_unknown.status_code == 404
    assert on_foreign.content == on_unknown.content
    assert api.stored_counts() == before


def test_an_app_id_taken_in_a_foreign_workspace_answers_as_a_foreign_workspace(api: Api) -> None:
    taken = api.client.post(
        f"/api/admin/wks/{api.workspace}/apps",
        json={"name": "mine", "id": str(api.other_app)},
        headers=api.headers(),
    )
    into_foreign = api.client.post(
        f"/api/admin/wks/{api.other_workspace}/apps",
        json={"name": "mine", "id": str(uuid4())},
        headers=api.headers(),
    )
    assert taken.status_code == into_foreign.status_code == 404
    assert taken.content == into_foreign.content
    # Taken in a workspace the caller sees: still the honest 409.
    own = api.client.post(
        f"/api/admin/wks/{api.workspace}/apps",
        json={"name": "again", "id": str(api.test_app)},
        headers=api.headers(),
    )
    assert_problem(own, 409)


def test_a_build_id_taken_in_a_foreign_workspace_answers_as_a_foreign_workspace(
    api: Api,
) -> None:
    with api.store.transaction() as txn:
        foreign = txn.get_active_build_id(api.other_workspace, api.other_app)
    files = {
        "s.yaml": "name: s\nnodes: [{id: b, type: start}, {id: e, type: end}]\n"
        "flows: [{from: b, to: e}]\n"
    }
    taken = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": files, "buildId": str(foreign)},
        headers=api.headers(),
    )
    into_foreign = api.client.post(
        f"/api/admin/wks/{api.other_workspace}/app/{api.other_app}/builds",
        json={"files": files, "buildId": str(uuid4())},
        headers=api.headers(),
    )
    assert taken.status_code == into_foreign.status_code == 404
    assert taken.content == into_foreign.content


SECRET_VALUE = "customer-secret-4711"


def test_an_unhandled_error_is_a_problem_500_logged_without_the_data(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    async def duplicate_workspace(request: Request) -> Response:
        # A real database error whose statement carries instance-like data as parameters.
        ctx: RuntimeContext = request.app.state.ctx
        workspace = Workspace(api.workspace, SECRET_VALUE)
        with ctx.store.transaction() as txn:
            txn.insert_workspace(workspace)
        return JsonResponse({})

    api.client.app.add_api_route("/test-only/duplicate", duplicate_workspace)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="procflow.api"):
        response = api.client.get("/test-only/duplicate")
    body = assert_problem(response, 500)
    assert body["code"] == "internal_error"
    assert SECRET_VALUE not in response.text
    records = [r for r in caplog.records if r.name == "procflow.api"]
    assert len(records) == 1
    record = records[0]
    assert "IntegrityError" in record.__dict__["error"]
    logged = json.dumps({k: str(v) for k, v in record.__dict__.items()})
    assert SECRET_VALUE not in logged
    assert SECRET_VALUE not in caplog.text


def test_answers_carry_security_headers(api: Api) -> None:
    started = api.start("straight", {"a": 1, "b": 1})
    for path in (f"/api/runtime/process/{started['uuid']}/status", "/api/runtime/process/x"):
        response = api.client.get(path, headers=api.headers())
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_metrics_need_an_operator_or_the_metrics_token(api: Api) -> None:
    assert_problem(api.client.get("/metrics"), 401)
    assert_problem(api.client.get("/metrics", headers=api.headers()), 403)
    operator = api.mint({"*": frozenset({Role.ADMIN})})
    assert "procflow_" in api.client.get("/metrics", headers=api.headers(operator)).text


def test_headers_over_the_limit_are_a_431_before_any_work(api: Api) -> None:
    huge = "Bearer " + "a" * 9000
    response = api.client.get(SEARCH.format(api.workspace), headers={"Authorization": huge})
    assert_problem(response, 431)
    many = {f"x-h{i}": "v" * 1000 for i in range(20)}
    assert_problem(api.client.get("/health/live", headers=many), 431)
