"""Two ``serve`` replicas on one PostgreSQL: a long-polling fetch on one replica wakes when
the other replica creates a task (LISTEN/NOTIFY), and concurrent fetches on both replicas
never lock one task twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from procflow.api.app import create_app
from procflow.runtime.context import RuntimeContext
from procflow.store.postgres import PostgresStore
from tests.api.conftest import Api, _settings

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def replica(api: Api, tmp_path: Path) -> Iterator[TestClient]:
    store = PostgresStore(api.store_url)
    app = create_app(RuntimeContext(store), _settings(tmp_path), api.issuer)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        store.close()


def fetch_body(worker: str, timeout_ms: int = 0, max_tasks: int = 10) -> dict[str, Any]:
    return {"workerId": worker, "maxTasks": max_tasks, "asyncResponseTimeout": timeout_ms,
            "topics": [{"topicName": "payments", "lockDuration": 60_000}]}  # fmt: skip


def test_a_long_poll_on_one_replica_wakes_for_a_task_made_on_the_other(
    api: Api, replica: TestClient
) -> None:
    path = f"/api/runtime/wks/{api.workspace}/external-tasks/fetch-and-lock"
    replica.post(path, json=fetch_body("warm-up"), headers=api.headers())  # subscribes
    answers: list[Any] = []

    def poll() -> None:
        response = replica.post(path, json=fetch_body("w", 10_000), headers=api.headers())
        answers.append((response.status_code, response.json(), time.monotonic()))

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    created = time.monotonic()
    api.start("charge", {"amount": 1})  # on the first replica
    poller.join(15)
    [(status, tasks, answered)] = answers
    assert status == 200 and len(tasks) == 1
    # Woken by the NOTIFY, not by the one-second re-check.
    assert answered - created < 0.8


def test_concurrent_fetches_on_two_replicas_lock_each_task_once(
    api: Api, replica: TestClient
) -> None:
    for _ in range(20):
        api.start("charge", {"amount": 1})
    path = f"/api/runtime/wks/{api.workspace}/external-tasks/fetch-and-lock"
    locked: list[str] = []
    lock = threading.Lock()

    def drain(client: TestClient, worker: str) -> None:
        while True:
            response = client.post(path, json=fetch_body(worker, 0, 3), headers=api.headers())
            tasks = response.json()
            if not tasks:
                return
            with lock:
                locked.extend(task["id"] for task in tasks)

    workers = [threading.Thread(target=drain, args=(c, f"w{i}"))
               for i, c in enumerate((api.client, replica, api.client, replica))]  # fmt: skip
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert len(locked) == 20
    assert len(set(locked)) == 20
