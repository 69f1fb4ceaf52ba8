"""Bearer tokens: 401 for anything but a valid token, 403 without the role, 404 across
workspaces."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from procflow.runtime.access import Role
from tests.api.conftest import SECRET, Api
from tests.api.test_errors import assert_problem


def _claims(api: Api, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "tester",
        "iss": "procflow",
        "aud": "procflow",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "workspaces": {str(api.workspace): ["start", "read"]},
    }
    claims.update(overrides)
    return claims


def _bad_tokens(api: Api) -> dict[str, str]:
    header_none = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    claims = {
        k: (int(v.timestamp()) if isinstance(v, datetime) else v) for k, v in _claims(api).items()
    }
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return {
        "malformed": "not.a.jwt",
        "expired": jwt.encode(
            _claims(api, exp=datetime.now(UTC) - timedelta(seconds=5)), SECRET, algorithm="HS256"
        ),
        "wrong-signature": jwt.encode(
            _claims(api), "another-secret-" + "y" * 40, algorithm="HS256"
        ),
        "alg-none": f"{header_none}.{payload}.",
        "wrong-audience": jwt.encode(_claims(api, aud="someone-else"), SECRET, algorithm="HS256"),
        "wrong-issuer": jwt.encode(_claims(api, iss="someone-else"), SECRET, algorithm="HS256"),
        "no-workspaces": jwt.encode(_claims(api, workspaces=None), SECRET, algorithm="HS256"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "malformed",
        "expired",
        "wrong-signature",
        "alg-none",
        "wrong-audience",
        "wrong-issuer",
        "no-workspaces",
    ],
)
def test_invalid_tokens_are_401(api: Api, case: str) -> None:
    before = api.stored_counts()
    token = _bad_tokens(api)[case]
    response = api.client.post(
        api.start_path("straight"),
        json={"a": 1, "b": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert api.stored_counts() == before


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer  "])
def test_missing_bearer_token_is_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = api.client.post(api.start_path("straight"), json={}, headers=headers)
    assert_problem(response, 401)


def test_valid_token_without_the_role_is_403(api: Api) -> None:
    before = api.stored_counts()
    reader = api.mint({str(api.workspace): frozenset({Role.READ})})
    response = api.client.post(
        api.start_path("straight"), json={"a": 1, "b": 1}, headers=api.headers(reader)
    )
    assert_problem(response, 403)
    assert api.stored_counts() == before


def test_read_only_token_cannot_execute_actions(api: Api) -> None:
    started = api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})
    token_uuid = started["tokens"][0]["uuid"]
    reader = api.mint({str(api.workspace): frozenset({Role.READ})})
    response = api.client.post(
        f"/api/runtime/process/{started['uuid']}/token/{token_uuid}/action/confirm/execute",
        json={},
        headers=api.headers(reader),
    )
    assert_problem(response, 403)
    assert api.status(started["uuid"])["version"] == 1


def test_token_of_another_workspace_sees_nothing(api: Api) -> None:
    started = api.start("straight", {"a": 1, "b": 1})
    outsider = api.mint({str(api.other_workspace): frozenset(Role)})
    headers = api.headers(outsider)
    for path in (
        f"/api/runtime/process/{started['uuid']}/status",
        f"/api/runtime/process/{started['uuid']}/data",
        f"/api/runtime/process/{started['uuid']}/lineage",
        f"/api/runtime/process-instance/{started['uuid']}/build/info",
    ):
        assert_problem(api.client.get(path, headers=headers), 404, "Process instance not found.")
    response = api.client.post(api.start_path("straight"), json={}, headers=headers)
    assert_problem(response, 404)


def test_admin_endpoints_need_the_admin_role(api: Api) -> None:
    starter = api.mint({str(api.workspace): frozenset({Role.START})})
    response = api.client.post(
        f"/api/admin/wks/{api.workspace}/apps", json={"name": "x"}, headers=api.headers(starter)
    )
    assert_problem(response, 403)
    response = api.client.post("/api/admin/workspaces", json={"name": "x"}, headers=api.headers())
    assert_problem(response, 403)


def test_a_remembered_token_is_refused_once_it_expires(api: Api) -> None:
    short = api.issuer.mint("tester", {str(api.workspace): frozenset(Role)}, timedelta(seconds=2))
    path = f"/api/runtime/wks/{api.workspace}/app/{api.test_app}/build/info"
    assert api.client.get(path, headers=api.headers(short)).status_code == 200
    assert api.client.get(path, headers=api.headers(short)).status_code == 200  # cached
    time.sleep(2.2)
    assert_problem(api.client.get(path, headers=api.headers(short)), 401)
