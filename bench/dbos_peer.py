"""DBOS, the durable-workflow peer of scenario 2, run in its own process (DBOS is a process
singleton): a 3-step workflow doing the work of process (a), on a dedicated PostgreSQL
database. Prints one JSON line: instances/s per run, and COMMITs per workflow.

    python -m bench.dbos_peer <postgresql-url> <threads> <window-seconds> <runs>
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from typing import Any

import psycopg
from dbos import DBOS, DBOSConfig

from bench.common import make_data

COUNTED = 50


@DBOS.step()
def ratio(data: dict[str, Any]) -> float:
    return float(data["loan"]["amount"]) / float(data["applicant"]["income"])


@DBOS.step()
def band(value: float) -> str:
    return "high" if value > 3.0 else "low"


@DBOS.step()
def score(data: dict[str, Any]) -> int:
    return int(data["loan"]["amount"]) * 2


@DBOS.workflow()
def process_a(data: dict[str, Any]) -> dict[str, Any]:
    value = ratio(data)
    risk = {"ratio": value, "band": band(value)}
    return {**data, "risk": risk, "decision": {"score": score(data)}}


def _loop(window: float, threads: int, data: dict[str, Any]) -> tuple[int, float]:
    counts = [0] * threads
    begin = time.perf_counter()
    deadline = begin + window

    def work(index: int) -> None:
        while time.perf_counter() < deadline:
            process_a(data)
            counts[index] += 1

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts), time.perf_counter() - begin


def _xact_commit(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        row = connection.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        return int(row[0]) if row else 0


def main() -> None:
    url, threads, window, runs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    logging.getLogger("dbos").setLevel(logging.WARNING)
    config: DBOSConfig = {"name": "procflow-bench", "system_database_url": url}
    DBOS(config=config)
    DBOS.launch()
    data = make_data(1024)
    for _ in range(30):
        process_a(data)
    samples = []
    for _ in range(runs):
        count, elapsed = _loop(window, threads, data)
        samples.append(count / elapsed)
    # COMMITs per workflow, from PostgreSQL's own counter (flushed at least every second).
    time.sleep(1.2)
    before = _xact_commit(url)
    for _ in range(COUNTED):
        process_a(data)
    time.sleep(1.2)
    # Idle background activity (DBOS's own pollers) over the same pause is not subtracted.
    commits = (_xact_commit(url) - before - 1) / COUNTED
    DBOS.destroy()
    print(json.dumps({"samples": samples, "commits_per_instance": commits}))


if __name__ == "__main__":
    main()
