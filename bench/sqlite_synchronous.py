"""What ``PROCFLOW_SQLITE_SYNCHRONOUS=FULL`` costs: durable starts/s of process (a) with 1 KB
of data through the runtime service, SQLite WAL with ``synchronous=NORMAL`` and ``FULL``,
rounds interleaved in one run (docs/operations.md, "SQLite durability").

Run: ``.venv/bin/python -m bench.sqlite_synchronous [rounds] [seconds per round]``. Not part
of ``make bench`` or ``make test``: the figure depends on the disk's fsync latency only.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bench.common import make_data
from bench.procflow_side import PRINCIPAL, deploy_models
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.store.sqlite import SqliteStore

MODES = ("NORMAL", "FULL")


@contextmanager
def _runtime(workdir: Path, mode: str) -> Iterator[tuple[RuntimeContext, StartTarget]]:
    store = SqliteStore(workdir / f"sync-{mode}-{uuid.uuid4().hex[:6]}.db", synchronous=mode)
    try:
        store.migrate()
        workspace_id, app_id = deploy_models(store)
        yield RuntimeContext(store), StartTarget(app_id, workspace_id)
    finally:
        store.close()


def starts_per_second(ctx: RuntimeContext, target: StartTarget, window: float) -> float:
    data = make_data(1024)
    count = 0
    began = time.perf_counter()
    deadline = began + window
    while time.perf_counter() < deadline:
        start_process(ctx, PRINCIPAL, StartRequest(target, "bench_straight", body=data))
        count += 1
    return count / (time.perf_counter() - began)


def main(rounds: int = 5, window: float = 2.0) -> None:
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        for _ in range(rounds):
            for mode in MODES:
                with _runtime(Path(tmp), mode) as (ctx, target):
                    starts_per_second(ctx, target, 0.3)  # warm the catalog and the pool
                    rates[mode].append(starts_per_second(ctx, target, window))
    medians = {mode: statistics.median(values) for mode, values in rates.items()}
    print(f"{datetime.now(UTC):%Y-%m-%d} sqlite durable starts/s, {rounds} rounds x {window:g} s")
    for mode in MODES:
        spread = ", ".join(f"{r:.0f}" for r in rates[mode])
        print(f"  synchronous={mode:<6} median {medians[mode]:7.0f}/s  ({spread})")
    print(f"  FULL / NORMAL = {medians['FULL'] / medians['NORMAL']:.2f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 5, float(args[1]) if len(args) > 1 else 2.0)
