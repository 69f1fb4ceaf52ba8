"""`procflow serve` as a new user runs it: a real server process, and the curl lines it
prints pasted into a shell, exactly as printed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from uuid import uuid4

import httpx
import pytest


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
    # An app of its own: the walk-through shares this server and the demo app.
    workspace, app = "00000000-0000-0000-0000-000000000001", str(uuid4())
    chain = (
        "name: async_two\nnodes:\n  - {id: b, type: start}\n"
        "  - {id: t1, type: task, async: true, rules: [{set: {one: '1'}}]}\n"
        "  - {id: t2, type: task, async: true, rules: [{set: {two: 'input.one + 1'}}]}\n"
        "  - {id: e, type: end}\n"
        "flows: [{from: b, to: t1}, {from: t1, to: t2}, {from: t2, to: e}]\n"
    )
    created = httpx.post(f"{base}/api/admin/wks/{workspace}/apps",
                         json={"id": app, "name": "async"}, headers=headers)  # fmt: skip
    assert created.status_code == 201, created.text
    upload = httpx.post(
        f"{base}/api/admin/wks/{workspace}/app/{app}/builds",
        json={"files": {"async_two.yaml": chain}, "activate": True},
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
