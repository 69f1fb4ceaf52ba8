"""`procflow worker` as an OS process: it serves its own metrics when asked."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.api.served import PROCFLOW, free_port


def test_worker_serves_prometheus_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PROCFLOW_DATA_DIR": str(tmp_path)}
    env.pop("PROCFLOW_DATABASE_URL", None)
    process = subprocess.Popen(
        [str(PROCFLOW), "worker", "--metrics-port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
                break
            except httpx.TransportError:
                assert process.poll() is None, "worker exited"
                assert time.monotonic() < deadline, "no metrics endpoint"
                time.sleep(0.1)
        assert "procflow_job_lag_seconds_bucket" in text
        assert "procflow_instance_completions_total" in text
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
