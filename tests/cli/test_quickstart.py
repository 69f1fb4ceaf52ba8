"""`procflow serve` as a new user runs it: a real server process, and the curl lines it
prints pasted into a shell, exactly as printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.served import PROCFLOW, free_port, wait_ready

__all__ = ["PROCFLOW", "server"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PROCFLOW_DATA_DIR": str(tmp_path / "data"), "PROCFLOW_PORT": str(port)}
    env.pop("PROCFLOW_DATABASE_URL", None)
    # The banner is on stdout; JSON logs go to stderr.
    with log.open("w") as out, (tmp_path / "serve.err").open("w") as err:
        process = subprocess.Popen(
            [str(PROCFLOW), "serve"], stdout=out, stderr=err, env=env, cwd=tmp_path
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, log)
        yield base, log
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through uses curl")
def test_printed_walkthrough_runs_as_printed(server: tuple[str, Path]) -> None:
    base, log = server
    banner = log.read_text()
    assert f"Procflow listening on {base}" in banner
    script = banner[banner.index("export TOKEN=") :] + '\necho "RESULT $ID $COPY"\n'
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    _, source, copy = last.split()
    lineage_line = result.stdout.strip().splitlines()[-2]
    lineage = json.loads(lineage_line)
    assert lineage["uuid"] == copy
    assert [a["uuid"] for a in lineage["ancestors"]] == [source]
    assert lineage["ancestors"][0]["state"] == "FINISHED"


def test_embedded_worker_finishes_async_tasks_in_one_process(server: tuple[str, Path]) -> None:
    base, log = server
    token = log.read_text().split("export TOKEN=", 1)[1].split()[0]
    headers = {"Authorization": f"Bearer {token}"}
    workspace, app = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-0000000000a1"
    chain = (
        "name: async_two\nnodes:\n  - {id: b, type: start}\n"
        "  - {id: t1, type: task, async: true, rules: [{set: {one: '1'}}]}\n"
        "  - {id: t2, type: task, async: true, rules: [{set: {two: 'input.one + 1'}}]}\n"
        "  - {id: e, type: end}\n"
        "flows: [{from: b, to: t1}, {from: t1, to: t2}, {from: t2, to: e}]\n"
    )
    files = {"async_two.yaml": chain}
    files.update(
        {
            "loan.yaml": (
                Path(__file__).resolve().parents[2] / "examples" / "loans" / "loan_application.yaml"
            ).read_text()
        }
    )
    upload = httpx.post(
        f"{base}/api/admin/wks/{workspace}/app/{app}/builds",
        json={"files": files, "activate": True},
        headers=headers,
    )
    assert upload.status_code == 201, upload.text
    started = httpx.post(
        f"{base}/api/runtime/wks/{workspace}/app/{app}/process-name/async_two/start",
        json={},
        headers=headers,
    ).json()
    assert started["state"] == "STARTED"
    deadline = time.monotonic() + 20
    state = ""
    while time.monotonic() < deadline:
        status = httpx.get(
            f"{base}/api/runtime/process/{started['uuid']}/status", headers=headers
        ).json()
        state = status["state"]
        if state == "FINISHED":
            break
        time.sleep(0.05)
    assert state == "FINISHED"
    data = httpx.get(f"{base}/api/runtime/process/{started['uuid']}/data", headers=headers)
    assert data.json() == {"one": 1, "two": 2}
