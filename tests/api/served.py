"""A real ``procflow serve`` process on SQLite, for tests about what goes over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from procflow.runtime.access import ANY_WORKSPACE, Role
from procflow.runtime.tokens import TokenIssuer, load_or_create_secret

PROCFLOW = Path(sys.executable).parent / "procflow"
DEMO_WORKSPACE = "00000000-0000-0000-0000-000000000001"
DEMO_APP = "00000000-0000-0000-0000-0000000000a1"
# CI sets it: a missing Node tool or generator venv then fails the test instead of skipping.
CLIENTS_REQUIRED = os.environ.get("PROCFLOW_REQUIRE_CLIENTS") == "1"


@dataclass(frozen=True)
class Served:
    base: str
    data_dir: Path
    stderr: Path

    def token(self, subject: str = "tester") -> str:
        """A token with every role in every workspace, signed by the server's dev secret."""
        secret = load_or_create_secret(self.data_dir)
        issuer = TokenIssuer(secret, "procflow", "procflow")
        return issuer.mint(subject, {ANY_WORKSPACE: frozenset(Role)})

    def log_lines(self) -> list[str]:
        return self.stderr.read_text().splitlines()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(tmp_path: Path, **env: str) -> Iterator[Served]:
    port = free_port()
    data_dir = tmp_path / "data"
    environment = {
        **os.environ,
        "PROCFLOW_DATA_DIR": str(data_dir),
        "PROCFLOW_PORT": str(port),
        **env,
    }
    environment.pop("PROCFLOW_DATABASE_URL", None)
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout.open("w") as out, stderr.open("w") as err:
        process = subprocess.Popen(
            [str(PROCFLOW), "serve"], stdout=out, stderr=err, env=environment, cwd=tmp_path
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, stderr)
        yield Served(base, data_dir, stderr)
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``/health/ready`` answers 200; fails with the log if serve exits or is slow."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not become ready:\n{log.read_text()}")


def missing_tool(what: str) -> None:
    """Skip on a laptop without the tool; fail where CI promised it."""
    if CLIENTS_REQUIRED:
        pytest.fail(f"{what} is required (PROCFLOW_REQUIRE_CLIENTS=1)")
    pytest.skip(f"needs {what} (`make test` and CI install it)")
