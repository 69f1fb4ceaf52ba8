"""Scenario 3: starts over HTTP against a real ``procflow serve`` process, driven by wrk
(32 connections, loopback, bounded duration, a Lua script for the POST body): S1 start and
S3 copyDataFrom, on SQLite and on PostgreSQL."""

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

HTTP_GOAL = 0.50
CONNECTIONS = 32
DURATION = 4.0

LUA = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
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


def run(workdir: Path, with_postgres: bool, in_process: dict[str, float]) -> list[Row]:
    """``in_process``: scenario 2's rate (starts/s) per store, the figure to reach half of."""
    rows: list[Row] = []
    for kind in ("sqlite", "postgres") if with_postgres else ("sqlite",):
        with deployment(kind, workdir) as dep:
            rows.extend(_against_server(dep, kind, workdir, in_process[kind]))
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


@contextmanager
def serving(dep: Deployment, kind: str, workdir: Path) -> Iterator[Server]:
    """``procflow serve`` on the deployment's database, a token that may start and read in
    its workspace, and the two target URLs with their bodies."""
    data_dir = workdir / f"serve-{kind}"
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
    with (workdir / f"serve-{kind}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "procflow.cli.main", "serve"], env=env, stdout=log, stderr=log
        )
        try:
            _wait_ready(port, process)
            yield Server(process, token, targets)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _against_server(dep: Deployment, kind: str, workdir: Path, baseline: float) -> list[Row]:
    with serving(dep, kind, workdir) as server:
        return [
            _measure(kind, name, url, payload, server.token, workdir, baseline)
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


def _script(workdir: Path, kind: str, name: str, payload: str, token: str) -> Path:
    script = workdir / f"wrk-{kind}-{name}.lua"
    script.write_text(LUA.format(body=json.dumps(payload), token=token))
    return script


def _wrk(script: Path, url: str, duration: int) -> list[str]:
    options = ["-t2", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "10s", "-s", str(script)]
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


def _measure(
    kind: str, name: str, url: str, payload: str, token: str, workdir: Path, baseline: float
) -> Row:
    script = _script(workdir, kind, name.split(maxsplit=1)[0], payload, token)
    command = _wrk(script, url, max(1, round(seconds(DURATION))))
    subprocess.run(_wrk(script, url, 1), capture_output=True, check=True)  # warm-up
    rates, p50s, p99s, failures = [], [], [], 0
    for _ in range(RUNS):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        found = json.loads(line.removeprefix("RESULT "))
        rates.append(found["requests"] / (found["duration_us"] / 1e6))
        p50s.append(found["p50_us"] / 1000)
        p99s.append(found["p99_us"] / 1000)
        failures += found["errors"] + found["non2xx"]
    ours = Stat(rates, "req/s")
    store = "SQLite" if kind == "sqlite" else "PostgreSQL"
    ratio = ours.median / baseline
    p50, p99 = Stat(p50s, "ms"), Stat(p99s, "ms")
    return Row(
        scenario=f"3 HTTP {name}, 1 KB, {store}, wrk {CONNECTIONS} connections",
        procflow=ours,
        peer=Stat([baseline], "starts/s"),
        peer_name="scenario 2 in-process rate, same store",
        ratio=ratio,
        goal=f">= {HTTP_GOAL:.0%} of in-process",
        met=ratio >= HTTP_GOAL and failures == 0,
        notes=f"p50 {p50.show()}, p99 {p99.show()}; errors + non-2xx: {failures}",
        extra={"p50_ms": p50.as_json(), "p99_ms": p99.as_json(), "failures": failures},
    )
