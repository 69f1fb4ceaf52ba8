"""Crash test with a batch: the processes that run it SIGKILLed mid-way.

``SOURCES`` instances fail; a copyDataFrom batch over them (with the fix merged on top) is
created over HTTP and runs at a bounded rate. While it runs, what applies it is killed with
SIGKILL and restarted: on PostgreSQL each of two ``procflow worker`` processes and the
server, on SQLite ``serve`` itself (its embedded worker), twice. Afterwards the batch is
COMPLETED and every item was applied exactly once: one copy per source (none lost, none
doubled), each item DONE with its copy, the counters equal to the items.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from procflow.model.states import InstanceState
from procflow.store.port import InstanceQuery, Store
from tests.conftest import open_test_store
from tests.crash.cluster import Cluster, Service

pytestmark = pytest.mark.crash

SOURCES = 240
SQLITE_SOURCES = 120
LEASE_SECONDS = 2
# Ten items per transaction, 60 items a second: the batch takes a few seconds, and the
# kills land in the middle of it.
BATCH_ENV = {"PROCFLOW_BATCH_SLICE_SIZE": "10", "PROCFLOW_BATCH_ITEMS_PER_SECOND": "60",
             "PROCFLOW_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}  # fmt: skip
# Seconds after the batch was created at which the target with this index is killed.
KILLS = ((0.8, 0), (1.6, 1), (2.4, 2))
SETTLE_SECONDS = 90.0

WORKSPACE = "c4a5e000-0000-4000-8000-000000000004"
APP = "c4a5e000-0000-4000-8000-0000000000a4"
START_PATH = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/divide/start"
DIVIDE = """
name: divide
nodes:
  - {id: begin, type: start}
  - {id: ratio, type: task, rules: [{set: {ratio: "input.a / input.b"}}]}
  - {id: done, type: end}
flows:
  - {from: begin, to: ratio}
  - {from: ratio, to: done}
"""


def _services(cluster: Cluster, backend: str) -> tuple[Service, list[Service]]:
    """The server, and what the test kills in turn."""
    if backend == "sqlite":
        server = cluster.add_server(PROCFLOW_EMBEDDED_WORKER="1", **BATCH_ENV)
        server.start()
        server.wait_ready()
        return server, [server]
    server = cluster.add_server(**BATCH_ENV)
    workers = [cluster.add_worker("--batch", "4", **BATCH_ENV) for _ in range(2)]
    for service in (server, *workers):
        service.start()
    server.wait_ready()
    return server, [workers[0], server, workers[1]]


def _kill(targets: list[Service], began: float, kills: list[str]) -> None:
    for at, index in KILLS:
        target = targets[index % len(targets)]
        time.sleep(max(0.0, began + at - time.monotonic()))
        target.kill()
        kills.append(f"{target.name}@{at}s")
        time.sleep(0.2)
        target.start()


def _failed_sources(base: str, token: str, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        answers = [client.post(START_PATH, json={"a": n, "b": 0}).json() for n in range(count)]
    assert all(a["state"] == "FAILED" for a in answers), answers[:2]
    return [a["uuid"] for a in answers]


def _create_batch(base: str, token: str) -> dict[str, Any]:
    body = {"operation": "copyDataFrom", "filter": {"processName": "divide", "state": "FAILED"},
            "body": {"b": 2}}  # fmt: skip
    response = httpx.post(
        f"{base}/api/runtime/wks/{WORKSPACE}/batches", json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    assert response.status_code == 202, response.text
    batch: dict[str, Any] = response.json()
    return batch


def _settle(store: Store, batch_id: UUID, deadline: float) -> Any:
    while True:
        with store.read_transaction() as txn:
            batch = txn.get_batch(batch_id)
        assert batch is not None
        if batch.state != "RUNNING" or time.monotonic() > deadline:
            return batch
        time.sleep(0.3)


def test_kill_9_mid_batch_applies_every_item_exactly_once(
    cluster: Cluster, tmp_path: Path, store_backend: str, store_url: str, record_property: Any
) -> None:
    total = SQLITE_SOURCES if store_backend == "sqlite" else SOURCES
    definition = tmp_path / "divide.yaml"
    definition.write_text(DIVIDE)
    cluster.run("deploy", str(definition), "--workspace", WORKSPACE, "--app", APP, "--activate")
    server, targets = _services(cluster, store_backend)
    token = cluster.run("token", "--workspace", WORKSPACE).strip()
    sources = _failed_sources(server.base_url, token, total)
    batch = _create_batch(server.base_url, token)
    assert batch["total"] == total
    kills: list[str] = []
    began = time.monotonic()
    chaos = threading.Thread(target=_kill, args=(targets, began, kills), daemon=True)
    chaos.start()
    chaos.join(30)

    store = open_test_store(store_backend, store_url)
    try:
        final = _settle(store, UUID(batch["id"]), time.monotonic() + SETTLE_SECONDS)
        settled = time.monotonic() - began
        with store.read_transaction() as txn:
            items = txn.list_batch_items(final.id, 0, total + 10)
            everything = txn.search_instances(InstanceQuery(UUID(WORKSPACE), limit=10_000))
    finally:
        store.close()

    copies = [i for i in everything if i.lineage.copied_from_uuid is not None]
    per_source = Counter(str(c.lineage.copied_from_uuid) for c in copies)
    lost = sorted(s for s in sources if per_source[s] == 0)
    doubled = sorted(s for s, n in per_source.items() if n > 1)
    not_done = [i for i in items if i.state != "DONE"]
    summary = (
        f"crash test (batch, {store_backend}): items={len(items)} kills={kills} "
        f"lease={LEASE_SECONDS}s state={final.state} done={final.done} failed={final.failed} "
        f"copies={len(copies)} lost={len(lost)} doubled={len(doubled)} settled={settled:.1f}s"
    )
    print(f"\n{summary}")
    record_property("crash_batch_summary", summary)
    assert len(kills) == len(KILLS), summary
    assert final.state == "COMPLETED", f"{summary}\n{cluster.logs()}"
    assert lost == [] and doubled == [], summary
    assert len(items) == total and not_done == [], summary
    assert (final.done, final.failed) == (total, 0), summary
    by_uuid = {c.uuid: c for c in copies}
    for item in items:
        copy = by_uuid[item.result_uuid]  # type: ignore[index]
        assert str(copy.lineage.copied_from_uuid) == str(item.source_uuid)
        assert copy.state is InstanceState.FINISHED and copy.data["b"] == 2
