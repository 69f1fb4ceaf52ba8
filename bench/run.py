"""``make bench``: every scenario, then bench/results/latest.{md,json,png}.

    python -m bench.run [--only 1,2,3,4,5,6,7,8]

PROCFLOW_BENCH_RUNS (default 5) and PROCFLOW_BENCH_TIME_SCALE (default 1.0) trade precision
for time; PROCFLOW_BENCH_PG_URL points at a PostgreSQL server where databases may be created
(default postgresql://postgres@127.0.0.1:5432/postgres). Without PostgreSQL or wrk, the
scenarios that need them are skipped and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench import (
    s1_engine,
    s2_durable,
    s3_http,
    s4_s5_runtime,
    s6_workers,
    s7_scale_out,
    s8_memory,
)
from bench.common import RESULTS_DIR, RUNS, TIME_SCALE, Row, fmt, pg_available, pg_settings

COMMANDS = [
    "make bench",
    "# which runs:",
    ".venv/bin/pip install -e '.[dev,bench]'   # and apt-get install wrk if missing",
    ".venv/bin/python -m bench.run",
    ".venv/bin/python -m bench.profiles",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="1,2,3,4,5,6,7,8", help="scenarios to run, e.g. 1,2")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    only = {part.strip() for part in args.only.split(",")}
    began = time.monotonic()
    with_postgres = pg_available()
    skipped: list[str] = []
    if not with_postgres:
        skipped.append("PostgreSQL unreachable: every PostgreSQL case skipped")
    meta = _machine(with_postgres)  # the commit measured is the one at the start
    with tempfile.TemporaryDirectory(prefix="procflow-bench-") as work:
        rows = _scenarios(only, Path(work), with_postgres, skipped)
    meta["duration_s"] = round(time.monotonic() - began)
    meta["skipped"] = skipped
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(render_markdown(rows, meta))
    (args.out / "latest.json").write_text(json.dumps(_as_json(rows, meta), indent=2) + "\n")
    draw_chart(rows, args.out / "latest.png")
    print((args.out / "latest.md").read_text())


def _scenarios(only: set[str], workdir: Path, with_postgres: bool, skipped: list[str]) -> list[Row]:
    rows: list[Row] = []
    if "1" in only:
        rows += _timed("1", s1_engine.run)
    if "2" in only:
        rows += _timed("2", lambda: s2_durable.run(workdir, with_postgres))
    if "3" in only:
        if s3_http.wrk_path() is None:
            skipped.append("wrk not installed: scenario 3 skipped")
        else:
            rows += _timed("3", lambda: s3_http.run(workdir, with_postgres))
    if "4" in only or "5" in only:
        rows += _timed("4+5", lambda: s4_s5_runtime.run(workdir, with_postgres))
    if "6" in only:
        rows += _timed("6", lambda: s6_workers.run(workdir, with_postgres))
    if "8" in only:
        rows += _timed("8", lambda: s8_memory.run(workdir))
    if "7" in only:
        if with_postgres:
            rows += _timed("7", lambda: s7_scale_out.run(workdir))
        else:
            skipped.append("PostgreSQL unreachable: scenario 7 (scale-out) skipped")
    return rows


def _timed(label: str, scenario: Any) -> list[Row]:
    began = time.monotonic()
    print(f"scenario {label} ...", file=sys.stderr, flush=True)
    found: list[Row] = scenario()
    print(f"scenario {label}: {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
    return found


def _machine(with_postgres: bool) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f"{int(first.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "src"))
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (src modified)" if dirty else ""),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgres": pg_settings() if with_postgres else None,
        "wrk": _version(["wrk", "-v"]),
        "runs": RUNS,
        "time_scale": TIME_SCALE,
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return done.stdout.strip()


def _version(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return (done.stdout + done.stderr).strip().splitlines()[0] if done.stdout + done.stderr else ""


def _met(row: Row) -> str:
    if row.met is None:
        return "-"
    return "**yes**" if row.met else "**NO**"


def render_markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    pg = meta["postgres"]
    pg_text = (
        f"PostgreSQL {pg['server_version']} (synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, wal_sync_method={pg['wal_sync_method']}, "
        f"shared_buffers={pg['shared_buffers']})"
        if pg
        else "PostgreSQL: not available"
    )
    lines = [
        "# Procflow benchmark results",
        "",
        f"- date: {meta['date']}; commit {meta['commit']}; whole run {meta['duration_s']} s",
        f"- machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory']}, {meta['os']}",
        f"- Python {meta['python']}; {pg_text}; {meta['wrk']}",
        f"- every figure: median of {meta['runs']} runs (min - max); time scale "
        f"{meta['time_scale']}",
        "- command: `make bench` (`.venv/bin/python -m bench.run`)",
        *[f"- skipped: {text}" for text in meta["skipped"]],
        "",
        "| scenario | Procflow | peer / reference | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        peer = f"{row.peer_name}: {row.peer.show()}" if row.peer else row.peer_name
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        lines.append(
            f"| {row.scenario} | {row.procflow.show()} | {peer} | {ratio} | {row.goal} | "
            f"{_met(row)} |"
        )
    notes = [row for row in rows if row.notes]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {row.scenario}: {row.notes}" for row in notes]
    lines += ["", "![ratios against goals](latest.png)", ""]
    if any(row.scenario.startswith("7 scale-out") for row in rows):
        lines += ["![scale-out by caller processes](scale_out.png)", ""]
    return "\n".join(lines)


def _as_json(rows: list[Row], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "rows": [
            {
                "scenario": row.scenario,
                "procflow": row.procflow.as_json(),
                "peer_name": row.peer_name,
                "peer": row.peer.as_json() if row.peer else None,
                "ratio": row.ratio,
                "goal": row.goal,
                "met": row.met,
                "notes": row.notes,
                "extra": row.extra,
            }
            for row in rows
        ],
    }


def draw_chart(rows: list[Row], path: Path) -> None:
    """One bar per scenario with a goal: the measured ratio, the goal as a black tick;
    green when met, red when not. Log scale: ratios span 0.02x to 20x."""
    shown = [row for row in rows if row.met is not None and row.ratio is not None]
    if not shown:
        return
    figure, axes = plt.subplots(figsize=(11, 0.42 * len(shown) + 1.6))
    names = [_short(row.scenario) for row in reversed(shown)]
    ratios = [row.ratio or 0.0 for row in reversed(shown)]
    colors = ["#2e7d32" if row.met else "#c62828" for row in reversed(shown)]
    axes.barh(names, ratios, color=colors)
    for index, row in enumerate(reversed(shown)):
        goal = _goal_value(row.goal)
        if goal is not None:
            axes.plot([goal, goal], [index - 0.4, index + 0.4], color="black", linewidth=2)
        axes.text(ratios[index], index, f" {fmt(ratios[index])}x", va="center", fontsize=8)
    axes.set_xscale("log")
    axes.set_xlabel("ratio (bar) and goal (black tick); green = goal met, red = missed")
    axes.set_title("Procflow benchmarks: measured ratio vs goal")
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _short(scenario: str) -> str:
    return scenario if len(scenario) <= 70 else scenario[:67] + "..."


def _goal_value(goal: str) -> float | None:
    for token in goal.replace("x", " ").replace("%", " % ").split():
        try:
            value = float(token)
        except ValueError:
            continue
        return value / 100 if "%" in goal else value
    return None


if __name__ == "__main__":
    main()
