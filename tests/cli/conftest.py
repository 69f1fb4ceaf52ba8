"""One real ``procflow serve`` (SQLite, embedded worker) per test module: starting one costs
seconds, and the tests keep apart by their own instances, apps or workspaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.served import serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The base URL and the banner (serve's stdout), whose ``export TOKEN=`` line holds a
    token for the demo workspace; the data directory is ``data`` beside it."""
    folder = tmp_path_factory.mktemp("serve")
    with serve(folder) as served:
        yield served.base, folder / "serve.out"
