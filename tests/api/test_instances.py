"""Instance endpoints: actions, status, build info, search; Idempotency-Key on starts."""

from __future__ import annotations

from uuid import uuid4

from tests.api.conftest import Api
from tests.api.test_errors import assert_problem
from tests.api.test_start import LOAN


def test_demo_story_approve_finishes_the_instance(api: Api) -> None:
    started = api.start("loan_application", LOAN, app=api.demo_app)
    finished = api.act(started["uuid"], "approve", {"decision": {"by": "sam", "ok": True}})
    assert finished["state"] == "FINISHED"
    data = api.data(started["uuid"])
    assert data["decision"] == {"by": "sam", "ok": True}
    completed = [
        t
        for t in finished["tokens"]
        if t["statusCurrentNode"] == "EXECUTED_COMPLETE" and t["currentNodeId"] == "approved"
    ]
    assert len(completed) == 1


def test_reject_action_follows_its_own_flow(api: Api) -> None:
    started = api.start("loan_application", LOAN, app=api.demo_app)
    finished = api.act(started["uuid"], "reject", {})
    assert any(t["currentNodeId"] == "rejected" for t in finished["tokens"])


def test_high_risk_is_rejected_automatically(api: Api) -> None:
    risky = {"applicant": {"name": "Bo", "income": 1000}, "loan": {"amount": 90000}}
    body = api.start("loan_application", risky, app=api.demo_app)
    assert body["state"] == "FINISHED"
    assert any(t["currentNodeId"] == "auto_rejected" for t in body["tokens"])


def test_action_errors(api: Api) -> None:
    started = api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})
    uuid, token = started["uuid"], started["tokens"][0]["uuid"]
    base = f"/api/runtime/process/{uuid}/token"
    unknown_action = api.client.post(
        f"{base}/{token}/action/launch/execute", json={}, headers=api.headers()
    )
    assert assert_problem(unknown_action, 400)["allowed"] == ["confirm"]
    unknown_token = api.client.post(
        f"{base}/{uuid4()}/action/confirm/execute", json={}, headers=api.headers()
    )
    assert_problem(unknown_token, 404)
    api.act(uuid, "confirm", {"round": 1})
    api.act(uuid, "confirm", {"round": 2})
    assert api.status(uuid)["state"] == "FINISHED"
    again = api.client.post(
        f"{base}/{token}/action/confirm/execute", json={}, headers=api.headers()
    )
    assert_problem(again, 409)
    bad_body = api.client.post(
        f"{base}/{token}/action/confirm/execute", content=b"[1]", headers=api.headers()
    )
    assert_problem(bad_body, 400)


def test_action_on_a_token_that_does_not_wait_is_409(api: Api) -> None:
    started = api.start("loan_application", LOAN, app=api.demo_app)
    branch = next(t for t in started["tokens"] if t["currentNodeId"] == "checks_done")
    assert branch["state"] == "INACTIVE"
    response = api.client.post(
        f"/api/runtime/process/{started['uuid']}/token/{branch['uuid']}/action/approve/execute",
        json={},
        headers=api.headers(),
    )
    assert_problem(response, 409, "The token is not waiting for an action.")


def test_status_has_timestamps_incidents_and_audit_summary(api: Api) -> None:
    started = api.start("loan_application", LOAN, app=api.demo_app)
    status = api.status(started["uuid"])
    assert status["createdAt"] <= status["updatedAt"]
    assert status["incidents"] == []
    summary = status["auditSummary"]
    assert summary["byType"]["instance_created"] == 1
    assert summary["events"] == sum(summary["byType"].values())
    location = api.client.get(f"/api/runtime/process/{started['uuid']}", headers=api.headers())
    assert location.json()["uuid"] == started["uuid"]


def test_build_info_for_instance_and_app(api: Api) -> None:
    started = api.start("straight", {"a": 1, "b": 1})
    by_instance = api.client.get(
        f"/api/runtime/process-instance/{started['uuid']}/build/info", headers=api.headers()
    ).json()
    by_app = api.client.get(
        f"/api/runtime/wks/{api.workspace}/app/{api.test_app}/build/info", headers=api.headers()
    ).json()
    assert by_instance["buildId"] == by_app["buildId"] == str(api.test_build.id)
    assert by_app["checksum"].startswith("sha256:")
    assert {d["name"] for d in by_app["processDefinitions"]} >= {"straight", "onboarding"}


def test_search_is_cursor_paginated(api: Api) -> None:
    uuids = [api.start("straight", {"a": i, "b": 0})["uuid"] for i in range(5)]
    api.start("failing", {"a": 1, "zero": 0})
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"processName": "straight", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.client.get(
            f"/api/runtime/wks/{api.workspace}/process-instances",
            params=params,
            headers=api.headers(),
        ).json()
        seen += [i["uuid"] for i in page["content"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == uuids
    failed = api.client.get(
        f"/api/runtime/wks/{api.workspace}/process-instances",
        params={"state": "FAILED"},
        headers=api.headers(),
    ).json()
    assert [i["processDefinitionName"] for i in failed["content"]] == ["failing"]


def test_idempotency_key_replays_the_first_instance(api: Api) -> None:
    headers = api.headers(**{"Idempotency-Key": "order-42"})
    first = api.client.post(api.start_path("straight"), json={"a": 1, "b": 2}, headers=headers)
    before = api.stored_counts()
    second = api.client.post(api.start_path("straight"), json={"a": 1, "b": 2}, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json()["uuid"] == second.json()["uuid"]
    assert second.headers["idempotent-replayed"] == "true"
    assert api.stored_counts() == before
    other = api.client.post(api.start_path("straight"), json={"a": 9, "b": 2}, headers=headers)
    assert_problem(other, 409)
    assert api.stored_counts() == before


def test_idempotency_key_applies_to_copies(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 1})["uuid"]
    headers = api.headers(**{"Idempotency-Key": "copy-1"})
    path = api.copy_path("straight", source)
    first = api.client.post(path, json={"b": 5}, headers=headers).json()
    second = api.client.post(path, json={"b": 5}, headers=headers).json()
    assert first["uuid"] == second["uuid"]
    other = api.client.post(
        api.copy_path("straight", source, "withoutParams=a"), json={"b": 5}, headers=headers
    )
    assert_problem(other, 409)


def test_admin_build_upload_reports_every_problem(api: Api) -> None:
    files = {
        "bad.yaml": "name: bad\nnodes: [{id: s, type: start}]\nflows: [{from: s, to: ghost}]\n",
        "worse.yaml": "name: [unclosed\n",
    }
    response = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": files},
        headers=api.headers(),
    )
    body = assert_problem(response, 400)
    assert {p["file"] for p in body["problems"]} == {"bad.yaml", "worse.yaml"}
    info = api.client.get(
        f"/api/runtime/wks/{api.workspace}/app/{api.test_app}/build/info", headers=api.headers()
    ).json()
    assert info["buildId"] == str(api.test_build.id)


def test_health_endpoints(api: Api) -> None:
    assert api.client.get("/health/live").json() == {"status": "UP"}
    assert api.client.get("/health/ready").json() == {"status": "UP"}
