"""Scenario 8: memory stays flat, and the timer firing rate of the worker.

- ``procflow serve`` (SQLite) while wrk drives S1 starts until 100,000 instances exist: its
  RSS at every tenth of the way and its peak (VmHWM). Flat means the last tenth's RSS is
  within 15% of the RSS at the first tenth: no cache or buffer grows with the instances.
- ``procflow worker`` firing the timers of 20,000 instances that all wait on a due timer:
  its RSS the same way, and how many timers it fires per second (between 10% and 90% of
  them fired) against the in-process durable start rate of the same instances.

    python -m bench.s8_memory
    PROCFLOW_BENCH_MEM_N=5000 PROCFLOW_BENCH_MEM_TIMERS=2000 python -m bench.s8_memory  (quick)
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import s3_http
from bench.common import Row, Stat, make_data
from bench.procflow_side import Deployment, deployment
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM

SERVE_INSTANCES = int(os.environ.get("PROCFLOW_BENCH_MEM_N", "100000"))
TIMER_INSTANCES = int(os.environ.get("PROCFLOW_BENCH_MEM_TIMERS", "20000"))
FLAT_GOAL = 1.15
TIMER_GOAL = 0.5
TIMER_MODEL = """
name: mem_timer
nodes:
  - {id: begin, type: start}
  - {id: pause, type: timer, timer: {duration: PT1S}}
  - {id: done, type: end}
flows:
  - {from: begin, to: pause}
  - {from: pause, to: done}
"""


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _count(path: Path, where: str = "") -> int:
    with sqlite3.connect(path, timeout=30) as connection:
        found = connection.execute(f"SELECT count(*) FROM process_instances {where}").fetchone()
    return int(found[0])


def _flat_row(scenario: str, samples: list[tuple[int, int]], peak: int, unit: str) -> Row:
    """``samples``: (instances, RSS KiB) at every tenth; compares the last with the first."""
    first, last = samples[0][1], samples[-1][1]
    ratio = last / first
    shown = ", ".join(f"{n:,}: {kib / 1024:.0f} MiB" for n, kib in samples)
    return Row(
        scenario=scenario,
        procflow=Stat([last / 1024], "MiB RSS at the end"),
        peer=Stat([first / 1024], "MiB"),
        peer_name=f"RSS after the first tenth of the {unit}",
        ratio=ratio,
        goal=f"<= {FLAT_GOAL:g}x (flat)",
        met=ratio <= FLAT_GOAL,
        notes=f"peak (VmHWM) {peak / 1024:.0f} MiB; RSS by {unit}: {shown}",
        extra={"samples_kib": samples, "peak_kib": peak},
    )


def serve_memory(dep: Deployment, workdir: Path) -> Row:
    path = Path(dep.url.removeprefix("sqlite:///"))
    with s3_http.serving(dep, "sqlite", workdir, replica=8) as server:
        url, payload = server.targets["S1 start"]
        script = s3_http.script_for(workdir, "memory", payload, server.token)
        pid = server.process.pid
        samples: list[tuple[int, int]] = []
        step = max(1, SERVE_INSTANCES // 10)
        next_mark = step
        while True:
            started = _count(path)
            if started >= next_mark:
                samples.append((started, rss_kib(pid)))
                next_mark = (started // step + 1) * step
            if started >= SERVE_INSTANCES:
                break
            # Short wrk runs: about a tenth of the way each at a few hundred starts/s.
            subprocess.run(s3_http.wrk_command(script, url, 2), capture_output=True, check=True)
        peak = rss_kib(pid, "VmHWM")
    return _flat_row(
        f"8 memory: procflow serve (SQLite) after {SERVE_INSTANCES:,} S1 starts over HTTP",
        samples,
        peak,
        "instances started",
    )


def timer_worker(dep: Deployment, workdir: Path) -> list[Row]:
    path = Path(dep.url.removeprefix("sqlite:///"))
    app = deploy.create_app(dep.store, SYSTEM, dep.workspace_id, "bench-timers")
    files = {"mem_timer.yaml": TIMER_MODEL.encode()}
    now = datetime.now(UTC)
    deploy.deploy_build(dep.store, SYSTEM, dep.workspace_id, app.id, files, activate=True, now=now)
    timer_dep = Deployment(dep.ctx, dep.store, dep.workspace_id, app.id, dep.url, dep.commits)
    data = make_data(1024)
    began = time.perf_counter()
    for _ in range(TIMER_INSTANCES):
        timer_dep.start_named("mem_timer", data)
    start_rate = TIMER_INSTANCES / (time.perf_counter() - began)
    waiting = "WHERE state = 'FINISHED'"
    already = _count(path, waiting)
    env = {**os.environ, "PROCFLOW_DATABASE_URL": dep.url, "PROCFLOW_DATA_DIR": str(workdir)}
    log = (workdir / "worker-memory.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "procflow.cli.main", "worker"], env=env, stdout=log, stderr=log
    )
    samples: list[tuple[int, int]] = []
    marks: dict[int, float] = {}
    step = max(1, TIMER_INSTANCES // 10)
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            fired = _count(path, waiting) - already
            tenth = fired // step
            if tenth >= 1 and tenth not in marks:
                marks[tenth] = time.perf_counter()
                samples.append((fired, rss_kib(worker.pid)))
            if fired >= TIMER_INSTANCES:
                break
            time.sleep(0.2)
        peak = rss_kib(worker.pid, "VmHWM")
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    first, last = min(marks), max(marks)
    firing_rate = (last - first) * step / (marks[last] - marks[first])
    ratio = firing_rate / start_rate
    return [
        Row(
            scenario="6 timer firing by the worker vs a start, SQLite, 1 KB",
            procflow=Stat([firing_rate], "timers/s"),
            peer=Stat([start_rate], "starts/s"),
            peer_name="in-process durable starts of the same instances",
            ratio=ratio,
            goal=f">= {TIMER_GOAL:g}x the start rate",
            met=ratio >= TIMER_GOAL,
            notes=f"{TIMER_INSTANCES:,} due timers, one `procflow worker` process (batch 16)",
        ),
        _flat_row(
            f"8 memory: procflow worker firing {TIMER_INSTANCES:,} timers (SQLite)",
            samples,
            peak,
            "timers fired",
        ),
    ]


def run(workdir: Path) -> list[Row]:
    with deployment("sqlite", workdir) as dep:
        rows = [serve_memory(dep, workdir)]
    with deployment("sqlite", workdir) as dep:
        rows += timer_worker(dep, workdir)
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="procflow-memory-") as work:
        for row in run(Path(work)):
            print(f"{row.scenario}: {row.procflow.show()} ({row.ratio:.2f}x) {row.goal}")
            print(f"    {row.notes}")


if __name__ == "__main__":
    main()
