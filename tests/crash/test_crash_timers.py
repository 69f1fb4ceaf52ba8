"""Crash test with timers: the processes that fire them SIGKILLed while timers are due.

One ``serve`` takes ``INSTANCES`` idempotent starts of a process that waits PT1S, PT2S or
PT3S (computed from the start body) and then runs an async task. While the timers come
due, what fires them is killed with SIGKILL and restarted, twice: on PostgreSQL each of two
``procflow worker`` processes, on SQLite ``serve`` itself (its embedded worker).
Afterwards every timer fired exactly once (none lost, none doubled), every instance
finished and no job is left; how late the timers fired is reported (p50, p99, max), with
the kills and the lease they cost.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from datetime import datetime
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

INSTANCES = 300
SQLITE_INSTANCES = 120
CLIENT_THREADS = 8
LEASE_SECONDS = 3
WORKER_ARGS = ("--lease", str(LEASE_SECONDS), "--batch", "8")
# Seconds after the first start at which worker 0, then worker 1, is killed.
KILLS = ((1.5, 0), (3.0, 1))
SETTLE_SECONDS = 60.0

WORKSPACE = "c4a5e000-0000-4000-8000-000000000003"
APP = "c4a5e000-0000-4000-8000-0000000000a3"
START_PATH = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/timed/start"
TIMED = """
name: timed
nodes:
  - {id: begin, type: start}
  - {id: pause, type: timer, timer: {duration: "='PT' + string(1 + input.n % 3) + 'S'"}}
  - {id: stamp, type: task, async: true, rules: [{set: {stamped: "true"}}]}
  - {id: done, type: end}
flows:
  - {from: begin, to: pause}
  - {from: pause, to: stamp}
  - {from: stamp, to: done}
"""


def _kill(targets: list[Service], began: float, kills: list[str]) -> None:
    for at, index in KILLS:
        target = targets[index % len(targets)]
        time.sleep(max(0.0, began + at - time.monotonic()))
        target.kill()
        kills.append(f"{target.name}@{at}s")
        time.sleep(0.3)
        target.start()


def _start_services(cluster: Cluster, backend: str) -> tuple[Service, list[Service]]:
    """The server, and what the test kills: the workers, or on SQLite the server itself."""
    lease = str(LEASE_SECONDS)
    if backend == "sqlite":
        server = cluster.add_server(PROCFLOW_JOB_LEASE_SECONDS=lease, PROCFLOW_EMBEDDED_WORKER="1")
        server.start()
        server.wait_ready()
        return server, [server]
    server = cluster.add_server()
    workers = [cluster.add_worker(*WORKER_ARGS), cluster.add_worker(*WORKER_ARGS)]
    for service in (server, *workers):
        service.start()
    server.wait_ready()
    return server, workers


def _settle(store: Store, deadline: float) -> list[Any]:
    """The instances, once every one finished and no job is left (or the deadline passed)."""
    query = InstanceQuery(UUID(WORKSPACE), definition_name="timed", limit=10_000)
    while True:
        with store.read_transaction() as txn:
            instances = txn.search_instances(query)
            jobs = sum(len(txn.list_jobs(i.uuid)) for i in instances)
        finished = all(i.state is InstanceState.FINISHED for i in instances)
        if (finished and jobs == 0) or time.monotonic() > deadline:
            return instances
        time.sleep(0.3)


def _firings(store: Store, instances: list[Any]) -> tuple[dict[str, int], list[float]]:
    """Per instance how many times its timer fired; and each firing's lateness (s)."""
    fired: dict[str, int] = {}
    lateness: list[float] = []
    with store.read_transaction() as txn:
        for instance in instances:
            audit = txn.list_audit(instance.uuid)
            [due] = [e.details["dueAt"] for e in audit if e.type == "timer_scheduled"]
            firings = [e.at for e in audit if e.type == "timer_fired"]
            fired[str(instance.uuid)] = len(firings)
            lateness += [(at - datetime.fromisoformat(due)).total_seconds() for at in firings]
    return fired, lateness


def test_kill_9_while_timers_are_due_fires_each_exactly_once(
    cluster: Cluster, tmp_path: Path, store_backend: str, store_url: str, record_property: Any
) -> None:
    total = SQLITE_INSTANCES if store_backend == "sqlite" else INSTANCES
    definition = tmp_path / "timed.yaml"
    definition.write_text(TIMED)
    cluster.run("deploy", str(definition), "--workspace", WORKSPACE, "--app", APP, "--activate")
    server, targets = _start_services(cluster, store_backend)
    token = cluster.run("token", "--workspace", WORKSPACE, "--role", "start").strip()
    load = StartLoad(
        base_urls=[server.base_url], path=START_PATH, token=token, total=total,
        threads=CLIENT_THREADS, run_id=uuid.uuid4().hex[:8], deadline=time.monotonic() + 30,
    )  # fmt: skip
    kills: list[str] = []
    began = time.monotonic()
    chaos = threading.Thread(target=_kill, args=(targets, began, kills), daemon=True)
    chaos.start()
    result = load.run()
    chaos.join(30)
    assert not result.failures, f"{result.failures[:5]}\n{cluster.logs()}"
    assert len(result.acknowledged) == total
    server.wait_ready()

    store = open_test_store(store_backend, store_url)
    try:
        instances = _settle(store, time.monotonic() + SETTLE_SECONDS)
        settled = time.monotonic() - began
        fired, lateness = _firings(store, instances)
        with store.read_transaction() as txn:
            jobs_left = sum(len(txn.list_jobs(i.uuid)) for i in instances)
    finally:
        store.close()

    unfinished = sum(1 for i in instances if i.state is not InstanceState.FINISHED)
    stamped = sum(1 for i in instances if i.data.get("stamped") is True)
    lost = sorted(u for u in result.acknowledged.values() if fired.get(u, 0) == 0)
    doubled = sorted(u for u, count in fired.items() if count > 1)
    ordered = sorted(lateness) or [float("nan")]
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    summary = (
        f"crash test (timers, {store_backend}): instances={len(instances)} kills={kills} "
        f"lease={LEASE_SECONDS}s retries={result.retries} lost={len(lost)} "
        f"doubled={len(doubled)} unfinished={unfinished} jobs_left={jobs_left} "
        f"late_p50={statistics.median(ordered):.3f}s late_p99={p99:.3f}s "
        f"late_max={ordered[-1]:.3f}s settled={settled:.1f}s"
    )
    print(f"\n{summary}")
    record_property("crash_timers_summary", summary)
    assert len(kills) == len(KILLS), summary
    assert lost == [], f"{summary}\nnever fired: {lost[:5]}"
    assert doubled == [], f"{summary}\nfired twice: {doubled[:5]}"
    assert len(instances) == total, summary
    assert unfinished == 0 and jobs_left == 0, f"{summary}\n{cluster.logs()}"
    assert stamped == total, summary
