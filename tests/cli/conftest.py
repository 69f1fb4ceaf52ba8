"""One real ``procflow serve`` (SQLite, embedded worker) per test module: starting one costs
seconds, and the tests keep apart by their own instances, apps or workspaces."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.served import PROCFLOW, free_port, wait_ready


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The base URL and the banner log (its ``export TOKEN=`` line holds a dev token)."""
    tmp_path = tmp_path_factory.mktemp("serve")
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
