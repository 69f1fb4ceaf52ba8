"""copyDataFrom with ``startAt``: resume downstream after an interruption (both stores)."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_errors import assert_problem


def _audit_types(api: Api, uuid: str) -> list[dict[str, object]]:
    response = api.client.get(f"/api/runtime/process/{uuid}/audit", headers=api.headers())
    assert response.status_code == 200
    events: list[dict[str, object]] = response.json()["events"]
    return events


def test_copy_starts_at_the_named_node(api: Api) -> None:
    source = api.start("onboarding", {"customer": {"id": 1, "email": "a@example.com"}})
    copy = api.copy("onboarding", source["uuid"], {"round": 3}, query="startAt=again")
    assert copy["state"] == "STARTED"
    [token] = copy["tokens"]
    assert token["currentNodeId"] == "again"
    assert copy["instanceMetadata"]["copiedFromUuid"] == source["uuid"]
    events = _audit_types(api, copy["uuid"])
    created = next(e for e in events if e["type"] == "instance_created")
    started = next(e for e in events if e["type"] == "instance_started")
    assert created["details"]["startAt"] == "again"  # type: ignore[index]
    assert started["nodeId"] == "again"
    # The node before it never ran in the copy: the stamp task wrote nothing.
    assert "stamp" not in api.data(copy["uuid"])


def test_start_at_a_task_runs_it_and_skips_mandatory_params(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 2})
    # onboarding's start node requires customer.id and customer.email; startAt skips them.
    copy = api.copy("onboarding", source["uuid"], {"round": 9}, query="startAt=stamp")
    assert copy["state"] == "STARTED"
    assert api.data(copy["uuid"])["stamp"] == {"one": 9, "two": 9, "three": 9}
    assert copy["tokens"][0]["currentNodeId"] == "again"


def test_start_at_an_end_node_finishes(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 2})
    copy = api.copy("straight", source["uuid"], {}, query="startAt=done")
    assert copy["state"] == "FINISHED"
    assert api.data(copy["uuid"]) == {"a": 1, "b": 2, "total": 3}


def test_unknown_start_at_node_is_400_and_nothing_is_stored(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 2})
    before = api.stored_counts()
    for query in ("startAt=nowhere", "startAt=", "startAt=%20"):
        response = api.client.post(
            api.copy_path("straight", source["uuid"], query), json={}, headers=api.headers()
        )
        assert assert_problem(response, 400)["code"] == "invalid_parameter"
    assert api.stored_counts() == before


def test_dry_run_with_start_at(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 2})
    response = api.client.post(
        api.copy_path("onboarding", source["uuid"], "startAt=review&dryRun=true"),
        json={"x": 1},
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["startNodeId"] == "review" and body["startAt"] == "review"
    assert body["data"] == {"a": 1, "b": 2, "total": 3, "x": 1}


def test_idempotency_key_tells_start_at_apart(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 2})
    headers = api.headers(**{"Idempotency-Key": "resume-1"})
    first = api.client.post(
        api.copy_path("straight", source["uuid"], "startAt=done"), json={}, headers=headers
    )
    assert first.status_code == 200
    other = api.client.post(
        api.copy_path("straight", source["uuid"], "startAt=compute"), json={}, headers=headers
    )
    assert assert_problem(other, 409)["code"] == "idempotency_key_reused"
