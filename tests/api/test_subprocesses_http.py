"""Embedded subprocesses and multi-instance activities end to end over HTTP, on both
stores: a user task inside a subprocess, a parallel multi-instance external task fetched by
a worker (each fetch sees its own element), and a timer boundary on a subprocess fired by
the real job worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.context import RuntimeContext
from procflow.runtime.worker import Worker
from tests.api.conftest import Api

FETCH = "/api/runtime/wks/{ws}/external-tasks/fetch-and-lock"
TASK = "/api/runtime/external-tasks/{id}/{op}"

REVIEW = """
name: review
nodes:
  - {id: begin, type: start}
  - id: review
    type: subProcess
    nodes:
      - {id: inner, type: start}
      - {id: check, type: userTask, actions: [ok]}
      - {id: innerEnd, type: end}
    flows:
      - {from: inner, to: check}
      - {from: check, to: innerEnd}
  - {id: done, type: end}
  - {id: tooSlow, type: boundaryTimer, attachedTo: review, timer: {duration: PT1S}}
  - {id: late, type: userTask, actions: [ok]}
  - {id: lateEnd, type: end}
flows:
  - {from: begin, to: review}
  - {from: review, to: done}
  - {from: tooSlow, to: late}
  - {from: late, to: lateEnd}
"""

SHIP = """
name: ship_each
nodes:
  - {id: begin, type: start}
  - id: ship
    type: task
    topic: shipping
    multiInstance:
      collection: input.parcels
      elementVariable: parcel
      outputElement: input.label
      outputCollection: labels
  - {id: done, type: end}
flows:
  - {from: begin, to: ship}
  - {from: ship, to: done}
"""


def deployed(api: Api) -> UUID:
    """A new app of the test workspace whose active build holds these two processes."""
    app = uuid4()
    deploy.create_app(api.store, SYSTEM, api.workspace, f"scopes-{app}", app)
    files = {"review.yaml": REVIEW.encode(), "ship_each.yaml": SHIP.encode()}
    deploy.deploy_build(api.store, SYSTEM, api.workspace, app, files, activate=True,
                        now=datetime.now(UTC))  # fmt: skip
    return app


def live(status: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((t["currentNodeId"], t["statusCurrentNode"]) for t in status["tokens"]
                  if t["state"] == "ACTIVE")  # fmt: skip


def test_a_user_task_inside_a_subprocess(api: Api) -> None:
    uuid = api.start("review", {"case": 7}, app=deployed(api))["uuid"]
    status = api.status(uuid)
    assert live(status) == [("check", "ARRIVED"), ("review", "EXECUTING")]
    by_node = {t["currentNodeId"]: t for t in status["tokens"]}
    assert by_node["check"]["scopeTokenId"] == by_node["review"]["id"]
    api.act(uuid, "ok", {"verdict": "fine"})
    assert api.status(uuid)["state"] == "FINISHED"
    assert api.data(uuid) == {"case": 7, "verdict": "fine"}


def fetch(api: Api, worker: str, max_tasks: int = 1) -> list[dict[str, Any]]:
    body = {"workerId": worker, "maxTasks": max_tasks,
            "topics": [{"topicName": "shipping", "lockDuration": 60_000}]}  # fmt: skip
    response = api.client.post(FETCH.format(ws=api.workspace), json=body, headers=api.headers())
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def test_parallel_multi_instance_external_tasks_each_see_their_own_element(api: Api) -> None:
    parcels = ["p1", "p2", "p3"]
    uuid = api.start("ship_each", {"parcels": parcels}, app=deployed(api))["uuid"]
    tasks = [fetch(api, f"w{i}")[0] for i in range(3)]
    assert fetch(api, "w9") == []
    seen = [(t["data"]["parcel"], t["data"]["loopCounter"]) for t in tasks]
    assert sorted(seen) == [("p1", 1), ("p2", 2), ("p3", 3)]
    assert all(t["data"]["parcels"] == parcels for t in tasks)
    # The status answer shows each instance's element on its token, not in the data.
    variables = [t["variables"] for t in api.status(uuid)["tokens"] if "variables" in t]
    assert sorted(v["parcel"] for v in variables) == parcels
    assert "parcel" not in api.data(uuid)
    # Completed in reverse collection order; the labels keep the collection's order.
    for task in sorted(tasks, key=lambda t: t["data"]["loopCounter"], reverse=True):
        body = {"workerId": task["workerId"], "data": {"label": f"L-{task['data']['parcel']}"}}
        path = TASK.format(id=task["id"], op="complete")
        response = api.client.post(path, json=body, headers=api.headers())
        assert response.status_code == 204, response.text
    assert api.status(uuid)["state"] == "FINISHED"
    assert api.data(uuid)["labels"] == ["L-p1", "L-p2", "L-p3"]


def test_a_timer_boundary_on_a_subprocess_fired_by_the_worker(api: Api) -> None:
    uuid = api.start("review", {}, app=deployed(api))["uuid"]
    assert live(api.status(uuid)) == [("check", "ARRIVED"), ("review", "EXECUTING")]
    worker = Worker(RuntimeContext(api.store))
    deadline = time.monotonic() + 10
    while live(api.status(uuid)) != [("late", "ARRIVED")]:
        assert time.monotonic() < deadline, api.status(uuid)
        worker.run_once()
        time.sleep(0.1)
    tokens = {t["currentNodeId"]: t["state"] for t in api.status(uuid)["tokens"]}
    assert tokens["check"] == "TERMINATED"
    api.act(uuid, "ok", {})
    assert api.status(uuid)["state"] == "FINISHED"
