"""Scenario 3: starts over HTTP against a real ``procflow serve`` process, driven by wrk
(32 connections, loopback, bounded duration, a Lua script for the POST body): S1 start and
S3 copyDataFrom, on SQLite and on PostgreSQL.

The reference is ``GET /health/live`` on the same server, driven the same way and taking
turns with the start in every run: what the HTTP stack itself (uvicorn, the event loop,
FastAPI routing) serves on this machine, so that the ratio says what the start adds."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.common import RUNS, Row, Stat, make_data, seconds
from bench.procflow_side import Deployment, deployment
from procflow.runtime.access import Role
from procflow.runtime.tokens import TokenIssuer, load_or_create_secret

# S1's goal per store, as a share of /health/live (issue 15).
HTTP_GOALS = {"sqlite": 0.30, "postgres": 0.20}
CONNECTIONS = 32
DURATION = 4.0

LUA_POST = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"duration_us\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"errors\\": %d, \\"non2xx\\": %d}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run(workdir: Path, with_postgres: bool) -> list[Row]:
    rows: list[Row] = []
    for kind in ("sqlite", "postgres") if with_postgres else ("sqlite",):
        with deployment(kind, workdir) as dep:
            rows.extend(_against_server(dep, kind, workdir))
    return rows


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    token: str
    targets: dict[str, tuple[str, str]]
    live_url: str


@contextmanager
def serving(dep: Deployment, kind: str, workdir: Path, replica: int = 0) -> Iterator[Server]:
    """``procflow serve`` on the deployment's database, a token that may start and read in
    its workspace, and the two target URLs with their bodies. ``replica``: several servers
    on the same database, each with its own data directory (and token)."""
    data_dir = workdir / f"serve-{kind}-{replica}"
    port = _free_port()
    env = {
        **os.environ,
        "PROCFLOW_DATA_DIR": str(data_dir),
        "PROCFLOW_DATABASE_URL": dep.url,
        "PROCFLOW_PORT": str(port),
        "PROCFLOW_DEMO": "0",
        "PROCFLOW_EMBEDDED_WORKER": "0",
    }
    token = TokenIssuer(load_or_create_secret(data_dir), "procflow", "procflow").mint(
        "bench", {str(dep.workspace_id): [Role.START, Role.READ]}
    )
    body = orjson.dumps(make_data(1024)).decode()
    source = dep.start("straight", make_data(1024)).instance.uuid
    base = f"http://127.0.0.1:{port}/api/runtime/wks/{dep.workspace_id}/app/{dep.app_id}"
    targets = {
        "S1 start": (f"{base}/process-name/bench_straight/start", body),
        "S3 copyDataFrom": (
            f"{base}/process-name/bench_straight/start/copyDataFrom/{source}",
            "{}",
        ),
    }
    with (workdir / f"serve-{kind}-{replica}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "procflow.cli.main", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            _wait_ready(port, process)
            yield Server(process, token, targets, f"http://127.0.0.1:{port}/health/live")
        finally:
            process.terminate()
            process.wait(timeout=30)


def _against_server(dep: Deployment, kind: str, workdir: Path) -> list[Row]:
    with serving(dep, kind, workdir) as server:
        return [
            _measure(kind, name, url, payload, server, workdir)
            for name, (url, payload) in server.targets.items()
        ]


def profile_server(
    dep: Deployment,
    kind: str,
    workdir: Path,
    record: Callable[[int, int], subprocess.Popen[bytes]],
    duration: int = 6,
) -> None:
    """Run ``record(pid, seconds)`` (a profiler) on the server while wrk drives S1 starts."""
    with serving(dep, kind, workdir) as server:
        url, payload = server.targets["S1 start"]
        script = _script(workdir, kind, "profile", payload, server.token)
        subprocess.run(_wrk(script, url, 1), capture_output=True, check=True)
        profiler = record(server.process.pid, duration)
        subprocess.run(_wrk(script, url, duration), capture_output=True, check=True)
        profiler.wait(timeout=60)


def script_for(workdir: Path, name: str, payload: str, token: str) -> Path:
    return _script(workdir, "any", name, payload, token)


def wrk_command(script: Path, url: str, duration: int, connections: int = CONNECTIONS) -> list[str]:
    return _wrk(script, url, duration, connections)


def wrk_rate(stdout: str) -> float:
    runs = WrkRuns([], [], [])
    runs.add(stdout)
    return runs.rates[0]


def _script(workdir: Path, kind: str, name: str, payload: str, token: str) -> Path:
    script = workdir / f"wrk-{kind}-{name}.lua"
    script.write_text(LUA_POST.format(body=json.dumps(payload), token=token) + LUA_DONE.format())
    return script


def _get_script(workdir: Path, kind: str) -> Path:
    script = workdir / f"wrk-{kind}-live.lua"
    script.write_text(LUA_DONE.format())
    return script


@dataclass
class WrkRuns:
    rates: list[float]
    p50s: list[float]
    p99s: list[float]
    failures: int = 0

    def add(self, stdout: str) -> None:
        line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
        found = json.loads(line.removeprefix("RESULT "))
        self.rates.append(found["requests"] / (found["duration_us"] / 1e6))
        self.p50s.append(found["p50_us"] / 1000)
        self.p99s.append(found["p99_us"] / 1000)
        self.failures += found["errors"] + found["non2xx"]


def _wrk(script: Path, url: str, duration: int, connections: int = CONNECTIONS) -> list[str]:
    options = ["-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script)]
    return [wrk_path() or "wrk", *options, url]


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("procflow serve exited; see its log in the bench work directory")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("procflow serve did not become ready in 60 s")


def _measure(kind: str, name: str, url: str, payload: str, server: Server, workdir: Path) -> Row:
    script = _script(workdir, kind, name.split(maxsplit=1)[0], payload, server.token)
    live_script = _get_script(workdir, kind)
    duration = max(1, round(seconds(DURATION)))
    command, live = _wrk(script, url, duration), _wrk(live_script, server.live_url, duration)
    subprocess.run(_wrk(script, url, 1), capture_output=True, check=True)  # warm-up
    subprocess.run(_wrk(live_script, server.live_url, 1), capture_output=True, check=True)
    ours_runs, live_runs = WrkRuns([], [], []), WrkRuns([], [], [])
    for _ in range(RUNS):
        # Taking turns: a noisy moment of the shared machine hits both figures.
        ours_runs.add(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        live_runs.add(subprocess.run(live, capture_output=True, text=True, check=True).stdout)
    ours, reference = Stat(ours_runs.rates, "req/s"), Stat(live_runs.rates, "req/s")
    store = "SQLite" if kind == "sqlite" else "PostgreSQL"
    ratio = ours.median / reference.median
    p50, p99 = Stat(ours_runs.p50s, "ms"), Stat(ours_runs.p99s, "ms")
    failures = ours_runs.failures + live_runs.failures
    goal = HTTP_GOALS[kind] if name == "S1 start" else None
    return Row(
        scenario=f"3 HTTP {name}, 1 KB, {store}, wrk {CONNECTIONS} connections",
        procflow=ours,
        peer=reference,
        peer_name="GET /health/live, same server",
        ratio=ratio,
        goal=f">= {goal:.0%} of /health/live" if goal is not None else "(no goal; reported)",
        met=(ratio >= goal and failures == 0) if goal is not None else None,
        notes=f"p50 {p50.show()}, p99 {p99.show()}; errors + non-2xx: {failures}",
        extra={"p50_ms": p50.as_json(), "p99_ms": p99.as_json(), "failures": failures},
    )
