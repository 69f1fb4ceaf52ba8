"""The Node tools of tests/api/node (pinned in its package-lock.json), installed on demand."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

from tests.api.served import missing_tool

NODE_DIR = Path(__file__).parent / "node"
MODULES = NODE_DIR / "node_modules"


def node_modules() -> Path:
    # Two pytest-xdist workers may get here together: one installs, the other waits.
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (MODULES / ".package-lock.json").exists() and shutil.which("npm"):
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(NODE_DIR)],
                check=True,
                capture_output=True,
                timeout=300,
            )
    if shutil.which("node") is None or not MODULES.exists():
        missing_tool("node and npm")
    return MODULES


def node_bin(name: str) -> Path:
    path = node_modules() / ".bin" / name
    if not path.exists():
        missing_tool(f"{name} (npm ci --prefix tests/api/node)")
    return path
