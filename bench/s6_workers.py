"""Scenario 6: external tasks and messages over HTTP against a real ``procflow serve``.

One client, sequential requests on one keep-alive connection, the same store:

- external task round trip (fetch-and-lock of one task + complete) per task, against a
  plain start (S1) of a process that ends at once: goal at most 2x;
- message correlation (one waiting instance, by name and key), against a user-task action
  execute: goal at most 1.5x.

Its rows are part of ``python -m bench.run`` (scenario 6); run alone, it prints its own table.

    python -m bench.s6_workers      (PROCFLOW_BENCH_S6_N: requests per case, default 300)

Writes bench/results/workers.json and prints a Markdown table (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx

from bench.common import RESULTS_DIR, Row, Stat, pg_available
from bench.procflow_side import Deployment, deployment
from bench.s3_http import _free_port, _wait_ready
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM, Role
from procflow.runtime.tokens import TokenIssuer, load_or_create_secret

N = int(os.environ.get("PROCFLOW_BENCH_S6_N", "300"))
GOALS = {"external task round trip / start": 2.0, "message correlation / action": 1.5}

MODELS = {
    "w_plain.yaml": """
name: w_plain
nodes: [{id: begin, type: start}, {id: done, type: end}]
flows: [{from: begin, to: done}]
""",
    "w_external.yaml": """
name: w_external
nodes: [{id: begin, type: start}, {id: work, type: task, topic: bench}, {id: done, type: end}]
flows: [{from: begin, to: work}, {from: work, to: done}]
""",
    "w_user.yaml": """
name: w_user
nodes: [{id: begin, type: start}, {id: ask, type: userTask, actions: [ok]}, {id: done, type: end}]
flows: [{from: begin, to: ask}, {from: ask, to: done}]
""",
    "w_message.yaml": """
name: w_message
nodes:
  - {id: begin, type: start}
  - {id: wait, type: message, message: {name: bench, correlationKey: input.n}}
  - {id: done, type: end}
flows: [{from: begin, to: wait}, {from: wait, to: done}]
""",
}


@contextmanager
def serving(dep: Deployment, kind: str, workdir: Path) -> Iterator[tuple[httpx.Client, str]]:
    app = deploy.create_app(dep.store, SYSTEM, dep.workspace_id, "bench-workers")
    files = {name: text.encode() for name, text in MODELS.items()}
    deploy.deploy_build(dep.store, SYSTEM, dep.workspace_id, app.id, files, activate=True,
                        now=datetime.now(UTC))  # fmt: skip
    data_dir = workdir / f"serve-s6-{kind}"
    port = _free_port()
    env = {
        **os.environ,
        "PROCFLOW_DATA_DIR": str(data_dir),
        "PROCFLOW_DATABASE_URL": dep.url,
        "PROCFLOW_PORT": str(port),
        "PROCFLOW_DEMO": "0",
        "PROCFLOW_EMBEDDED_WORKER": "0",
    }
    roles = [Role.START, Role.READ, Role.ACTION, Role.WORKER]
    token = TokenIssuer(load_or_create_secret(data_dir), "procflow", "procflow").mint(
        "bench", {str(dep.workspace_id): roles}
    )
    base = f"http://127.0.0.1:{port}"
    with (workdir / f"serve-s6-{kind}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "procflow.cli.main", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            _wait_ready(port, process)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                yield client, f"/api/runtime/wks/{dep.workspace_id}/app/{app.id}/process-name"
        finally:
            process.terminate()
            process.wait(timeout=30)


def _timed(calls: list[Callable[[], None]]) -> list[float]:
    """Milliseconds of every call."""
    took = []
    for call in calls:
        began = time.perf_counter()
        call()
        took.append((time.perf_counter() - began) * 1000)
    return took


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def measure(client: httpx.Client, starts: str, workspace: str) -> dict[str, list[float]]:
    """Milliseconds of every call of each case."""

    def start(process: str, body: dict[str, Any]) -> Any:
        return _ok(client.post(f"{starts}/{process}/start", json=body))

    plain = _timed([lambda: start("w_plain", {}) for _ in range(N)])
    for _ in range(N):
        start("w_external", {})
    fetch = {"workerId": "bench", "maxTasks": 1,
             "topics": [{"topicName": "bench", "lockDuration": 60_000}]}  # fmt: skip

    parts: dict[str, list[float]] = {"fetch": [], "complete": []}

    def round_trip() -> None:
        began = time.perf_counter()
        [task] = _ok(client.post(f"/api/runtime/wks/{workspace}/external-tasks/fetch-and-lock",
                                 json=fetch))  # fmt: skip
        fetched = time.perf_counter()
        _ok(client.post(f"/api/runtime/external-tasks/{task['id']}/complete",
                        json={"workerId": "bench", "data": {"done": True}}), 204)  # fmt: skip
        parts["fetch"].append((fetched - began) * 1000)
        parts["complete"].append((time.perf_counter() - fetched) * 1000)

    external = _timed([round_trip for _ in range(N)])
    tokens = [(s["uuid"], s["tokens"][0]["uuid"]) for s in (start("w_user", {}) for _ in range(N))]

    def act(uuid: str, token: str) -> Callable[[], None]:
        path = f"/api/runtime/process/{uuid}/token/{token}/action/ok/execute"
        return lambda: _ok(client.post(path, json={"ok": True}))

    action = _timed([act(uuid, token) for uuid, token in tokens])
    for n in range(N):
        start("w_message", {"n": n})

    def correlate(n: int) -> Callable[[], None]:
        body = {"messageName": "bench", "correlationKey": str(n), "data": {"ok": True}}
        return lambda: _ok(client.post(f"/api/runtime/wks/{workspace}/messages", json=body))

    message = _timed([correlate(n) for n in range(N)])
    return {
        "start_ms": plain,
        "external_round_trip_ms": external,
        "fetch_ms": parts["fetch"],
        "complete_ms": parts["complete"],
        "action_ms": action,
        "message_ms": message,
    }


def rows_of(kind: str, calls: dict[str, list[float]]) -> list[Row]:
    """The two figures of one store as rows of the results table (per-call min/median/max)."""
    store = "SQLite" if kind == "sqlite" else "PostgreSQL"
    start, external = Stat(calls["start_ms"], "ms"), Stat(calls["external_round_trip_ms"], "ms")
    action, message = Stat(calls["action_ms"], "ms"), Stat(calls["message_ms"], "ms")
    fetch, complete = Stat(calls["fetch_ms"], "ms"), Stat(calls["complete_ms"], "ms")
    external_goal = GOALS["external task round trip / start"]
    message_goal = GOALS["message correlation / action"]
    return [
        Row(
            scenario=f"6 external task round trip (fetch-and-lock + complete) vs start, {store}",
            procflow=external,
            peer=start,
            peer_name="plain S1 start, same server",
            ratio=external.median / start.median,
            goal=f"<= {external_goal:g}x",
            met=external.median / start.median <= external_goal,
            notes=f"fetch {fetch.show()}, complete {complete.show()}; {N} sequential calls",
        ),
        Row(
            scenario=f"6 message correlation vs user-task action, {store}",
            procflow=message,
            peer=action,
            peer_name="action execute, same server",
            ratio=message.median / action.median,
            goal=f"<= {message_goal:g}x",
            met=message.median / action.median <= message_goal,
        ),
    ]


def run(workdir: Path, with_postgres: bool) -> list[Row]:
    rows: list[Row] = []
    for kind in ("sqlite", "postgres") if with_postgres else ("sqlite",):
        with deployment(kind, workdir) as dep, serving(dep, kind, workdir) as (client, starts):
            rows += rows_of(kind, measure(client, starts, str(dep.workspace_id)))
    return rows


def main() -> None:
    results: dict[str, Any] = {"n": N}
    kinds = ("sqlite", "postgres") if pg_available() else ("sqlite",)
    with TemporaryDirectory(prefix="procflow-bench-s6-") as work:
        for kind in kinds:
            with deployment(kind, Path(work)) as dep, serving(dep, kind, Path(work)) as (c, s):
                calls = measure(c, s, str(dep.workspace_id))
            figures = {name: statistics.median(values) for name, values in calls.items()}
            figures["external task round trip / start"] = (
                figures["external_round_trip_ms"] / figures["start_ms"]
            )
            figures["message correlation / action"] = figures["message_ms"] / figures["action_ms"]
            results[kind] = figures
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "workers.json").write_text(json.dumps(results, indent=2) + "\n")
    print(
        "| store | start | external round trip | ratio (goal <= 2x) | action | message "
        "| ratio (goal <= 1.5x) |\n|---|---|---|---|---|---|---|"
    )
    for kind in kinds:
        f = results[kind]
        print(
            f"| {kind} | {f['start_ms']:.2f} ms | {f['external_round_trip_ms']:.2f} ms | "
            f"{f['external task round trip / start']:.2f}x | {f['action_ms']:.2f} ms | "
            f"{f['message_ms']:.2f} ms | {f['message correlation / action']:.2f}x |"
        )


if __name__ == "__main__":
    main()
