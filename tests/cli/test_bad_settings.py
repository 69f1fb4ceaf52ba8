"""A bad setting in the environment stops a command with one clear line, before it touches
anything: no traceback, exit code 2, no database created."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.api.served import PROCFLOW

BAD = [
    ("PROCFLOW_PORT", "abc", "PROCFLOW_PORT must be a whole number, not 'abc'"),
    ("PROCFLOW_JOB_LEASE_SECONDS", "soon", "PROCFLOW_JOB_LEASE_SECONDS must be a number"),
    ("PROCFLOW_BATCH_DUTY_CYCLE", "2", "PROCFLOW_BATCH_DUTY_CYCLE must be more than 0"),
    ("PROCFLOW_SQLITE_SYNCHRONOUS", "bogus", "PROCFLOW_SQLITE_SYNCHRONOUS must be one of"),
]


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(("name", "value", "message"), BAD)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, command: str, name: str, value: str, message: str
) -> None:
    data_dir = tmp_path / "data"
    env = {**os.environ, "PROCFLOW_DATA_DIR": str(data_dir), name: value}
    env.pop("PROCFLOW_DATABASE_URL", None)
    run = subprocess.run([str(PROCFLOW), command], env=env, capture_output=True, text=True,
                         timeout=60, check=False)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"error: {message}")
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr
    assert not data_dir.exists()
