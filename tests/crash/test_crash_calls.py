"""Crash test with call activities: the process that resumes parents SIGKILLed between the
children's ends and the parents' resumption.

Parents each call a child that waits at a user task. Once every child waits, the worker is
stopped and every child is approved over HTTP: each child is FINISHED and its parent still
waits, with a ``child_ended`` job queued, which is the window the test aims at. Then the
process that runs jobs (on SQLite ``serve`` with its embedded worker, on PostgreSQL
``procflow worker``) is started and SIGKILLed twice while it resumes the parents, and
restarted. Afterwards every parent FINISHED with its child's data merged, heard its child's
end exactly once (one ``child_ended`` audit event, one ``instance_finished``), has exactly
one child, and no job is left.
"""

from __future__ import annotations

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

PARENTS = 150
LEASE = "2"
WORKSPACE = "c4a5e000-0000-4000-8000-000000000006"
APP = "c4a5e000-0000-4000-8000-0000000000a6"
RUNTIME = "/api/runtime"
PARENT = """
name: parent
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: child}
  - {id: done, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: done}
"""
CHILD = """
name: child
nodes:
  - {id: begin, type: start}
  - {id: review, type: userTask, actions: [approve]}
  - {id: done, type: end}
flows:
  - {from: begin, to: review}
  - {from: review, to: done}
"""


def _runner(cluster: Cluster, backend: str) -> Service:
    """What runs the jobs: serve's embedded worker on SQLite, a worker on PostgreSQL."""
    if backend == "sqlite":
        return cluster.add_server(PROCFLOW_EMBEDDED_WORKER="1", PROCFLOW_JOB_LEASE_SECONDS=LEASE)
    return cluster.add_worker("--lease", LEASE, "--batch", "8")


def _count(store: Store, name: str, state: InstanceState | None = None) -> int:
    query = InstanceQuery(UUID(WORKSPACE), definition_name=name, limit=10_000,
                          states=(state,) if state else ())  # fmt: skip
    with store.read_transaction() as txn:
        return len(txn.search_instances(query))


def _until(probe: Any, timeout: float, pause: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(pause)
    return False


def _approve_all(http: httpx.Client, store: Store) -> None:
    query = InstanceQuery(UUID(WORKSPACE), definition_name="child", limit=10_000)
    with store.read_transaction() as txn:
        children = txn.search_instances(query)
    for child in children:
        [token] = child.live_tokens
        path = f"{RUNTIME}/process/{child.uuid}/token/{token.uuid}/action/approve/execute"
        response = http.post(path, json={"approvedBy": str(child.calling.parent_uuid)})
        assert response.status_code == 200, response.text


def _kill_twice(runner: Service, store: Store) -> list[str]:
    """SIGKILL the runner while it resumes parents (once a quarter, then half of them are
    resumed), restarting it each time: the rest are between their child's end and their
    own resumption, some with their job claimed by the killed process."""
    kills: list[str] = []
    for share in (0.25, 0.5):
        runner.start()
        target = int(PARENTS * share)
        _until(lambda t=target: _count(store, "parent", InstanceState.FINISHED) >= t, 60, 0.005)
        runner.kill()
        kills.append(f"{runner.name}@{_count(store, 'parent', InstanceState.FINISHED)}/{PARENTS}")
    runner.start()
    return kills


def test_kill_9_between_child_end_and_parent_resume_resumes_each_parent_once(
    cluster: Cluster, tmp_path: Path, store_backend: str, store_url: str, record_property: Any
) -> None:
    for name, text in (("parent.yaml", PARENT), ("child.yaml", CHILD)):
        (tmp_path / name).write_text(text)
    cluster.run("deploy", str(tmp_path), "--workspace", WORKSPACE, "--app", APP, "--activate")
    token = cluster.run("token", "--workspace", WORKSPACE).strip()
    headers = {"Authorization": f"Bearer {token}"}
    front = cluster.add_server()  # no worker of its own: it starts and approves
    runner = _runner(cluster, store_backend)
    store = open_test_store(store_backend, store_url)
    try:
        server = runner if store_backend == "sqlite" else front
        if store_backend != "sqlite":
            front.start()
        runner.start()
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=15) as http:
            path = f"{RUNTIME}/wks/{WORKSPACE}/app/{APP}/process-name/parent/start"
            for n in range(PARENTS):
                assert http.post(path, json={"n": n}).status_code == 200
        assert _until(lambda: _count(store, "child", InstanceState.STARTED) == PARENTS, 60)
        runner.stop()
        if store_backend == "sqlite":
            front.start()
            front.wait_ready()
        with httpx.Client(base_url=front.base_url, headers=headers, timeout=15) as http:
            _approve_all(http, store)
        if store_backend == "sqlite":
            front.stop()
        assert _count(store, "child", InstanceState.FINISHED) == PARENTS
        assert _count(store, "parent", InstanceState.FINISHED) == 0  # all in the window
        began = time.monotonic()
        kills = _kill_twice(runner, store)
        settled = _until(lambda: _count(store, "parent", InstanceState.FINISHED) == PARENTS, 60)
        took = time.monotonic() - began
        parents, heard, finished, children, jobs = _inspect(store)
    finally:
        store.close()
    not_once = [p for p in parents if heard[p] != 1 or finished[p] != 1 or children[p] != 1]
    unmerged = [p for p, data in parents.items() if data.get("approvedBy") != str(p)]
    summary = (
        f"crash test (call activities, {store_backend}): parents={PARENTS} kills={kills} "
        f"settled={settled} in {took:.1f}s not_once={len(not_once)} unmerged={len(unmerged)} "
        f"jobs_left={jobs}"
    )
    print(f"\n{summary}")
    record_property("crash_calls_summary", summary)
    assert settled and len(parents) == PARENTS, f"{summary}\n{cluster.logs()}"
    assert not_once == [] and unmerged == [] and jobs == 0, f"{summary}\n{cluster.logs()}"


def _inspect(
    store: Store,
) -> tuple[dict[UUID, dict[str, Any]], Counter[UUID], Counter[UUID], Counter[UUID], int]:
    query = InstanceQuery(UUID(WORKSPACE), definition_name="parent", limit=10_000)
    heard: Counter[UUID] = Counter()
    finished: Counter[UUID] = Counter()
    children: Counter[UUID] = Counter()
    jobs = 0
    with store.read_transaction() as txn:
        parents = {p.uuid: p.data for p in txn.search_instances(query)}
        for uuid in parents:
            types = [event.type for event in txn.list_audit(uuid)]
            heard[uuid], finished[uuid] = (
                types.count("child_ended"),
                types.count("instance_finished"),
            )
            kids = txn.children_of(uuid)
            children[uuid] = len(kids)
            jobs += len(txn.list_jobs(uuid)) + sum(len(txn.list_jobs(k.uuid)) for k in kids)
    return parents, heard, finished, children, jobs
