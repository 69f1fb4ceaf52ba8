"""Scenario 4 (copyDataFrom cost by data size) and scenario 5 (async step cost), both through
the runtime services in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from uuid import UUID

import orjson

from bench.common import RUNS, SIZES, Row, Stat, make_data, seconds
from bench.procflow_side import Deployment, deployment
from procflow.model.states import InstanceState
from procflow.runtime.worker import Worker

COPY_GOAL = 1.5
ASYNC_GOAL = 3.0
WINDOW = 1.0


def run(workdir: Path, with_postgres: bool) -> list[Row]:
    rows: list[Row] = []
    for kind in ("sqlite", "postgres") if with_postgres else ("sqlite",):
        with deployment(kind, workdir) as dep:
            rows.extend(_copy_by_size(dep, kind))
            rows.append(_async_cost(dep, kind))
    return rows


def _store_label(kind: str) -> str:
    return "SQLite" if kind == "sqlite" else "PostgreSQL"


def _latency(operation: object, window: float) -> float:
    """Median latency (ms) of ``operation()`` called repeatedly for ``window`` seconds."""
    assert callable(operation)
    times: list[float] = []
    deadline = time.perf_counter() + window
    while time.perf_counter() < deadline or len(times) < 5:
        begin = time.perf_counter()
        operation()
        times.append((time.perf_counter() - begin) * 1000)
    return statistics.median(times)


def _copy_by_size(dep: Deployment, kind: str) -> list[Row]:
    rows = []
    for label, size in SIZES.items():
        data = make_data(size)
        # Both starts get their body as JSON bytes and parse it, as the HTTP API does; the
        # copy's body is {} and its data comes from the source instance.
        body = orjson.dumps(data)
        source = dep.start("straight", data).instance.uuid
        for _ in range(5):
            dep.start("straight", data)
            dep.start("straight", {}, copy_from=source)
        plain, copy = [], []
        for _ in range(RUNS):  # interleaved, so both see the same machine
            plain.append(_latency(lambda b=body: _plain(dep, b), seconds(WINDOW)))
            copy.append(_latency(lambda s=source: _copy(dep, s), seconds(WINDOW)))
        ours, peer = Stat(copy, "ms"), Stat(plain, "ms")
        ratio = ours.median / peer.median
        rows.append(
            Row(
                scenario=f"4 copyDataFrom vs plain start, {label}, {_store_label(kind)}",
                procflow=ours,
                peer=peer,
                peer_name="plain start, same data as body",
                ratio=ratio,
                goal=f"<= {COPY_GOAL:g}x",
                met=ratio <= COPY_GOAL,
            )
        )
    return rows


def _plain(dep: Deployment, body: bytes) -> None:
    dep.start("straight", orjson.loads(body))


def _copy(dep: Deployment, source: UUID) -> None:
    dep.start("straight", orjson.loads(b"{}"), copy_from=source)


def _async_cost(dep: Deployment, kind: str) -> Row:
    data = make_data(1024)
    worker = Worker(dep.ctx)
    batch = 40

    def sync_batch() -> float:
        begin = time.perf_counter()
        for _ in range(batch):
            dep.start("straight", data)
        return (time.perf_counter() - begin) * 1000 / batch

    def async_batch() -> float:
        begin = time.perf_counter()
        started = [dep.start("straight_async", data).instance.uuid for _ in range(batch)]
        while worker.run_once():
            pass
        elapsed = (time.perf_counter() - begin) * 1000 / batch
        with dep.store.transaction() as txn:
            last = txn.get_instance(started[-1])
        assert last is not None and last.state is InstanceState.FINISHED, last
        return elapsed

    sync_batch()
    async_batch()
    sync_costs, async_costs = [], []
    for _ in range(RUNS):
        sync_costs.append(sync_batch())
        async_costs.append(async_batch())
    ours, peer = Stat(async_costs, "ms/inst"), Stat(sync_costs, "ms/inst")
    ratio = ours.median / peer.median
    return Row(
        scenario=f"5 async (a): 3 async tasks by the worker vs sync, {_store_label(kind)}",
        procflow=ours,
        peer=peer,
        peer_name="same process, tasks synchronous",
        ratio=ratio,
        goal=f"<= {ASYNC_GOAL:g}x",
        met=ratio <= ASYNC_GOAL,
        notes="start + every job run to completion by Worker.run_once, one thread",
    )
