"""The console's Node side: its build (console/) and the e2e tools (tests/console/), each
installed on demand from its package-lock.json, like tests/api/node_tools.py."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SRC = ROOT / "console"
E2E_DIR = Path(__file__).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI sets it: a missing browser or npm fails instead of skipping.
BROWSER_REQUIRED = os.environ.get("PROCFLOW_REQUIRE_BROWSER") == "1"


def missing(what: str) -> None:
    if BROWSER_REQUIRED:
        pytest.fail(f"{what} is required (PROCFLOW_REQUIRE_BROWSER=1)")
    pytest.skip(f"needs {what} (CI installs it)")


def npm_ci(folder: Path) -> Path:
    """``npm ci`` in ``folder`` once (two xdist workers: one installs, the other waits)."""
    modules = folder / "node_modules"
    with (folder / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (modules / ".package-lock.json").exists() and shutil.which("npm"):
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(folder)],
                check=True,
                capture_output=True,
                timeout=600,
            )
    if shutil.which("node") is None or not modules.exists():
        missing("node and npm")
    return modules


def chromium() -> str:
    if CHROMIUM is None:
        missing("chromium")
    assert CHROMIUM is not None
    return CHROMIUM
