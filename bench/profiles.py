"""Profiles of the scenarios whose goals are missed, written to bench/results/profiles/.

pyinstrument for in-process code (engine, durable starts, the async worker); py-spy for the
``procflow serve`` process under wrk load (every thread: the event loop and the thread pool).

    python -m bench.profiles
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from pyinstrument import Profiler

from bench import s3_http
from bench.common import RESULTS_DIR, make_data, pg_available
from bench.procflow_side import Deployment, deployment, load_definition, run_in_memory
from procflow.model.definition import ProcessDefinition
from procflow.runtime.worker import Worker

OUT = RESULTS_DIR / "profiles"


def profile(name: str, title: str, work: Callable[[], object]) -> None:
    profiler = Profiler(interval=0.0005)
    profiler.start()
    work()
    profiler.stop()
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (OUT / f"{name}.txt").write_text(f"# {title}\n{text}")
    print(f"wrote {OUT / name}.txt", file=sys.stderr)


def _run_many(definition: ProcessDefinition, data: dict[str, Any], count: int) -> None:
    for _ in range(count):
        run_in_memory(definition, data)


def engine_profiles() -> None:
    data = make_data(1024)
    for model in ("straight", "gateways"):
        definition = load_definition(model)
        for _ in range(200):
            run_in_memory(definition, data)
        profile(
            f"engine-{model}",
            f"scenario 1, process {model}, 3000 instances in memory, 1 KB",
            partial(_run_many, definition, data, 3000),
        )


def runtime_profiles(workdir: Path, kind: str) -> None:
    data = make_data(1024)
    with deployment(kind, workdir) as dep:
        for _ in range(20):
            dep.start("straight", data)
        count = 500 if kind == "sqlite" else 200
        profile(
            f"durable-{kind}",
            f"scenario 2, {count} durable starts of process (a), 1 KB, {kind}, 1 caller",
            lambda: [dep.start("straight", data) for _ in range(count)],
        )
        profile(
            f"async-{kind}",
            f"scenario 5, 100 instances of process (a) with 3 async tasks, worker, {kind}",
            lambda: _async_batch(dep, data, 100),
        )


def _async_batch(dep: Deployment, data: dict[str, object], count: int) -> None:
    worker = Worker(dep.ctx)
    for _ in range(count):
        dep.start("straight_async", data)
    while worker.run_once():
        pass


def http_profile(workdir: Path, kind: str) -> None:
    """py-spy samples the server while wrk drives S1 starts, then the collapsed stacks are
    summed into inclusive shares per function."""
    with deployment(kind, workdir) as dep:
        raw = workdir / f"http-{kind}.folded"

        def record(pid: int, seconds: int) -> subprocess.Popen[bytes]:
            command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid)]
            command += ["--format", "raw", "--rate", "200", "--duration", str(seconds)]
            command += ["--output", str(raw), "--nonblocking"]
            return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        s3_http.profile_server(dep, kind, workdir, record)
        if raw.exists():
            (OUT / f"http-{kind}.txt").write_text(summarize_folded(raw, kind))
            print(f"wrote {OUT}/http-{kind}.txt", file=sys.stderr)


def summarize_folded(path: Path, kind: str, top: int = 45) -> str:
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        for frame in set(stack.split(";")):
            inclusive[frame] += count
    lines = [
        f"# scenario 3, procflow serve ({kind}) under wrk S1 load, py-spy samples of all threads",
        f"# {total} samples; inclusive share per function (a frame counted once per stack)",
        "",
    ]
    for frame, count in inclusive.most_common(top):
        lines.append(f"{100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    engine_profiles()
    kinds = ["sqlite", "postgres"] if pg_available() else ["sqlite"]
    with tempfile.TemporaryDirectory(prefix="procflow-profile-") as work:
        for kind in kinds:
            runtime_profiles(Path(work), kind)
        if s3_http.wrk_path() is not None:
            http_profile(Path(work), "sqlite")
    print(f"profiles: {time.monotonic() - began:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
