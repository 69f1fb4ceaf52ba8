"""Operating instances over HTTP: terminate, hold, unhold, retry an incident."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx

from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM, Role
from tests.api.conftest import Api

CUSTOMER = {"customer": {"id": "c1", "email": "c1@example.com"}, "round": 1}


def _operate(
    api: Api, uuid: str, operation: str, body: Any = None, token: str | None = None
) -> httpx.Response:
    response: httpx.Response = api.client.post(
        f"/api/runtime/process/{uuid}/{operation}", json=body or {}, headers=api.headers(token)
    )
    return response


def _audit(api: Api, uuid: str) -> list[dict[str, Any]]:
    response = api.client.get(f"/api/runtime/process/{uuid}/audit", headers=api.headers())
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def test_retry_merges_the_patch_reruns_the_step_and_resolves_the_incident(api: Api) -> None:
    failed = api.start("failing", {"a": 6, "zero": 0})
    [incident] = api.status(failed["uuid"])["incidents"]
    assert (incident["id"], incident["resolvedAt"]) == (1, None)
    response = _operate(
        api, failed["uuid"], f"incidents/{incident['id']}/retry", {"data": {"zero": 3}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "FINISHED"
    [resolved] = body["incidents"]
    assert resolved["resolvedBy"] == "tester"
    assert resolved["resolvedAt"] is not None
    assert api.data(failed["uuid"]) == {"a": 6, "zero": 3, "ratio": 2.0}
    [event] = [e for e in _audit(api, failed["uuid"]) if e["type"] == "incident_resolved"]
    assert event["details"]["by"] == "tester"
    assert event["details"]["incidentId"] == 1


def test_retry_that_fails_again_opens_a_second_incident(api: Api) -> None:
    failed = api.start("failing", {"a": 6, "zero": 0})
    response = _operate(api, failed["uuid"], "incidents/1/retry", {})
    assert response.status_code == 200, response.text
    incidents = response.json()["incidents"]
    assert response.json()["state"] == "FAILED"
    assert [(i["id"], i["resolvedBy"]) for i in incidents] == [(1, "tester"), (2, None)]


def test_retry_refusals_change_nothing(api: Api) -> None:
    failed = api.start("failing", {"a": 6, "zero": 0})
    uuid = failed["uuid"]
    unknown = _operate(api, uuid, "incidents/9/retry")
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "Incident not found."
    not_an_object = _operate(api, uuid, "incidents/1/retry", {"data": [1]})
    assert not_an_object.status_code == 400
    assert api.status(uuid)["version"] == 1
    assert _operate(api, uuid, "incidents/1/retry", {"data": {"zero": 1}}).status_code == 200
    again = _operate(api, uuid, "incidents/1/retry", {"data": {"zero": 5}})
    assert again.status_code == 409
    assert again.json()["errorKey"] == "error.incident.resolved"
    assert api.data(uuid)["zero"] == 1


def test_hold_stops_actions_and_unhold_lets_them_run(api: Api) -> None:
    started = api.start("onboarding", CUSTOMER)
    uuid = started["uuid"]
    held = _operate(api, uuid, "hold")
    assert held.status_code == 200, held.text
    assert held.json()["state"] == "ON_HOLD"
    assert [t["state"] for t in held.json()["tokens"]] == ["ON_HOLD"]
    token = started["tokens"][-1]["uuid"]
    action = api.client.post(
        f"/api/runtime/process/{uuid}/token/{token}/action/confirm/execute",
        json={},
        headers=api.headers(),
    )
    assert action.status_code == 409
    version = api.status(uuid)["version"]
    assert _operate(api, uuid, "hold").status_code == 200  # already held: nothing changes
    assert api.status(uuid)["version"] == version
    unheld = _operate(api, uuid, "unhold")
    assert unheld.status_code == 200, unheld.text
    assert unheld.json()["state"] == "STARTED"
    assert api.act(uuid, "confirm", {})["tokens"][-1]["currentNodeId"] == "again"
    types = [e["type"] for e in _audit(api, uuid)]
    assert types.count("instance_held") == 1
    assert types.count("instance_unheld") == 1


def test_terminate_twice_changes_nothing_the_second_time(api: Api) -> None:
    uuid = api.start("onboarding", CUSTOMER)["uuid"]
    first = _operate(api, uuid, "terminate", {"reason": "duplicate case"})
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "TERMINATED"
    assert {t["state"] for t in first.json()["tokens"]} == {"TERMINATED"}
    second = _operate(api, uuid, "terminate")
    assert second.status_code == 200
    assert second.json()["version"] == first.json()["version"]
    [event] = [e for e in _audit(api, uuid) if e["type"] == "instance_terminated"]
    assert event["details"] == {"reason": "duplicate case", "by": "tester"}


def test_operations_that_do_not_fit_the_state_answer_409_with_it(api: Api) -> None:
    finished = api.start("straight", {"a": 1, "b": 2})["uuid"]
    failed = api.start("failing", {"a": 1, "zero": 0})["uuid"]
    for uuid, operation, state in [
        (finished, "terminate", "FINISHED"),
        (finished, "hold", "FINISHED"),
        (failed, "hold", "FAILED"),
        (failed, "unhold", "FAILED"),
    ]:
        response = _operate(api, uuid, operation)
        assert response.status_code == 409, (operation, state)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["state"] == state
    assert api.status(finished)["version"] == 1
    assert api.status(failed)["version"] == 1
    bad_reason = _operate(api, failed, "terminate", {"reason": 5})
    assert bad_reason.status_code == 400


def test_operations_need_the_operate_role_and_never_reveal_foreign_instances(api: Api) -> None:
    uuid = api.start("onboarding", CUSTOMER)["uuid"]
    reader = api.mint({str(api.workspace): frozenset({Role.READ, Role.START, Role.ACTION})})
    assert _operate(api, uuid, "hold", token=reader).status_code == 403
    operator = api.mint({str(api.workspace): frozenset({Role.OPERATE})})
    assert _operate(api, uuid, "hold", token=operator).status_code == 200
    stranger = api.mint({str(api.other_workspace): frozenset(Role)})
    foreign = _operate(api, uuid, "terminate", token=stranger)
    missing = _operate(api, str(uuid4()), "terminate", token=stranger)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    for path in ("incidents/1/retry", "unhold"):
        assert _operate(api, uuid, path, token=stranger).content == missing.content


def test_an_idempotent_replay_answers_the_first_instance_after_a_new_build(api: Api) -> None:
    headers = api.headers(**{"Idempotency-Key": "replay-after-build"})
    path = api.start_path("straight")
    first = api.client.post(path, json={"a": 1, "b": 2}, headers=headers)
    assert first.status_code == 200
    # The next build of the app no longer has the process at all.
    files = {"other.yaml": b"name: other\nnodes: [{id: s, type: start}, {id: e, type: end}]\n"
             b"flows: [{from: s, to: e}]\n"}  # fmt: skip
    now = datetime.now(UTC)
    deploy.deploy_build(
        api.store, SYSTEM, api.workspace, api.test_app, files, activate=True, now=now
    )
    assert api.client.post(path, json={"a": 1}, headers=api.headers()).status_code == 404
    replay = api.client.post(path, json={"a": 1, "b": 2}, headers=headers)
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["uuid"] == first.json()["uuid"]
    assert replay.json()["buildId"] == first.json()["buildId"]


def test_hostile_operation_bodies_are_refused_and_change_nothing(api: Api) -> None:
    failed = api.start("failing", {"a": 6, "zero": 0})["uuid"]
    retry = f"/api/runtime/process/{failed}/incidents/1/retry"
    deep = b'{"data": ' + b'{"x": ' * 200 + b"1" + b"}" * 200 + b"}"
    bodies = {
        "deep": deep,
        "not utf-8": b'{"data": {"zero": "\xff\xfe"}}',
        "number past 64 bits": b'{"data": {"zero": 99999999999999999999}}',
        "nul": b'{"data": {"zero": "\\u0000"}}',
        "wrong type": b'{"data": "zero"}',
        "huge": b'{"data": {"x": "' + b"a" * (1024 * 1024) + b'"}}',
    }
    for name, body in bodies.items():
        response = api.client.post(
            retry, content=body, headers=api.headers(**{"Content-Type": "application/json"})
        )
        assert response.status_code in (400, 413), (name, response.status_code)
        assert response.headers["content-type"] == "application/problem+json", name
    status = api.status(failed)
    assert (status["state"], status["version"]) == ("FAILED", 1)
    assert api.data(failed) == {"a": 6, "zero": 0}
    terminate = f"/api/runtime/process/{failed}/terminate"
    for body in (b'{"reason": ["x"]}', b"\xff", b'{"reason": "' + b"r" * (1024 * 1024) + b'"}'):
        response = api.client.post(
            terminate, content=body, headers=api.headers(**{"Content-Type": "application/json"})
        )
        assert response.status_code in (400, 413)
    assert api.status(failed)["state"] == "FAILED"
