"""``procflow instance ...`` against a real ``procflow serve``: the operator's commands."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.api.served import PROCFLOW
from tests.cli_runner import run_cli

DEMO = ("00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-0000000000a1")


def _token(log: Path) -> str:
    return log.read_text().split("export TOKEN=", 1)[1].split()[0]


def _start(
    base: str, token: str, income: Any, workspace: str = DEMO[0], app: str = DEMO[1]
) -> dict[str, Any]:
    """A loan_application of the demo app, or of the given one."""
    body = {"applicant": {"name": "Ada", "income": income}, "loan": {"amount": 12000}}
    start = f"/api/runtime/wks/{workspace}/app/{app}/process-name/loan_application/start"
    response = httpx.post(
        base + start, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _procflow(*args: str, base: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROCFLOW), "instance", *args, "--url", base, "--token", token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_retry_with_a_fix_from_the_command_line(server: tuple[str, Path]) -> None:
    base, log = server
    token = _token(log)
    failed = _start(base, token, "not a number")
    assert failed["state"] == "FAILED"
    # In the test's process: the exit codes a shell sees are the next test's business.
    fix = ("--set", "applicant.income=4000", "--url", base, "--token", token)
    result = run_cli("instance", "retry", failed["uuid"], *fix)
    assert result.returncode == 0, result.stderr
    assert f"{failed['uuid']}  STARTED  loan_application" in result.stdout
    again = run_cli("instance", "retry", failed["uuid"], "--incident", "1", "--url", base,
                    "--token", token)  # fmt: skip
    assert again.returncode == 1
    assert "409" in again.stderr and "resolved" in again.stderr


def test_hold_unhold_terminate_and_their_exit_codes(server: tuple[str, Path]) -> None:
    base, log = server
    token = _token(log)
    uuid = _start(base, token, 5000)["uuid"]
    held = _procflow("hold", uuid, "--json", base=base, token=token)
    assert held.returncode == 0, held.stderr
    assert '"state": "ON_HOLD"' in held.stdout
    assert "STARTED" in _procflow("unhold", uuid, base=base, token=token).stdout
    done = _procflow("terminate", uuid, "--reason", "test", base=base, token=token)
    assert done.returncode == 0 and "TERMINATED" in done.stdout
    refused = _procflow("hold", uuid, base=base, token=token)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: 409")
    unknown = _procflow("terminate", "00000000-0000-0000-0000-00000000dead", base=base, token=token)
    assert unknown.returncode == 1 and "Process instance not found." in unknown.stderr
    unreachable = _procflow("hold", uuid, base="http://127.0.0.1:1", token=token)
    assert unreachable.returncode == 3
