"""The crash test's marker: ``-m "not crash"`` leaves it out of a quick local run."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "crash: real serve/worker processes killed with SIGKILL mid-load"
    )
