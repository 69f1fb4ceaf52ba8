"""Replay after an outage: a copy batch of FAILED instances on PostgreSQL with 2 workers.

Measures (issue 13): items per second of the batch versus single S3 (copyDataFrom) requests
over HTTP from one client (goal: at least 3x), and the p99 latency of live S1 starts while
the batch runs versus without it (goal: at most 1.5x).

Real processes: one ``procflow serve`` and two ``procflow worker`` on a fresh database.
``SIZE`` instances fail once; then, ``RUNS`` times over: 300 single S3 copies, live S1
starts alone for a few seconds, and a batch copying all of them while the live starts go
on, and live S1 starts alone again after it (alone as long as with the batch, half before
and half after, since the shared machine's load drifts). Each run gives both ratios (the
ratios are measured within one run), reported as min / median / max; the p99 ratio also
against the 5 s before the batch alone, as it was measured first. Settings (environment):
``PROCFLOW_BENCH_BATCH_SIZE`` (default 10000, the issue's figure; smaller for quick runs),
``PROCFLOW_BENCH_BATCH_RUNS`` (default 3), and ``PROCFLOW_BENCH_BATCH_RATE`` /
``PROCFLOW_BENCH_BATCH_SLICE`` / ``PROCFLOW_BENCH_BATCH_LANES`` / ``PROCFLOW_BENCH_BATCH_NICE``
/ ``PROCFLOW_BENCH_BATCH_DUTY`` / ``PROCFLOW_BENCH_BATCH_SLOWDOWN``, passed on to the server
and the workers as ``PROCFLOW_BATCH_ITEMS_PER_SECOND`` / ``_SLICE_SIZE`` / ``_LANES`` /
``_NICE`` / ``_DUTY_CYCLE`` / ``_MAX_SLOWDOWN`` (unset: the shipped defaults).

    python -m bench.batch_replay        # writes bench/results/batch_replay.json
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.common import RESULTS_DIR, pg_available, pg_database, pg_url

PROCFLOW = Path(sys.executable).parent / "procflow"
SIZE = int(os.environ.get("PROCFLOW_BENCH_BATCH_SIZE", "10000"))
RUNS = int(os.environ.get("PROCFLOW_BENCH_BATCH_RUNS", "3"))
# The batch settings the bench overrides; unset ones are the shipped defaults.
BATCH_SETTINGS = {
    f"PROCFLOW_BATCH_{name}": os.environ[f"PROCFLOW_BENCH_BATCH_{short}"]
    for short, name in (
        ("RATE", "ITEMS_PER_SECOND"),
        ("SLICE", "SLICE_SIZE"),
        ("LANES", "LANES"),
        ("NICE", "NICE"),
        ("DUTY", "DUTY_CYCLE"),
        ("SLOWDOWN", "MAX_SLOWDOWN"),
    )
    if f"PROCFLOW_BENCH_BATCH_{short}" in os.environ
}
SINGLE_COPIES = 300
LIVE_SECONDS = 5.0
# How often the batch's progress is read while it runs. The reads share the bench's
# process (and its GIL) and the server with the live client; at 10 a second they were a
# load of their own on the live requests. This costs at most this long on a batch's time.
POLL_SECONDS = 0.5
PORT = 18_613
WORKSPACE = "b3a7c000-0000-4000-8000-000000000013"
APP = "b3a7c000-0000-4000-8000-0000000000a3"
BASE = f"http://127.0.0.1:{PORT}"
S1 = f"/api/runtime/wks/{WORKSPACE}/app/{APP}/process-name/divide/start"
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


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROCFLOW_")}
    env.update(PROCFLOW_DATABASE_URL=database_url, PROCFLOW_DATA_DIR=str(data_dir),
               PROCFLOW_EMBEDDED_WORKER="0", PROCFLOW_DEMO="0", PROCFLOW_PORT=str(PORT),
               **BATCH_SETTINGS)  # fmt: skip
    return env


@contextmanager
def _services(env: dict[str, str], logs: Path) -> Iterator[None]:
    processes = []
    for name, args in (("serve", ["serve"]), ("worker-0", ["worker"]), ("worker-1", ["worker"])):
        with (logs / f"{name}.log").open("w") as out:
            processes.append(subprocess.Popen([str(PROCFLOW), *args], stdout=out,
                                              stderr=subprocess.STDOUT, env=env))  # fmt: skip
    try:
        _wait_ready()
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=20)


def _wait_ready() -> None:
    deadline = time.monotonic() + 120  # a loaded shared machine starts slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{BASE}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("serve did not become ready")


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(PROCFLOW), *args], env=env, capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    return done.stdout.strip()


def _failed_sources(client: httpx.Client, count: int) -> list[str]:
    def start(n: int) -> str:
        answer = client.post(S1, json={"a": n, "b": 0}).json()
        assert answer["state"] == "FAILED", answer
        return str(answer["uuid"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(start, range(count)))


def _single_copies(client: httpx.Client, sources: list[str]) -> float:
    """Items per second of S3 requests, one at a time, from one client."""
    began = time.perf_counter()
    for source in sources:
        path = f"{S1}/copyDataFrom/{source}"
        assert client.post(path, json={"b": 2}).status_code == 200
    return len(sources) / (time.perf_counter() - began)


def _live_latencies(client: httpx.Client, stop: threading.Event, out: list[float]) -> None:
    """One client starting instances back to back (a process that finishes at once)."""
    while not stop.is_set():
        began = time.perf_counter()
        assert client.post(S1, json={"a": 4, "b": 2}).status_code == 200
        out.append(time.perf_counter() - began)


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[int(0.99 * (len(ordered) - 1))]


def _live_alone(client: httpx.Client, seconds: float) -> list[float]:
    stop, samples = threading.Event(), list[float]()
    runner = threading.Thread(target=_live_latencies, args=(client, stop, samples))
    runner.start()
    time.sleep(seconds)
    stop.set()
    runner.join()
    return samples


def _batch_with_live(
    client: httpx.Client, live: httpx.Client
) -> tuple[dict[str, Any], list[float], float]:
    stop, samples = threading.Event(), list[float]()
    runner = threading.Thread(target=_live_latencies, args=(live, stop, samples))
    runner.start()
    body = {"operation": "copyDataFrom", "filter": {"processName": "divide", "state": "FAILED"},
            "body": {"b": 2}}  # fmt: skip
    began = time.perf_counter()
    batch = client.post(f"/api/runtime/wks/{WORKSPACE}/batches", json=body).json()
    while batch["state"] == "RUNNING":
        time.sleep(POLL_SECONDS)
        batch = client.get(f"/api/runtime/wks/{WORKSPACE}/batches/{batch['id']}").json()
    elapsed = time.perf_counter() - began
    stop.set()
    runner.join()
    return batch, samples, elapsed


def _one_run(client: httpx.Client, live: httpx.Client, sources: list[str]) -> dict[str, Any]:
    single_rate = _single_copies(client, sources[:SINGLE_COPIES])
    before = _live_alone(live, LIVE_SECONDS)
    batch, during, elapsed = _batch_with_live(client, live)
    # As much live time alone as with the batch, half before it and half after: the
    # machine is shared, and its load drifts over the minute a batch takes.
    after = _live_alone(live, max(LIVE_SECONDS, elapsed - LIVE_SECONDS))
    alone = before + after
    items_rate = batch["total"] / elapsed
    return {
        "batch": {k: batch[k] for k in ("state", "total", "done", "failed")},
        "batch_seconds": round(elapsed, 2),
        "batch_items_per_second": round(items_rate, 1),
        "single_s3_per_second": round(single_rate, 1),
        "speedup": round(items_rate / single_rate, 2),
        "live_p99_alone_ms": _ms(_p99(alone)),
        "live_p99_during_ms": _ms(_p99(during)),
        "live_p99_before_ms": _ms(_p99(before)),
        "live_p99_after_ms": _ms(_p99(after)),
        "live_p50_alone_ms": _ms(statistics.median(alone)),
        "live_p50_during_ms": _ms(statistics.median(during)),
        "live_samples": {"alone": len(alone), "during": len(during)},
        "p99_ratio": round(_p99(during) / _p99(alone), 2),
        # The ratio as measured before (against the 5 s before the batch only).
        "p99_ratio_to_before": round(_p99(during) / _p99(before), 2),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _spread(runs: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [run[key] for run in runs]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def run() -> dict[str, Any]:
    with pg_database("bench_batch") as database, tempfile.TemporaryDirectory() as scratch:
        env = _env(pg_url(database, "postgresql+psycopg"), Path(scratch) / "data")
        definition = Path(scratch) / "divide.yaml"
        definition.write_text(DIVIDE)
        _cli(env, "deploy", str(definition), "--workspace", WORKSPACE, "--app", APP, "--activate")
        token = _cli(env, "token", "--workspace", WORKSPACE)
        headers = {"Authorization": f"Bearer {token}"}
        with _services(env, Path(scratch)), httpx.Client(base_url=BASE, headers=headers,
                                                         timeout=60) as client, \
                httpx.Client(base_url=BASE, headers=headers, timeout=60) as live:  # fmt: skip
            sources = _failed_sources(client, SIZE)
            # The copies finish, so the sources stay FAILED: every run copies all of them.
            runs = [_one_run(client, live, sources) for _ in range(RUNS)]
    for number, one in enumerate(runs, start=1):
        print(f"run {number}: {json.dumps(one)}", file=sys.stderr)
    return {
        "size": SIZE, "runs": RUNS, "settings": BATCH_SETTINGS or "shipped defaults",
        "speedup": _spread(runs, "speedup"), "p99_ratio": _spread(runs, "p99_ratio"),
        "p99_ratio_to_before": _spread(runs, "p99_ratio_to_before"),
        "batch_items_per_second": _spread(runs, "batch_items_per_second"),
        "single_s3_per_second": _spread(runs, "single_s3_per_second"),
        "each_run": runs,
    }  # fmt: skip


def main() -> None:
    if not pg_available():
        print("batch replay: PostgreSQL is not reachable; skipped")
        return
    result = run()
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "batch_replay.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
