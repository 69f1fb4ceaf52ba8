"""Real short timers through a real ``procflow serve`` (SQLite, embedded worker): a timer
catch event, a boundary timer on a user task and a timer start event, each firing on time
while the server is otherwise idle (wake-ups at the due time, not a slow poll)."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

WORKSPACE = "00000000-0000-0000-0000-000000000001"

PAUSE = """
name: pause
nodes:
  - {id: begin, type: start}
  - {id: wait, type: timer, timer: {duration: PT1S}}
  - {id: done, type: end}
flows:
  - {from: begin, to: wait}
  - {from: wait, to: done}
"""

DEADLINE = """
name: deadline
nodes:
  - {id: begin, type: start}
  - {id: review, type: userTask, actions: [ok]}
  - {id: late, type: boundaryTimer, attachedTo: review, timer: {duration: PT1S}}
  - {id: escalate, type: userTask, actions: [ok]}
  - {id: done, type: end}
flows:
  - {from: begin, to: review}
  - {from: review, to: done}
  - {from: late, to: escalate}
  - {from: escalate, to: done}
"""

TICK = """
name: tick
nodes:
  - {id: every_second, type: start, timer: {cycle: R2/PT1S}}
  - {id: done, type: end}
flows:
  - {from: every_second, to: done}
"""


class Client:
    def __init__(self, base: str, log: Path) -> None:
        token = log.read_text().split("export TOKEN=", 1)[1].split()[0]
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self.app = str(uuid4())

    def deploy(self, files: dict[str, str]) -> None:
        created = self.http.post(f"/api/admin/wks/{WORKSPACE}/apps", json={"id": self.app,
                                 "name": "timers"})  # fmt: skip
        assert created.status_code == 201, created.text
        build = self.http.post(
            f"/api/admin/wks/{WORKSPACE}/app/{self.app}/builds",
            json={"files": files, "activate": True},
        )
        assert build.status_code == 201, build.text

    def start(self, process: str) -> dict[str, Any]:
        path = f"/api/runtime/wks/{WORKSPACE}/app/{self.app}/process-name/{process}/start"
        response = self.http.post(path, json={})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def status(self, uuid: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(f"/api/runtime/process/{uuid}/status").json()
        return answer

    def audit(self, uuid: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.http.get(f"/api/runtime/process/{uuid}/audit").json()[
            "events"
        ]
        return events

    def wait_until(self, uuid: str, done: Any, seconds: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            status = self.status(uuid)
            if done(status):
                return status
            time.sleep(0.05)
        raise AssertionError(f"not reached in {seconds} s: {self.status(uuid)}")


def _lateness(client: Client, uuid: str) -> float:
    """Seconds between the timer's due time and its firing, from the audit log."""
    events = client.audit(uuid)
    [scheduled] = [e for e in events if e["type"] == "timer_scheduled"]
    [fired] = [e for e in events if e["type"] == "timer_fired"]
    due = datetime.fromisoformat(scheduled["details"]["dueAt"])
    return (datetime.fromisoformat(fired["at"]) - due).total_seconds()


def test_a_timer_catch_event_fires_on_time(server: tuple[str, Path]) -> None:
    client = Client(*server)
    client.deploy({"pause.yaml": PAUSE})
    started = client.start("pause")
    assert started["tokens"][0]["statusCurrentNode"] == "WAITING_TIMER_EVENT"
    [wait] = client.status(started["uuid"])["waits"]
    assert wait["kind"] == "timer" and wait["nodeId"] == "wait"
    status = client.wait_until(started["uuid"], lambda s: s["state"] == "FINISHED")
    assert status["waits"] == []
    assert 0 <= _lateness(client, started["uuid"]) < 1.0


def test_a_boundary_timer_interrupts_a_waiting_user_task(server: tuple[str, Path]) -> None:
    client = Client(*server)
    client.deploy({"deadline.yaml": DEADLINE})
    uuid = client.start("deadline")["uuid"]

    def escalated(status: dict[str, Any]) -> bool:
        return any(t["currentNodeId"] == "escalate" for t in status["tokens"])

    status = client.wait_until(uuid, escalated)
    [token] = [t for t in status["tokens"] if t["state"] == "ACTIVE"]
    assert token["currentNodeId"] == "escalate"
    assert 0 <= _lateness(client, uuid) < 1.0


def test_a_timer_start_event_starts_instances_on_its_cycle(server: tuple[str, Path]) -> None:
    client = Client(*server)
    client.deploy({"tick.yaml": TICK})
    search = f"/api/runtime/wks/{WORKSPACE}/process-instances"
    deadline = time.monotonic() + 10
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(found) < 2:
        found = client.http.get(search, params={"processName": "tick"}).json()["content"]
        time.sleep(0.1)
    assert len(found) == 2
    assert {i["state"] for i in found} == {"FINISHED"}
    time.sleep(1.5)
    again = client.http.get(search, params={"processName": "tick"}).json()["content"]
    assert len(again) == 2  # R2: exactly two
