"""Reads the console needs: counts by state (the search's filters but state, every
state listed) and an instance's external tasks with their locks, on both stores."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_errors import assert_problem

STATES = {"CREATED", "STARTED", "FINISHED", "FAILED", "TERMINATED", "DISMISSED", "EXPIRED",
          "ON_HOLD"}  # fmt: skip


def _counts(api: Api, query: str = "") -> dict[str, int]:
    path = f"/api/runtime/wks/{api.workspace}/process-instances/counts{query}"
    answer = api.client.get(path, headers=api.headers())
    assert answer.status_code == 200, answer.text
    counts: dict[str, int] = answer.json()["counts"]
    assert set(counts) == STATES
    return counts


def test_counts_by_state_follow_the_filters(api: Api) -> None:
    before = _counts(api)
    for _ in range(2):
        api.start("straight", {"a": 1, "b": 2})
    failed = api.start("failing", {"a": 1, "zero": 0})
    assert failed["state"] == "FAILED"
    waiting = api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})
    everything = _counts(api)
    assert everything["FINISHED"] == before["FINISHED"] + 2
    assert everything["FAILED"] == before["FAILED"] + 1
    assert everything["STARTED"] == before["STARTED"] + 1
    straight = _counts(api, "?processName=straight")
    assert straight == {**dict.fromkeys(STATES, 0), "FINISHED": 2}
    copy = api.copy("onboarding", waiting["uuid"], {})
    lineage = _counts(api, f"?lineageRootUuid={waiting['uuid']}")
    assert lineage["STARTED"] == 2 and sum(lineage.values()) == 2, copy
    later = _counts(api, "?createdFrom=2999-01-01T00:00:00Z")
    assert set(later.values()) == {0}


def test_a_bad_filter_is_a_400_problem(api: Api) -> None:
    path = f"/api/runtime/wks/{api.workspace}/process-instances/counts?createdFrom=yesterday"
    assert_problem(api.client.get(path, headers=api.headers()), 400)


def test_an_instance_lists_its_external_tasks_with_their_lock(api: Api) -> None:
    started = api.start("charge", {"amount": 5})
    path = f"/api/runtime/process/{started['uuid']}/external-tasks"
    [open_task] = api.client.get(path, headers=api.headers()).json()["content"]
    assert (open_task["nodeId"], open_task["topic"], open_task["lockedBy"]) == (
        "pay",
        "payments",
        None,
    )
    assert open_task["retries"] == 2 and open_task["lockedUntil"] is None
    fetch = {"workerId": "w1", "maxTasks": 1,
             "topics": [{"topicName": "payments", "lockDuration": 60_000}]}  # fmt: skip
    fetched = api.client.post(
        f"/api/runtime/wks/{api.workspace}/external-tasks/fetch-and-lock",
        json=fetch,
        headers=api.headers(),
    )
    assert fetched.status_code == 200, fetched.text
    [locked] = api.client.get(path, headers=api.headers()).json()["content"]
    assert locked["id"] == open_task["id"] == fetched.json()[0]["id"]
    assert locked["lockedBy"] == "w1" and locked["lockedUntil"] is not None
    done = api.client.post(
        f"/api/runtime/external-tasks/{locked['id']}/complete",
        json={"workerId": "w1"},
        headers=api.headers(),
    )
    assert done.status_code == 204, done.text
    assert api.client.get(path, headers=api.headers()).json()["content"] == []
