"""What every scenario shares: repeated timing, test data, the models, and bench databases."""

from __future__ import annotations

import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent
MODELS_DIR = BENCH_DIR / "models"
RESULTS_DIR = BENCH_DIR / "results"
PG_ADMIN_URL = os.environ.get(
    "PROCFLOW_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# Every scenario runs at least this many times; min / median / max are reported.
RUNS = int(os.environ.get("PROCFLOW_BENCH_RUNS", "5"))
# Scales every measuring window (0.5 halves the whole run; CI smoke tests use 0.1).
TIME_SCALE = float(os.environ.get("PROCFLOW_BENCH_TIME_SCALE", "1.0"))

KB = 1024
SIZES = {"1 KB": KB, "100 KB": 100 * KB, "1 MB": 1024 * KB}


@dataclass
class Stat:
    """One figure measured ``len(samples)`` times: higher is better for rates, lower for times."""

    samples: list[float]
    unit: str

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    def show(self) -> str:
        return f"{fmt(self.median)} {self.unit} (min {fmt(self.low)}, max {fmt(self.high)})"

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "min": self.low,
            "median": self.median,
            "max": self.high,
            "samples": self.samples,
        }


@dataclass
class Row:
    """A line of the results table: Procflow's figure, the peer's, and the goal."""

    scenario: str
    procflow: Stat
    peer: Stat | None
    peer_name: str
    ratio: float | None
    goal: str
    met: bool | None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def seconds(base: float) -> float:
    return max(0.05, base * TIME_SCALE)


def rate_runs(run_once: Callable[[float], tuple[int, float]], window: float, unit: str) -> Stat:
    """``run_once(window)`` does as many operations as fit in ``window`` seconds and returns
    (operations, elapsed seconds); each of the RUNS runs is one sample of operations/second."""
    samples = []
    for _ in range(RUNS):
        count, elapsed = run_once(seconds(window))
        samples.append(count / elapsed)
    return Stat(samples, unit)


def interleaved_rates(
    runners: dict[str, Callable[[float], tuple[int, float]]], window: float, unit: str
) -> dict[str, Stat]:
    """Like ``rate_runs`` for several contenders, taking turns within each run so that a
    noisy moment of the machine hits all of them rather than one."""
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(RUNS):
        for name, run_once in runners.items():
            count, elapsed = run_once(seconds(window))
            samples[name].append(count / elapsed)
    return {name: Stat(values, unit) for name, values in samples.items()}


def timed_loop(operation: Callable[[int], object], window: float) -> tuple[int, float]:
    """Call ``operation(i)`` until ``window`` seconds have passed (checking every 8 calls)."""
    count = 0
    begin = time.perf_counter()
    deadline = begin + window
    while True:
        for _ in range(8):
            operation(count)
            count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count, now - begin


def make_data(size: int) -> dict[str, Any]:
    """Start data for the models, padded to about ``size`` bytes of JSON with realistic
    records (many small objects, not one long string)."""
    data: dict[str, Any] = {
        "applicant": {"name": "Ada Lovelace", "income": 1000},
        "loan": {"amount": 5000},
    }
    base = len(orjson.dumps(data))
    record = {"sku": "SKU-000000", "qty": 1, "price": 12.5, "note": "n" * 40}
    per_record = len(orjson.dumps(record)) + 1
    count = max(0, (size - base - 20) // per_record)
    data["items"] = [{**record, "sku": f"SKU-{i:06d}"} for i in range(count)]
    return data


def model_bytes(name: str) -> bytes:
    return (MODELS_DIR / f"{name}.bpmn").read_bytes()


def async_variant(name: str) -> tuple[str, bytes]:
    """The same model with every task marked ``procflow:async="true"``, under its own name."""
    text = model_bytes(name).decode()
    text = text.replace('procflow:async="false"', 'procflow:async="true"')
    text = text.replace(f'id="bench_{name}"', f'id="bench_{name}_async"')
    return f"{name}_async.bpmn", text.encode()


def pin_to_one_core() -> int | None:
    """Scenario 1 measures one core: pin this process to the last CPU it may use."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return cpus[-1]
    except (AttributeError, OSError):
        return None


def unpin() -> None:
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))


# --- PostgreSQL: a dedicated database per use, created and dropped -------------------------


def pg_url(database: str, driver: str = "postgresql") -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base.replace('postgresql', driver, 1)}/{database}"


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A fresh database named ``prefix_<random>``, dropped afterwards; yields its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def pg_settings() -> dict[str, str]:
    names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "shared_buffers")
    with psycopg.connect(PG_ADMIN_URL) as connection:
        return {name: str(connection.execute(f"SHOW {name}").fetchone()[0]) for name in names}  # type: ignore[index]
