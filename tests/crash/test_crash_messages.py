"""Crash test with messages: servers SIGKILLed while messages are being correlated.

Instances wait for a message keyed by their start number. Client threads send one message
per instance (each with a messageId, retried until answered 200, moving to the other
server); meanwhile a server is killed with SIGKILL and restarted, twice. Afterwards every
message answered 200 with a delivery is in its instance (none lost), every instance got
its message exactly once (none doubled: the messageId answers a retry with the first
result), and no subscription is left.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from procflow.model.states import InstanceState
from procflow.store.port import InstanceQuery, Store
from tests.conftest import open_test_store
from tests.crash.cluster import Cluster, Service
from tests.crash.load import StartLoad

pytestmark = pytest.mark.crash

INSTANCES = 150
SENDER_THREADS = 6
WORKSPACE = "c4a5e000-0000-4000-8000-000000000005"
APP = "c4a5e000-0000-4000-8000-0000000000a5"
START_PATH = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/awaiting/start"
AWAITING = """
name: awaiting
nodes:
  - {id: begin, type: start}
  - {id: go, type: message, message: {name: go, correlationKey: input.n}}
  - {id: done, type: end}
flows:
  - {from: begin, to: go}
  - {from: go, to: done}
"""


class Senders:
    """One message per instance number, retried with its messageId until answered 200."""

    def __init__(self, bases: list[str], token: str, run_id: str) -> None:
        self.bases, self.token, self.run_id = bases, token, run_id
        self.answers: dict[int, dict[str, Any]] = {}
        self.retries = 0
        self.lock = threading.Lock()
        self._next = itertools.count().__next__

    def run(self) -> None:
        threads = [threading.Thread(target=self._client) for _ in range(SENDER_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)

    def _client(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=10) as client:
            while (n := self._next()) < INSTANCES:
                self._send(client, n)

    def _send(self, client: httpx.Client, n: int) -> None:
        body = {"messageName": "go", "correlationKey": str(n), "data": {"got": n},
                "messageId": f"{self.run_id}-{n}", "timeToLive": 60_000}  # fmt: skip
        for attempt in range(200):
            base = self.bases[(n + attempt) % len(self.bases)]
            try:
                response = client.post(f"{base}/api/runtime/wks/{WORKSPACE}/messages", json=body)
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code == 200:
                with self.lock:
                    self.answers[n] = response.json()
                return
            with self.lock:
                self.retries += 1
            time.sleep(0.05)


def _kill_servers(servers: list[Service], kills: list[str]) -> None:
    for at, server in ((0.5, servers[0]), (1.5, servers[-1])):
        time.sleep(at if not kills else 1.0)
        server.kill()
        kills.append(server.name)
        time.sleep(0.3)
        server.start()


def _settle(store: Store, deadline: float) -> list[Any]:
    query = InstanceQuery(UUID(WORKSPACE), definition_name="awaiting", limit=10_000)
    while True:
        with store.read_transaction() as txn:
            instances = txn.search_instances(query)
        if all(i.state is InstanceState.FINISHED for i in instances) or time.monotonic() > deadline:
            return instances
        time.sleep(0.3)


def test_kill_9_while_correlating_loses_and_doubles_no_message(
    cluster: Cluster, tmp_path: Path, store_backend: str, store_url: str, record_property: Any
) -> None:
    definition = tmp_path / "awaiting.yaml"
    definition.write_text(AWAITING)
    cluster.run("deploy", str(definition), "--workspace", WORKSPACE, "--app", APP, "--activate")
    servers = [cluster.add_server()] if store_backend == "sqlite" else [
        cluster.add_server(), cluster.add_server()]  # fmt: skip
    for server in servers:
        server.start()
    for server in servers:
        server.wait_ready()
    token = cluster.run("token", "--workspace", WORKSPACE).strip()
    bases = [s.base_url for s in servers]
    run_id = uuid.uuid4().hex[:8]
    starts = StartLoad(
        base_urls=bases,
        path=START_PATH,
        token=token,
        total=INSTANCES,
        threads=4,
        run_id=run_id,
        deadline=time.monotonic() + 30,
    ).run()
    assert not starts.failures, starts.failures[:5]
    senders = Senders(bases, token, run_id)
    kills: list[str] = []
    chaos = threading.Thread(target=_kill_servers, args=(servers, kills), daemon=True)
    chaos.start()
    began = time.monotonic()
    senders.run()
    chaos.join(30)
    for server in servers:
        server.wait_ready()

    store = open_test_store(store_backend, store_url)
    try:
        instances = _settle(store, time.monotonic() + 30)
        settled = time.monotonic() - began
        with store.read_transaction() as txn:
            deliveries = {
                i.data.get("n"): sum(e.type == "message_correlated" for e in txn.list_audit(i.uuid))
                for i in instances
            }
    finally:
        store.close()
    got = {i.data.get("n"): i.data.get("got") for i in instances}
    answered = len(senders.answers)
    lost = [n for n, a in senders.answers.items() if (a["correlated"] or a["buffered"])
            and got.get(n) != n]  # fmt: skip
    doubled = [n for n, count in deliveries.items() if count != 1]
    unfinished = sum(i.state is not InstanceState.FINISHED for i in instances)
    summary = (
        f"crash test (messages, {store_backend}): instances={len(instances)} "
        f"servers={len(servers)} kills={kills} answered={answered} retries={senders.retries} "
        f"lost={len(lost)} not_once={len(doubled)} unfinished={unfinished} "
        f"settled={settled:.1f}s"
    )
    print(f"\n{summary}")
    record_property("crash_messages_summary", summary)
    assert len(kills) == 2 and answered == INSTANCES, summary
    assert lost == [] and doubled == [] and unfinished == 0, f"{summary}\n{cluster.logs()}"
