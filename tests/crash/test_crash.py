"""Crash test: two ``serve`` and two ``worker`` processes on one PostgreSQL, SIGKILLed mid-load.

A client starts ``INSTANCES`` instances of a three-async-task process through both servers,
each with its own Idempotency-Key, retrying with the same key on connection errors and 5xx.
While it runs, one server and one worker are killed with SIGKILL and restarted, twice (a
different pair each round). Afterwards every acknowledged start must exist, no key may have
produced two instances, every instance must finish, and the audit log must show each task
applied exactly once; the jobs table must be empty.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.crash.cluster import Cluster, Service
from tests.crash.load import LoadResult, StartLoad
from tests.runtime.conftest import ASYNC_CHAIN

# postgres_only (tests/conftest.py): the SQLite variant of this test is not generated.
pytestmark = [pytest.mark.crash, pytest.mark.postgres_only]

INSTANCES = 600
CLIENT_THREADS = 12
# Each round kills (server i, worker i) once the client has this share of its answers.
KILL_ROUNDS = ((0.2, 0), (0.55, 1))
# Short, so the jobs a killed worker held are claimed again within the test's budget.
WORKER_ARGS = ("--lease", "5", "--batch", "8")
LOAD_SECONDS = 60.0
FINISH_SECONDS = 60.0
TASKS = 3

WORKSPACE = "c4a5e000-0000-4000-8000-000000000001"
APP = "c4a5e000-0000-4000-8000-0000000000a1"
START_PATH = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/async_chain/start"


@dataclass
class Chaos:
    """SIGKILLs a (server, worker) pair at each threshold and restarts both in the background,
    so the next round can strike while the client is still sending (even before the pair
    of the previous round is back: then no server answers for a moment)."""

    cluster: Cluster
    result: LoadResult
    total: int
    kills: list[str] = field(default_factory=list)
    # Jobs the killed workers held at the moment of the kill: only lease expiry frees them.
    orphaned_jobs: int = 0
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _restarts: list[threading.Thread] = field(default_factory=list)

    def run(self) -> None:
        for share, index in KILL_ROUNDS:
            if not self._wait_for(share):
                return
            pair = (self.cluster.servers[index], self.cluster.workers[index])
            answered = self.result.done
            worker_pid = pair[1].pid
            for service in pair:
                service.kill()
                self.kills.append(f"{service.name}@{answered}/{self.total}")
            self.orphaned_jobs += self._claims_of(worker_pid)
            restart = threading.Thread(target=self._restart, args=pair, daemon=True)
            restart.start()
            self._restarts.append(restart)

    def _claims_of(self, pid: int) -> int:
        # Worker ids are "host:pid:random" (WorkerSettings.worker_id).
        with psycopg.connect(conninfo(self.cluster), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM jobs WHERE locked_by LIKE %s AND locked_until > now()",
                (f"%:{pid}:%",),
            ).fetchone()
        return int(row[0]) if row else 0

    def join(self) -> None:
        for restart in self._restarts:
            restart.join(60)

    def _restart(self, server: Service, worker: Service) -> None:
        try:
            time.sleep(0.5)  # let the clients run into the dead server
            worker.start()
            server.start()
            server.wait_ready()
        except Exception as error:  # reported by the test, not lost in a thread
            self.errors.append(repr(error))

    def _wait_for(self, share: float) -> bool:
        while self.result.done < share * self.total:
            if self.stop.wait(0.01):
                return False
        return True


def conninfo(cluster: Cluster) -> str:
    return cluster.database_url.replace("postgresql+psycopg", "postgresql", 1)


def _instance_rows(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    rows = conn.execute(
        "SELECT uuid::text, state, data FROM process_instances WHERE definition_name = %s",
        ("async_chain",),
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def _wait_until_settled(conn: psycopg.Connection[Any], deadline: float) -> tuple[int, int]:
    """Poll until every instance is FINISHED and no job is left; returns (unfinished, jobs)."""
    while True:
        unfinished = conn.execute(
            "SELECT count(*) FROM process_instances WHERE state <> 'FINISHED'"
        ).fetchone()
        jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()
        assert unfinished is not None and jobs is not None
        if (unfinished[0] == 0 and jobs[0] == 0) or time.monotonic() > deadline:
            return unfinished[0], jobs[0]
        time.sleep(0.2)


def _audit_counts(conn: psycopg.Connection[Any]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    rows = conn.execute(
        "SELECT instance_uuid::text, type, count(*) FROM audit_events GROUP BY 1, 2"
    )
    for instance, kind, count in rows:
        counts.setdefault(instance, Counter())[kind] = count
    return counts


def _created_per_key(conn: psycopg.Connection[Any]) -> Counter[str]:
    rows = conn.execute(
        "SELECT details->>'idempotencyKey', count(*) FROM audit_events"
        " WHERE type = 'instance_created' GROUP BY 1"
    )
    return Counter({key: count for key, count in rows if key is not None})


def _start_cluster(cluster: Cluster) -> tuple[list[Service], list[Service]]:
    servers = [cluster.add_server(), cluster.add_server()]
    workers = [cluster.add_worker(*WORKER_ARGS), cluster.add_worker(*WORKER_ARGS)]
    # Both servers start at once on an empty data directory and an unseeded database: the
    # first-start path (JWT secret, demo workspace) must be safe under concurrency.
    for service in (*servers, *workers):
        service.start()
    for server in servers:
        server.wait_ready()
    return servers, workers


def test_kill_9_servers_and_workers_loses_and_duplicates_nothing(
    cluster: Cluster,
    tmp_path: Path,
    record_property: Any,
) -> None:
    began = time.monotonic()
    definition = tmp_path / "async_chain.yaml"
    definition.write_text(ASYNC_CHAIN)
    cluster.run("deploy", str(definition), "--workspace", WORKSPACE, "--app", APP, "--activate")
    servers, _ = _start_cluster(cluster)
    token = cluster.run("token", "--workspace", WORKSPACE, "--role", "start").strip()

    load = StartLoad(
        base_urls=[s.base_url for s in servers],
        path=START_PATH,
        token=token,
        total=INSTANCES,
        threads=CLIENT_THREADS,
        run_id=uuid.uuid4().hex[:8],
        deadline=time.monotonic() + LOAD_SECONDS,
    )
    chaos = Chaos(cluster, load.result, INSTANCES)
    chaos_thread = threading.Thread(target=chaos.run, daemon=True)
    chaos_thread.start()
    load_began = time.monotonic()
    result = load.run()
    load_seconds = time.monotonic() - load_began
    chaos.stop.set()
    chaos_thread.join(30)
    chaos.join()

    assert not chaos.errors, f"{chaos.errors}\n{cluster.logs()}"
    assert not result.failures, f"{result.failures[:10]}\n{cluster.logs()}"
    assert len(result.acknowledged) == INSTANCES
    assert len(chaos.kills) == 2 * len(KILL_ROUNDS), chaos.kills
    assert all(s.running for s in cluster.servers + cluster.workers), cluster.logs()

    with psycopg.connect(conninfo(cluster), autocommit=True) as conn:
        unfinished, jobs_left = _wait_until_settled(conn, time.monotonic() + FINISH_SECONDS)
        settled_seconds = time.monotonic() - load_began
        instances = _instance_rows(conn)
        audit = _audit_counts(conn)
        created = _created_per_key(conn)
        keys: dict[str, str] = dict(
            conn.execute(
                "SELECT key, instance_uuid::text FROM idempotency_keys WHERE workspace_id = %s",
                (WORKSPACE,),
            ).fetchall()
        )

    lost = sorted(set(result.acknowledged.values()) - set(instances))
    duplicated = sum(count - 1 for count in created.values() if count > 1)
    duplicated += len(instances) - len(set(result.acknowledged.values()))
    wrong_audit = {
        uuid_: dict(audit.get(uuid_, {}))
        for uuid_ in instances
        if audit.get(uuid_, Counter())["task_executed"] != TASKS
        or audit.get(uuid_, Counter())["instance_finished"] != 1
        or audit.get(uuid_, Counter())["job_enqueued"] != TASKS
    }
    wrong_data = [u for u, (_, data) in instances.items() if data.get("s3") != TASKS]
    wall = time.monotonic() - began
    summary = (
        f"crash test: instances={len(instances)} kills={len(chaos.kills)} "
        f"({', '.join(chaos.kills)}) orphaned_jobs={chaos.orphaned_jobs} "
        f"retries={result.retries} replayed={result.replayed} "
        f"lost={len(lost)} duplicated={duplicated} unfinished={unfinished} "
        f"jobs_left={jobs_left} load={load_seconds:.1f}s settled={settled_seconds:.1f}s "
        f"wall={wall:.1f}s"
    )
    print(f"\n{summary}")
    record_property("crash_summary", summary)
    for name, value in (
        ("instances", len(instances)),
        ("kills", len(chaos.kills)),
        ("retries", result.retries),
        ("replayed", result.replayed),
        ("orphaned_jobs", chaos.orphaned_jobs),
        ("lost", len(lost)),
        ("duplicated", duplicated),
        ("wall_seconds", round(wall, 1)),
    ):
        record_property(f"crash_{name}", value)

    assert lost == [], f"{summary}\nacknowledged but missing: {lost[:10]}"
    assert duplicated == 0, f"{summary}\nkeys created twice: {created.most_common(5)}"
    assert len(instances) == INSTANCES, summary
    assert set(created) == set(result.acknowledged), summary
    assert keys == result.acknowledged, f"{summary}\nkeys answer other instances than acked"
    assert unfinished == 0 and jobs_left == 0, f"{summary}\n{cluster.logs()}"
    assert wrong_audit == {}, f"{summary}\n{list(wrong_audit.items())[:5]}"
    assert wrong_data == [], summary
