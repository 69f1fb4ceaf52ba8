"""Scenario 7: scale-out on PostgreSQL. The work of a start is CPU in one interpreter, so
throughput grows with processes, not threads:

- 1 to 4 callers in separate processes, each its own runtime and connection pool on the same
  database, durable starts of process (a) with 1 KB for the same window, started together;
- 1 and 2 ``procflow serve`` replicas on the same database, wrk driving S1 starts (32
  connections in all; with 2 replicas, one wrk per replica with 16 each, at the same time).

Goal (issue 15): 4 processes and 2 replicas reach at least 1.6x one. Writes
bench/results/scale_out.png (throughput by number of processes).

    python -m bench.s7_scale_out            (also part of ``python -m bench.run``)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from uuid import UUID

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import s3_http
from bench.common import RESULTS_DIR, RUNS, Row, Stat, make_data, seconds
from bench.procflow_side import PRINCIPAL, Deployment, deployment
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.store.postgres import PostgresStore

SCALE_GOAL = 1.6
WINDOW = 2.0
MAX_PROCESSES = 4


def child(url: str, workspace: str, app: str, window: float) -> None:
    """One caller process: warm up, say READY, wait for GO on stdin (every caller is ready
    by then), start until the window ends."""
    store = PostgresStore(url, pool_size=2)
    ctx = RuntimeContext(store)
    request = StartRequest(
        StartTarget(UUID(app), UUID(workspace)), "bench_straight", make_data(1024)
    )
    for _ in range(20):
        start_process(ctx, PRINCIPAL, request)
    print("READY", flush=True)
    sys.stdin.readline()
    count, began = 0, time.perf_counter()
    deadline = began + window
    while time.perf_counter() < deadline:
        start_process(ctx, PRINCIPAL, request)
        count += 1
    found = {"count": count, "seconds": time.perf_counter() - began}
    print("RESULT " + json.dumps(found), flush=True)
    store.close()


def _processes_rate(url: str, workspace: UUID, app: UUID, processes: int) -> float:
    window = seconds(WINDOW)
    command = [sys.executable, "-m", "bench.s7_scale_out", "--child", url, str(workspace)]
    command += [str(app), str(window)]
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    for process in children:
        assert process.stdout is not None
        while (line := process.stdout.readline()).strip() != "READY":
            if not line:
                raise RuntimeError("a caller process exited before it was ready")
    for process in children:  # every caller is warm: all go at once
        assert process.stdin is not None
        process.stdin.write("GO\n")
        process.stdin.flush()
    total = 0.0
    for process in children:
        out, _ = process.communicate(timeout=120)
        line = next(x for x in out.splitlines() if x.startswith("RESULT "))
        found = json.loads(line.removeprefix("RESULT "))
        total += found["count"] / found["seconds"]
    return total


def run(workdir: Path) -> list[Row]:
    rows: list[Row] = []
    with deployment("postgres", workdir) as dep:
        url = dep.store.engine.url.render_as_string(hide_password=False)
        by_processes: dict[int, list[float]] = {n: [] for n in range(1, MAX_PROCESSES + 1)}
        for _ in range(RUNS):
            for processes, samples in by_processes.items():
                samples.append(_processes_rate(url, dep.workspace_id, dep.app_id, processes))
        stats = {n: Stat(samples, "starts/s") for n, samples in by_processes.items()}
        one = stats[1]
        for processes, stat in stats.items():
            ratio = stat.median / one.median
            final = processes == MAX_PROCESSES
            rows.append(
                Row(
                    scenario=f"7 scale-out: {processes} caller processes, PostgreSQL, (a) 1 KB",
                    procflow=stat,
                    peer=one,
                    peer_name="1 caller process",
                    ratio=ratio,
                    goal=f">= {SCALE_GOAL:g}x one process" if final else "(reported)",
                    met=ratio >= SCALE_GOAL if final else None,
                )
            )
        draw(stats, RESULTS_DIR / "scale_out.png")
        if s3_http.wrk_path() is not None:
            rows.append(_replicas(dep, workdir))
    return rows


def _replicas(dep: Deployment, workdir: Path) -> Row:
    duration = max(1, round(seconds(4.0)))
    with ExitStack() as stack:
        servers = [stack.enter_context(s3_http.serving(dep, "postgres", workdir, replica=i))
                   for i in range(2)]  # fmt: skip
        scripts = []
        for index, server in enumerate(servers):
            url, payload = server.targets["S1 start"]
            script = s3_http.script_for(workdir, f"replica{index}", payload, server.token)
            subprocess.run(s3_http.wrk_command(script, url, 1), capture_output=True, check=True)
            scripts.append((script, url))
        one, two = [], []
        for _ in range(RUNS):
            script, url = scripts[0]
            done = subprocess.run(
                s3_http.wrk_command(script, url, duration),
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            one.append(s3_http.wrk_rate(done.stdout))
            both = [
                subprocess.Popen(
                    s3_http.wrk_command(script, url, duration, s3_http.CONNECTIONS // 2),
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for script, url in scripts
            ]
            two.append(sum(s3_http.wrk_rate(p.communicate(timeout=120)[0]) for p in both))
    single, double = Stat(one, "req/s"), Stat(two, "req/s")
    ratio = double.median / single.median
    return Row(
        scenario="7 scale-out: 2 serve replicas vs 1, PostgreSQL, HTTP S1, wrk 32 connections",
        procflow=double,
        peer=single,
        peer_name="1 serve replica",
        ratio=ratio,
        goal=f">= {SCALE_GOAL:g}x one replica",
        met=ratio >= SCALE_GOAL,
    )


def draw(stats: dict[int, Stat], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(6, 3.6))
    counts = list(stats)
    medians = [stats[n].median for n in counts]
    low = [stats[n].median - stats[n].low for n in counts]
    high = [stats[n].high - stats[n].median for n in counts]
    axes.errorbar(counts, medians, yerr=[low, high], marker="o", capsize=4, label="measured")
    axes.plot(counts, [medians[0] * n for n in counts], linestyle=":", color="grey",
              label="linear")  # fmt: skip
    axes.axhline(medians[0] * SCALE_GOAL, color="black", linewidth=1, label="goal at 4")
    axes.set_xticks(counts)
    axes.set_xlabel("caller processes (same PostgreSQL database)")
    axes.set_ylabel("durable starts/s (median, min-max)")
    axes.set_title("Scale-out: durable starts of (a), 1 KB")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, workspace, app, window = sys.argv[2:6]
        child(url, workspace, app, float(window))
        return
    with tempfile.TemporaryDirectory(prefix="procflow-scale-") as work:
        for row in run(Path(work)):
            print(f"{row.scenario}: {row.procflow.show()} ({row.ratio:.2f}x) {row.goal}")


if __name__ == "__main__":
    main()
