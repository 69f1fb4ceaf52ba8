"""Scenario 2: durable starts through the runtime service (no HTTP), process (a) run to
completion with 1 KB of data, on SQLite (WAL) and PostgreSQL with 1 and 4 callers.

The floor is the raw rate of single-row INSERT + COMMIT of the same 1 KB JSON document on the
same database with the same settings, measured in the same run; the engine's rate on the same
instance in memory too. The ideal durable rate is 1 / (engine time + floor commit time): what
a start would reach if the store and runtime added nothing to the engine and one commit.
Peers: SpiffWorkflow saving its serialized state in one commit per instance, and DBOS
(PostgreSQL only, own process)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench import spiff_peer
from bench.common import RUNS, Row, Stat, interleaved_rates, make_data, pg_database, pg_url, seconds
from bench.procflow_side import Deployment, deployment, load_definition, run_in_memory

IDEAL_GOAL = 0.50
SPIFF_GOAL = 4.0
WINDOW = 1.5
# (store, callers) combinations of the scenario.
CASES = (("sqlite", 1), ("postgres", 1), ("postgres", 4))


def threaded_loop(
    make_operation: Callable[[], Callable[[], object]], window: float, threads: int
) -> tuple[int, float]:
    """Each thread builds its operation (its own connection, say), then calls it until the
    window closes; returns (total operations, wall seconds)."""
    counts = [0] * threads
    ready = threading.Barrier(threads + 1)
    holder: dict[str, float] = {}

    def work(index: int) -> None:
        operation = make_operation()
        ready.wait()
        deadline = holder["deadline"]
        while time.perf_counter() < deadline:
            operation()
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    holder["deadline"] = time.perf_counter() + window
    begin = time.perf_counter()
    ready.wait()
    for worker in workers:
        worker.join()
    return sum(counts), time.perf_counter() - begin


@contextmanager
def raw_inserter(dep: Deployment, table: str) -> Iterator[Callable[[], Callable[[str], None]]]:
    """Factory of per-thread ``insert(document)`` functions that INSERT one row and COMMIT,
    with the raw driver on the deployment's database and settings."""
    if dep.url.startswith("sqlite"):
        path = dep.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as setup:
            setup.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, doc TEXT)")

        def sqlite_factory() -> Callable[[str], None]:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")

            def insert(document: str) -> None:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(f"INSERT INTO {table} (doc) VALUES (?)", (document,))
                connection.execute("COMMIT")

            return insert

        yield sqlite_factory
        return
    with psycopg.connect(dep.url) as pg_setup:
        pg_setup.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY, doc jsonb)"
        )
        pg_setup.commit()
    opened: list[psycopg.Connection[Any]] = []

    def pg_factory() -> Callable[[str], None]:
        connection = psycopg.connect(dep.url)
        opened.append(connection)

        def insert(document: str) -> None:
            connection.execute(f"INSERT INTO {table} (doc) VALUES (%s::jsonb)", (document,))
            connection.commit()

        return insert

    try:
        yield pg_factory
    finally:
        for pg_connection in opened:
            pg_connection.close()


def run(workdir: Path, with_postgres: bool) -> list[Row]:
    rows: list[Row] = []
    cases = [case for case in CASES if with_postgres or case[0] == "sqlite"]
    for kind, callers in cases:
        rows.extend(_case(workdir, kind, callers))
    return rows


def _case(workdir: Path, kind: str, callers: int) -> list[Row]:
    data = make_data(1024)
    document = orjson.dumps(data).decode()
    label = (
        f"{'SQLite' if kind == 'sqlite' else 'PostgreSQL'}, {callers} caller{'s' * (callers > 1)}"
    )
    with deployment(kind, workdir, pool_size=max(8, callers * 2)) as dep:
        for _ in range(30):
            dep.start("straight", data)
        definition = load_definition("straight")
        spec = spiff_peer.load_spec("straight")
        serializer = spiff_peer.serializer()
        with (
            raw_inserter(dep, "bench_floor") as floor_factory,
            raw_inserter(dep, "spiff_state") as spiff_factory,
        ):

            def spiff_operation() -> Callable[[], object]:
                insert = spiff_factory()
                return lambda: insert(
                    serializer.serialize_json(spiff_peer.run_to_completion(spec, data))
                )

            before, commits_before = _started(dep), dep.commits.count
            found = interleaved_rates(
                {
                    "procflow": lambda w: threaded_loop(
                        lambda: lambda: dep.start("straight", data), w, callers
                    ),
                    "floor": lambda w: threaded_loop(
                        lambda: _bind(floor_factory(), document), w, callers
                    ),
                    "engine": lambda w: threaded_loop(
                        lambda: lambda: run_in_memory(definition, data), w, callers
                    ),
                    "spiff": lambda w: threaded_loop(spiff_operation, w, callers),
                },
                WINDOW,
                "inst/s",
            )
            commits = (dep.commits.count - commits_before) / (_started(dep) - before)
        ours, floor, spiff = found["procflow"], found["floor"], found["spiff"]
        engine = found["engine"]
        ours.unit, floor.unit = "starts/s", "commits/s"
    ideal = ideal_rates(engine, floor)
    ratio = ours.median / ideal.median
    notes = (
        f"{commits:.3f} COMMITs per instance (SQLAlchemy commit events, every measured start); "
        f"engine alone {engine.show()}, floor INSERT+COMMIT {floor.show()}"
    )
    spiff_ratio = ours.median / spiff.median
    rows = [
        Row(
            scenario=f"2 durable starts (a), 1 KB, {label}",
            procflow=ours,
            peer=ideal,
            peer_name="ideal 1/(engine + floor commit)",
            ratio=ratio,
            goal=f">= {IDEAL_GOAL:.0%} of ideal; 1 COMMIT/instance",
            met=ratio >= IDEAL_GOAL and abs(commits - 1.0) < 1e-9,
            notes=notes,
            extra={
                "commits_per_instance": commits,
                "engine": engine.as_json(),
                "floor": floor.as_json(),
            },
        ),
        Row(
            scenario=f"2 durable (a) vs SpiffWorkflow + 1 commit, {label}",
            procflow=ours,
            peer=spiff,
            peer_name="SpiffWorkflow serialized + INSERT+COMMIT",
            ratio=spiff_ratio,
            goal=f">= {SPIFF_GOAL:g}x SpiffWorkflow + 1 commit",
            met=spiff_ratio >= SPIFF_GOAL,
        ),
    ]
    if kind == "postgres":
        dbos = _dbos(callers)
        if dbos is not None:
            rows.append(
                Row(
                    scenario=f"2 durable (a) vs DBOS 3-step workflow, {label}",
                    procflow=ours,
                    peer=dbos[0],
                    peer_name="DBOS",
                    ratio=ours.median / dbos[0].median,
                    goal="(no goal; reported)",
                    met=None,
                    notes=f"DBOS: about {dbos[1]:.0f} COMMITs per workflow "
                    "(pg_stat_database.xact_commit delta, its background pollers included)",
                )
            )
    return rows


def ideal_rates(engine: Stat, floor: Stat) -> Stat:
    """Per run, 1 / (engine time + commit time) from the two rates of that run."""
    samples = [1 / (1 / e + 1 / f) for e, f in zip(engine.samples, floor.samples, strict=True)]
    return Stat(samples, "starts/s")


def _bind(insert: Callable[[str], None], document: str) -> Callable[[], None]:
    return lambda: insert(document)


def _started(dep: Deployment) -> int:
    with dep.store.engine.connect() as connection:
        return int(
            connection.exec_driver_sql("SELECT count(*) FROM process_instances").scalar_one()
        )


def _dbos(callers: int) -> tuple[Stat, float] | None:
    with pg_database("procflow_bench_dbos") as name:
        command = [sys.executable, "-m", "bench.dbos_peer", pg_url(name), str(callers)]
        command += [str(seconds(WINDOW)), str(RUNS)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"DBOS peer failed: {done.stderr[-2000:]}", file=sys.stderr)
        return None
    found = json.loads(lines[-1])
    return Stat(found["samples"], "inst/s"), float(found["commits_per_instance"])
