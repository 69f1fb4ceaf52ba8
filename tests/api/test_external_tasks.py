"""External tasks over HTTP on both stores: fetch-and-lock, answers, locks, retries,
BPMN errors, long polling, the Camunda 7 shapes, and every refusal (which changes nothing)."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import uuid4

import pytest

from procflow.runtime.access import Role
from tests.api.conftest import Api

FETCH = "/api/runtime/wks/{ws}/external-tasks/fetch-and-lock"
TASK = "/api/runtime/external-tasks/{id}/{op}"


def fetch(api: Api, worker: str = "w1", status: int = 200, **body: Any) -> Any:
    payload = {"workerId": worker, "maxTasks": 10,
               "topics": [{"topicName": "payments", "lockDuration": 60_000}], **body}  # fmt: skip
    response = api.client.post(FETCH.format(ws=api.workspace), json=payload, headers=api.headers())
    assert response.status_code == status, response.text
    return response.json()


def answer(api: Api, task_id: str, op: str, body: dict[str, Any], status: int = 204) -> Any:
    response = api.client.post(TASK.format(id=task_id, op=op), json=body, headers=api.headers())
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def started(api: Api, data: dict[str, Any] | None = None) -> str:
    uuid: str = api.start("charge", data or {"amount": 10})["uuid"]
    return uuid


def test_fetch_locks_a_task_with_its_data_and_complete_moves_the_instance(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    assert task["processInstanceUuid"] == uuid
    assert (task["topicName"], task["activityId"], task["workerId"]) == ("payments", "pay", "w1")
    assert (task["retries"], task["data"], task["processDefinitionName"]) == (2, {"amount": 10},
                                                                              "charge")  # fmt: skip
    assert api.status(uuid)["tokens"][0]["statusCurrentNode"] == "EXECUTING"
    assert fetch(api, worker="w2") == []  # locked
    answer(api, task["id"], "complete", {"workerId": "w1", "data": {"receipt": "r1"}})
    assert api.status(uuid)["state"] == "FINISHED"
    assert api.data(uuid) == {"amount": 10, "receipt": "r1"}
    # Completing twice: the task is gone, the data was merged once.
    answer(api, task["id"], "complete", {"workerId": "w1", "data": {"x": 1}}, status=404)
    assert "x" not in api.data(uuid)


def test_variables_narrow_the_data_sent(api: Api) -> None:
    started(api, {"amount": 10, "card": {"number": "4111", "cvc": "123"}})
    topic = {"topicName": "payments", "lockDuration": 1000, "variables": ["card.number"]}
    [task] = fetch(api, topics=[topic])
    assert task["data"] == {"card": {"number": "4111"}}


def test_a_worker_that_does_not_hold_the_lock_gets_409_and_changes_nothing(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    problem = answer(api, task["id"], "complete", {"workerId": "intruder"}, status=409)
    assert problem["code"] == "external_task_not_locked"
    answer(api, task["id"], "bpmnError", {"workerId": "intruder", "errorCode": "X"}, status=409)
    answer(api, task["id"], "failure", {"workerId": "intruder", "retries": 0}, status=409)
    assert api.status(uuid)["state"] == "STARTED"


def test_lock_expiry_hands_the_task_over_and_the_first_worker_is_late(api: Api) -> None:
    uuid = started(api)
    topic = {"topicName": "payments", "lockDuration": 100}
    [first] = fetch(api, worker="w1", topics=[topic])
    time.sleep(0.2)
    [second] = fetch(api, worker="w2")
    assert second["id"] == first["id"] and second["workerId"] == "w2"
    answer(api, first["id"], "complete", {"workerId": "w1", "data": {"by": "w1"}}, status=409)
    answer(api, second["id"], "complete", {"workerId": "w2", "data": {"by": "w2"}})
    assert api.data(uuid)["by"] == "w2"


def test_failure_with_retries_refetches_then_zero_retries_is_an_incident_retried(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    failure = {"workerId": "w1", "errorMessage": "timeout", "retries": 1, "retryTimeout": 0}
    answer(api, task["id"], "failure", failure)
    [again] = fetch(api)
    assert (again["retries"], again["errorMessage"]) == (1, "timeout")
    answer(api, task["id"], "failure", {**failure, "errorMessage": "down", "retries": 0})
    status = api.status(uuid)
    assert status["state"] == "FAILED"
    [incident] = status["incidents"]
    assert (incident["type"], incident["message"]) == ("external_task_failed", "down")
    assert fetch(api) == []  # a failed instance's task is not fetched
    retried = api.client.post(
        f"/api/runtime/process/{uuid}/incidents/{incident['id']}/retry", json={},
        headers=api.headers(),
    )  # fmt: skip
    assert retried.status_code == 200, retried.text
    [revived] = fetch(api)
    assert revived["id"] == task["id"] and revived["retries"] == 1
    answer(api, task["id"], "complete", {"workerId": "w1"})
    assert api.status(uuid)["state"] == "FINISHED"


def test_a_bpmn_error_is_caught_by_the_error_boundary(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    body = {"workerId": "w1", "errorCode": "DECLINED", "errorMessage": "no funds",
            "data": {"tried": True}}  # fmt: skip
    answer(api, task["id"], "bpmnError", body)
    assert api.status(uuid)["state"] == "FINISHED"
    data = api.data(uuid)
    assert data["failure"] == {"errorCode": "DECLINED", "errorMessage": "no funds"}
    assert data["tried"] is True


def test_an_uncaught_bpmn_error_fails_the_instance(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    answer(api, task["id"], "bpmnError", {"workerId": "w1", "errorCode": "OTHER"})
    status = api.status(uuid)
    assert status["state"] == "FAILED"
    assert status["incidents"][0]["type"] == "unhandled_error"


def test_extend_lock_and_unlock(api: Api) -> None:
    started(api)
    [task] = fetch(api, topics=[{"topicName": "payments", "lockDuration": 100}])
    answer(api, task["id"], "extendLock", {"workerId": "w1", "newDuration": 60_000})
    time.sleep(0.2)
    assert fetch(api, worker="w2") == []  # the extended lock holds
    answer(api, task["id"], "extendLock", {"workerId": "w2", "newDuration": 1000}, status=409)
    answer(api, task["id"], "unlock", {})
    [again] = fetch(api, worker="w2")
    assert again["workerId"] == "w2"


def test_tasks_of_an_instance_on_hold_are_not_fetched_and_answers_are_409(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    held = api.client.post(f"/api/runtime/process/{uuid}/hold", json={}, headers=api.headers())
    assert held.status_code == 200
    answer(api, task["id"], "unlock", {})
    assert fetch(api) == []
    api.client.post(f"/api/runtime/process/{uuid}/unhold", json={}, headers=api.headers())
    [again] = fetch(api)
    assert again["id"] == task["id"]


def test_terminating_the_instance_deletes_its_task(api: Api) -> None:
    uuid = started(api)
    [task] = fetch(api)
    api.client.post(f"/api/runtime/process/{uuid}/terminate", json={}, headers=api.headers())
    answer(api, task["id"], "complete", {"workerId": "w1"}, status=404)


def test_long_polling_answers_as_soon_as_a_task_arrives(api: Api) -> None:
    fetch(api)  # nothing yet: answers at once without asyncResponseTimeout
    timer = threading.Timer(0.3, lambda: started(api))
    began = time.monotonic()
    timer.start()
    try:
        tasks = fetch(api, asyncResponseTimeout=10_000)
    finally:
        timer.join()
    assert len(tasks) == 1
    assert time.monotonic() - began < 3


def test_long_polling_gives_up_after_its_timeout(api: Api) -> None:
    began = time.monotonic()
    assert fetch(api, asyncResponseTimeout=300) == []
    assert 0.25 < time.monotonic() - began < 3


@pytest.mark.parametrize(
    "change",
    [
        {"maxTasks": 0},
        {"maxTasks": 101},
        {"maxTasks": "3"},
        {"workerId": ""},
        {"topics": []},
        {"topics": [{"topicName": "payments", "lockDuration": 0}]},
        {"topics": [{"topicName": "payments", "lockDuration": 86_400_001}]},
        {"topics": [{"topicName": "payments", "lockDuration": 10, "variables": ["a..b"]}]},
        {"asyncResponseTimeout": -1},
        {"unknownField": 1},
    ],
)
def test_bad_fetch_bodies_are_400_problems_and_lock_nothing(
    api: Api, change: dict[str, Any]
) -> None:
    started(api)
    problem = fetch(api, status=400, **change)
    assert problem["status"] == 400 and problem["code"] == "invalid_body"
    assert len(fetch(api)) == 1  # still fetchable: nothing was locked


def test_bad_answers_are_refused(api: Api) -> None:
    started(api)
    [task] = fetch(api)
    answer(api, task["id"], "complete", {"workerId": "w1", "data": [1]}, status=400)
    answer(api, task["id"], "failure", {"workerId": "w1", "retries": -1}, status=400)
    answer(api, task["id"], "bpmnError", {"workerId": "w1", "errorCode": ""}, status=400)
    answer(api, task["id"], "extendLock", {"workerId": "w1", "newDuration": 0}, status=400)
    answer(api, str(uuid4()), "complete", {"workerId": "w1"}, status=404)
    answer(api, "not-a-task", "complete", {"workerId": "w1"}, status=404)
    answer(api, task["id"], "complete", {"workerId": "w1"})


def test_the_worker_role_is_needed_and_workspaces_are_isolated(api: Api) -> None:
    started(api)
    reader = api.mint({str(api.workspace): frozenset({Role.READ})})
    body = {"workerId": "w", "maxTasks": 1, "topics": [{"topicName": "payments",
            "lockDuration": 1000}]}  # fmt: skip
    path = FETCH.format(ws=api.workspace)
    assert api.client.post(path, json=body, headers=api.headers(reader)).status_code == 403
    other = api.mint({str(api.other_workspace): frozenset({Role.WORKER})})
    assert api.client.post(path, json=body, headers=api.headers(other)).status_code == 404
    own = FETCH.format(ws=api.other_workspace)
    assert api.client.post(own, json=body, headers=api.headers(other)).json() == []
    [task] = fetch(api)
    response = api.client.post(
        TASK.format(id=task["id"], op="complete"), json={"workerId": "w1"},
        headers=api.headers(other),
    )  # fmt: skip
    assert response.status_code == 404


def test_the_camunda_shapes(api: Api) -> None:
    uuid = started(api, {"amount": 10, "card": {"n": 1}, "ok": True, "name": "x", "r": 1.5})
    body = {"workerId": "cw", "maxTasks": 5, "usePriority": True,
            "topics": [{"topicName": "payments", "lockDuration": 10_000,
                        "processVariables": {}, "variables": None}]}  # fmt: skip
    response = api.client.post("/engine-rest/external-task/fetchAndLock", json=body,
                               headers=api.headers())  # fmt: skip
    assert response.status_code == 200, response.text
    [task] = response.json()
    assert task["processInstanceId"] == uuid and task["tenantId"] == str(api.workspace)
    assert task["businessKey"] is None and task["activityId"] == "pay"
    assert task["variables"]["amount"] == {"value": 10, "type": "Integer", "valueInfo": {}}
    assert task["variables"]["card"]["type"] == "Json"
    assert task["variables"]["card"]["value"] == '{"n":1}'
    assert task["variables"]["ok"]["type"] == "Boolean"
    assert task["variables"]["r"]["type"] == "Double"
    assert task["lockExpirationTime"].endswith("+0000")
    complete = {
        "workerId": "cw",
        "variables": {
            "paid": {"value": True, "type": "Boolean"},
            "receipt": {"value": '{"id": 7}', "type": "Json"},
            "plain": {"value": 3},
        },
    }
    done = api.client.post(f"/engine-rest/external-task/{task['id']}/complete", json=complete,
                           headers=api.headers())  # fmt: skip
    assert done.status_code == 204, done.text
    data = api.data(uuid)
    assert (data["paid"], data["receipt"], data["plain"]) == (True, {"id": 7}, 3)


def test_camunda_tenant_narrowing_and_bad_variables(api: Api) -> None:
    started(api)
    topic: dict[str, Any] = {"topicName": "payments", "lockDuration": 10_000,
                             "tenantIdIn": [str(api.other_workspace)]}  # fmt: skip
    body = {"workerId": "cw", "maxTasks": 5, "topics": [topic]}
    path = "/engine-rest/external-task/fetchAndLock"
    assert api.client.post(path, json=body, headers=api.headers()).json() == []
    del topic["tenantIdIn"]
    [task] = api.client.post(path, json=body, headers=api.headers()).json()
    bad = {"workerId": "cw", "variables": {"x": {"value": 1, "type": "Bytes"}}}
    response = api.client.post(f"/engine-rest/external-task/{task['id']}/complete", json=bad,
                               headers=api.headers())  # fmt: skip
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
