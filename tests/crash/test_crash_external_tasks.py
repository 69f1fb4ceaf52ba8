"""Crash test with external tasks: workers outside Procflow and the servers SIGKILLed while
tasks are locked and being completed.

Starts (idempotent, retried) of a process with one external task; two external-task worker
processes fetch and complete them (lock 2 s). Worker 0, a server, then worker 1 are killed
with SIGKILL and restarted. On PostgreSQL there are two ``serve`` replicas (the workers move
to the other one); on SQLite one. Afterwards every instance finished, no task row is left,
each task was completed exactly once (one ``external_task_completed`` per instance), and
every completion a worker saw acknowledged (204) is the one in the instance's data.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from procflow.model.states import InstanceState
from procflow.store.port import InstanceQuery, Store
from tests.conftest import open_test_store
from tests.crash.cluster import Cluster, Service
from tests.crash.load import StartLoad

pytestmark = pytest.mark.crash

INSTANCES = 200
SQLITE_INSTANCES = 100
CLIENT_THREADS = 6
SETTLE_SECONDS = 60.0
WORKSPACE = "c4a5e000-0000-4000-8000-000000000004"
APP = "c4a5e000-0000-4000-8000-0000000000a4"
START_PATH = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/handed/start"
HANDED = """
name: handed
nodes:
  - {id: begin, type: start}
  - {id: outside, type: task, topic: crash}
  - {id: done, type: end}
flows:
  - {from: begin, to: outside}
  - {from: outside, to: done}
"""
WORKER = Path(__file__).parent / "external_worker.py"


def _kill_and_restart(plan: list[tuple[float, Service]], began: float, kills: list[str]) -> None:
    for at, target in plan:
        time.sleep(max(0.0, began + at - time.monotonic()))
        target.kill()
        kills.append(f"{target.name}@{at}s")
        time.sleep(0.3)
        target.start()


def _settle(store: Store, total: int, deadline: float) -> list[Any]:
    query = InstanceQuery(UUID(WORKSPACE), definition_name="handed", limit=10_000)
    while True:
        with store.read_transaction() as txn:
            instances = txn.search_instances(query)
            rows = sum(len(txn.list_external_tasks(i.uuid)) for i in instances)
        finished = sum(i.state is InstanceState.FINISHED for i in instances)
        if (finished == total and rows == 0) or time.monotonic() > deadline:
            return instances
        time.sleep(0.3)


def test_kill_9_of_workers_and_servers_completes_each_task_exactly_once(
    cluster: Cluster, tmp_path: Path, store_backend: str, store_url: str, record_property: Any
) -> None:
    total = SQLITE_INSTANCES if store_backend == "sqlite" else INSTANCES
    definition = tmp_path / "handed.yaml"
    definition.write_text(HANDED)
    cluster.run("deploy", str(definition), "--workspace", WORKSPACE, "--app", APP, "--activate")
    servers = [cluster.add_server()] if store_backend == "sqlite" else [
        cluster.add_server(), cluster.add_server()]  # fmt: skip
    for server in servers:
        server.start()
    for server in servers:
        server.wait_ready()
    token = cluster.run("token", "--workspace", WORKSPACE).strip()
    acks = tmp_path / "acks.txt"
    bases = [s.base_url for s in servers]
    workers = [
        cluster.add_program(f"ext-worker-{n}", (sys.executable, str(WORKER)), f"w{n}",
                            str(acks), token, WORKSPACE, *bases)
        for n in range(2)
    ]  # fmt: skip
    for worker in workers:
        worker.start()
    load = StartLoad(
        base_urls=bases, path=START_PATH, token=token, total=total, threads=CLIENT_THREADS,
        run_id=uuid.uuid4().hex[:8], deadline=time.monotonic() + 40,
    )  # fmt: skip
    plan = [(1.0, workers[0]), (2.0, servers[-1]), (3.0, workers[1])]
    kills: list[str] = []
    began = time.monotonic()
    chaos = threading.Thread(target=_kill_and_restart, args=(plan, began, kills), daemon=True)
    chaos.start()
    result = load.run()
    chaos.join(30)
    assert not result.failures, f"{result.failures[:5]}\n{cluster.logs()}"
    for server in servers:
        server.wait_ready()

    store = open_test_store(store_backend, store_url)
    try:
        instances = _settle(store, total, time.monotonic() + SETTLE_SECONDS)
        settled = time.monotonic() - began
        with store.read_transaction() as txn:
            completions = {
                str(i.uuid): sum(
                    e.type == "external_task_completed" for e in txn.list_audit(i.uuid)
                )
                for i in instances
            }
            rows_left = sum(len(txn.list_external_tasks(i.uuid)) for i in instances)
    finally:
        store.close()
    for worker in workers:
        worker.stop()

    acknowledged = [line.split() for line in acks.read_text().splitlines() if line.strip()]
    done_by = {str(i.uuid): i.data.get("doneBy") for i in instances}
    acked_twice = len(acknowledged) - len({instance for _, instance, _ in acknowledged})
    lost = [inst for _, inst, worker in acknowledged if done_by.get(inst) != worker]
    doubled = sorted(u for u, count in completions.items() if count != 1)
    unfinished = sum(i.state is not InstanceState.FINISHED for i in instances)
    summary = (
        f"crash test (external tasks, {store_backend}): instances={len(instances)} "
        f"servers={len(servers)} kills={kills} start_retries={result.retries} "
        f"acknowledged={len(acknowledged)} acked_twice={acked_twice} lost={len(lost)} "
        f"not_once={len(doubled)} unfinished={unfinished} rows_left={rows_left} "
        f"settled={settled:.1f}s"
    )
    print(f"\n{summary}")
    record_property("crash_external_tasks_summary", summary)
    assert len(kills) == len(plan), summary
    assert len(instances) == total, summary
    assert unfinished == 0 and rows_left == 0, f"{summary}\n{cluster.logs()}"
    assert doubled == [], f"{summary}\ncompleted other than once: {doubled[:5]}"
    assert acked_twice == 0 and lost == [], summary
