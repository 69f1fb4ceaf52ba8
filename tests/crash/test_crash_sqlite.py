"""Crash test on SQLite: one ``procflow serve`` (its embedded worker runs the async tasks),
SIGKILLed twice under a trickle of starts (each with an Idempotency-Key) and of user-task
actions, and restarted on the same file.

Afterwards every acknowledged start exists once, every acknowledged action was applied
exactly once, every instance finished and no job is left. Reuses the PostgreSQL crash
test's processes (cluster.py) and start client (load.py). The jobs a killed embedded worker
held wait for their lease to expire (PROCFLOW_JOB_LEASE_SECONDS, short here).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.crash.cluster import Cluster, Service
from tests.crash.load import TIMEOUT, LoadResult, StartLoad
from tests.runtime.conftest import ASYNC_CHAIN

pytestmark = pytest.mark.crash

WORKSPACE = "c4a5e000-0000-4000-8000-000000000002"
APP = "c4a5e000-0000-4000-8000-0000000000a2"
RUNTIME = "/api/runtime"
START_PATH = f"{RUNTIME}/wks/{WORKSPACE}/app/{APP}/process-name/async_chain/start"
REVIEW_PATH = f"{RUNTIME}/wks/{WORKSPACE}/app/{APP}/process-name/review_then_stamp/start"
REVIEW = """
name: review_then_stamp
nodes:
  - {id: begin, type: start}
  - {id: review, type: userTask, actions: [approve]}
  - {id: stamp, type: task, async: true, rules: [{set: {stamped: "true"}}]}
  - {id: done, type: end}
flows:
  - {from: begin, to: review}
  - {from: review, to: stamp}
  - {from: stamp, to: done}
"""
STARTS = 90
ACTIONS = 20
KILL_AT = (0.3, 0.65)
LOAD_SECONDS = 25.0
TASKS = 3
LEASE_SECONDS = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(f"sqlite:///{tmp_path / 'procflow.db'}", tmp_path / "data", tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop_all()


@dataclass
class ActionLoad:
    """Starts review instances and approves each, retrying through crashes: a 409 after a
    lost answer means the first attempt was applied (the token moved on)."""

    base_url: str
    token: str
    run_id: str
    deadline: float
    applied: dict[str, str] = field(default_factory=dict)  # instance uuid -> how acked
    failures: list[str] = field(default_factory=list)

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, timeout=TIMEOUT, headers=headers) as client:
            for index in range(ACTIONS):
                uuid_ = self._retry(lambda i=index: self._start(client, i))
                if uuid_ is not None:
                    self._retry(lambda u=uuid_: self._approve(client, u))
                time.sleep(0.05)

    def _retry(self, attempt: object) -> str | None:
        assert callable(attempt)
        while time.monotonic() < self.deadline:
            try:
                result: str | None = attempt()
                return result
            except (httpx.TransportError, _Retry):
                time.sleep(0.1)
        self.failures.append("deadline passed")
        return None

    def _start(self, client: httpx.Client, index: int) -> str:
        key = f"review-{self.run_id}-{index}"
        response = client.post(REVIEW_PATH, json={}, headers={"Idempotency-Key": key})
        return str(self._ok(response).json()["uuid"])

    def _approve(self, client: httpx.Client, instance: str) -> str:
        status = self._ok(client.get(f"{RUNTIME}/process/{instance}/status")).json()
        waiting = [t for t in status["tokens"] if t["currentNodeId"] == "review"]
        if not waiting or waiting[0]["state"] != "ACTIVE":
            self.applied.setdefault(instance, "moved on")  # a lost 200 was applied
            return instance
        path = f"{RUNTIME}/process/{instance}/token/{waiting[0]['uuid']}/action/approve/execute"
        response = client.post(path, json={"approvedBy": "crash"})
        if response.status_code == 409:
            self.applied.setdefault(instance, "409 after a lost answer")
            return instance
        self._ok(response)
        self.applied[instance] = "200"
        return instance

    def _ok(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 500:
            raise _Retry
        if not response.is_success:
            self.failures.append(f"{response.status_code} {response.text[:200]}")
            raise _Retry
        return response


class _Retry(Exception):
    pass


def _killer(server: Service, result: LoadResult, stop: threading.Event, kills: list[str]) -> None:
    for share in KILL_AT:
        while result.done < share * STARTS:
            if stop.wait(0.01):
                return
        server.kill()
        kills.append(f"serve@{result.done}/{STARTS}")
        server.start()
        server.wait_ready()


def _wait_settled(db: Path, deadline: float) -> tuple[int, int]:
    while True:
        with sqlite3.connect(db) as conn:
            unfinished = conn.execute(
                "SELECT count(*) FROM process_instances WHERE state <> 'FINISHED'"
            ).fetchone()[0]
            jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        if (unfinished == 0 and jobs == 0) or time.monotonic() > deadline:
            return int(unfinished), int(jobs)
        time.sleep(0.2)


def test_kill_9_of_serve_on_sqlite_loses_and_duplicates_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    for name, text in (("async_chain.yaml", ASYNC_CHAIN), ("review.yaml", REVIEW)):
        (tmp_path / name).write_text(text)
    cluster.run("deploy", str(tmp_path), "--workspace", WORKSPACE, "--app", APP, "--activate")
    server = cluster.add_server(
        PROCFLOW_JOB_LEASE_SECONDS=str(LEASE_SECONDS), PROCFLOW_EMBEDDED_WORKER="1"
    )
    server.start()
    server.wait_ready()
    token = cluster.run("token", "--workspace", WORKSPACE).strip()
    run_id = uuid.uuid4().hex[:8]
    deadline = time.monotonic() + LOAD_SECONDS
    starts = StartLoad([server.base_url], START_PATH, token, STARTS, 3, run_id, deadline)
    actions = ActionLoad(server.base_url, token, run_id, deadline)
    stop, kills = threading.Event(), list[str]()
    killer = threading.Thread(target=_killer, args=(server, starts.result, stop, kills))
    acting = threading.Thread(target=actions.run)
    killer.start()
    acting.start()
    began = time.monotonic()
    result = starts.run()
    starts_took = time.monotonic() - began
    acting.join(LOAD_SECONDS + 20)
    load_took = time.monotonic() - began
    stop.set()
    killer.join(30)

    assert not result.failures and not actions.failures, (result.failures, actions.failures)
    assert len(result.acknowledged) == STARTS and len(actions.applied) == ACTIONS
    assert len(kills) == len(KILL_AT), kills
    db = tmp_path / "procflow.db"
    unfinished, jobs = _wait_settled(db, time.monotonic() + 30)
    with sqlite3.connect(db) as conn:
        instances = {
            str(uuid.UUID(u)): name
            for u, name in conn.execute("SELECT uuid, definition_name FROM process_instances")
        }
        created = Counter(
            key
            for (key,) in conn.execute(
                "SELECT json_extract(details, '$.idempotencyKey') FROM audit_events"
                " WHERE type = 'instance_created'"
            )
        )
        per_instance = Counter(
            (str(uuid.UUID(u)), kind)
            for u, kind in conn.execute("SELECT instance_uuid, type FROM audit_events")
        )
    summary = (
        f"sqlite crash: kills={kills} retries={result.retries} replayed={result.replayed} "
        f"instances={len(instances)} unfinished={unfinished} jobs_left={jobs} "
        f"actions={Counter(actions.applied.values())} starts_load={starts_took:.1f}s "
        f"load={load_took:.1f}s settled={time.monotonic() - began:.1f}s"
    )
    print(f"\n{summary}")
    chains = {u for u, name in instances.items() if name == "async_chain"}
    assert set(result.acknowledged.values()) == chains, summary
    assert len(instances) == STARTS + ACTIONS, summary
    assert all(count == 1 for count in created.values()), created.most_common(3)
    assert unfinished == 0 and jobs == 0, f"{summary}\n{cluster.logs()}"
    for chain in chains:
        assert per_instance[(chain, "task_executed")] == TASKS, summary
    for reviewed in actions.applied:
        assert per_instance[(reviewed, "action_executed")] == 1, summary
        assert per_instance[(reviewed, "task_executed")] == 1, summary
