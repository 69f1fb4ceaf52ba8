"""The crash tests' marker (``-m "not crash"`` leaves them out of a quick local run) and
their cluster of real processes on a fresh database of the backend under test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crash.cluster import Cluster


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crash: real serve/worker processes killed with SIGKILL mid-load"
    )


@pytest.fixture
def cluster(store_url: str, tmp_path: Path) -> Iterator[Cluster]:
    """Services started by the test, stopped (and their processes gone) afterwards."""
    started = Cluster(store_url, tmp_path / "data", tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
