"""The real Camunda 7 worker client (``camunda-external-task-client-python3`` from PyPI)
against a real ``procflow serve``, pointed at ``/engine-rest`` with a bearer token: it
fetches, completes with typed variables, fails (retries, then an incident) and throws a
BPMN error, unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker

from tests.cli.test_timers_http import Client

ORDER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" targetNamespace="t">
  <bpmn:error id="Err_declined" name="declined" errorCode="DECLINED" />
  <bpmn:process id="order" isExecutable="true">
    <bpmn:startEvent id="begin" />
    <bpmn:serviceTask id="charge" camunda:type="external" camunda:topic="charge-card" />
    <bpmn:endEvent id="done" />
    <bpmn:boundaryEvent id="declined" attachedToRef="charge">
      <bpmn:errorEventDefinition errorRef="Err_declined" />
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="refused" />
    <bpmn:sequenceFlow id="f1" sourceRef="begin" targetRef="charge" />
    <bpmn:sequenceFlow id="f2" sourceRef="charge" targetRef="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="declined" targetRef="refused" />
  </bpmn:process>
</bpmn:definitions>
"""


def camunda_client(base: str, log: Path, worker: str = "camunda-worker") -> ExternalTaskClient:
    token = log.read_text().split("export TOKEN=", 1)[1].split()[0]
    config = {"auth_bearer": {"access_token": token}, "maxTasks": 5, "lockDuration": 10_000,
              "asyncResponseTimeout": 2_000}  # fmt: skip
    return ExternalTaskClient(worker, f"{base}/engine-rest", config)


def started(client: Client, body: dict[str, Any]) -> str:
    path = f"/api/runtime/wks/00000000-0000-0000-0000-000000000001/app/{client.app}"
    response = client.http.post(f"{path}/process-name/order/start", json=body)
    assert response.status_code == 200, response.text
    uuid: str = response.json()["uuid"]
    return uuid


def test_the_camunda_client_fetches_completes_fails_and_throws(server: tuple[str, Path]) -> None:
    base, log = server
    procflow = Client(base, log)
    procflow.deploy({"order.bpmn": ORDER})
    camunda = camunda_client(base, log)

    paid = started(procflow, {"amount": 42, "customer": {"id": 7}})
    [task] = camunda.fetch_and_lock("charge-card")
    assert task["processInstanceId"] == paid
    assert task["variables"]["amount"] == {"value": 42, "type": "Integer", "valueInfo": {}}
    assert camunda.complete(task["id"], {"receipt": "R-1", "paid": True}) is True
    done = procflow.wait_until(paid, lambda s: s["state"] == "FINISHED")
    assert done["state"] == "FINISHED"
    assert procflow.http.get(f"/api/runtime/process/{paid}/data").json()["receipt"] == "R-1"

    failing = started(procflow, {"amount": 1})
    [task] = camunda.fetch_and_lock("charge-card")
    assert camunda.failure(task["id"], "card service down", "trace", 1, 0) is True
    [again] = camunda.fetch_and_lock("charge-card")
    assert (again["id"], again["retries"], again["errorMessage"]) == (
        task["id"], 1, "card service down",
    )  # fmt: skip
    assert camunda.failure(again["id"], "still down", "trace", 0, 0) is True
    status = procflow.wait_until(failing, lambda s: s["state"] == "FAILED")
    assert status["incidents"][0]["type"] == "external_task_failed"

    declined = started(procflow, {"amount": 1_000_000})
    [task] = camunda.fetch_and_lock("charge-card")
    assert camunda.bpmn_failure(task["id"], "DECLINED", "over the limit", {"why": "limit"})
    status = procflow.wait_until(declined, lambda s: s["state"] == "FINISHED")
    completed = [t["currentNodeId"] for t in status["tokens"]]
    assert completed == ["refused"]


def test_the_camunda_worker_loop_runs_a_handler(server: tuple[str, Path]) -> None:
    base, log = server
    procflow = Client(base, log)
    procflow.deploy({"order.bpmn": ORDER})
    uuid = started(procflow, {"amount": 5})
    token = log.read_text().split("export TOKEN=", 1)[1].split()[0]
    worker = ExternalTaskWorker(
        worker_id="loop", base_url=f"{base}/engine-rest",
        config={"auth_bearer": {"access_token": token}, "asyncResponseTimeout": 1000},
    )  # fmt: skip

    def handle(task: ExternalTask) -> TaskResult:
        amount = task.get_variable("amount")
        return task.complete({"doubled": amount * 2})

    worker.fetch_and_execute("charge-card", handle)
    procflow.wait_until(uuid, lambda s: s["state"] == "FINISHED")
    assert procflow.http.get(f"/api/runtime/process/{uuid}/data").json()["doubled"] == 10
