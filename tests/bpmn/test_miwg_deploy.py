"""The 42 OMG MIWG files deploy (into a real SQLite store, and start) or are refused exactly
as ``tests/bpmn/miwg_table.TABLE`` says; regenerate it with ``python -m tests.bpmn.miwg_table``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bpmn.miwg_table import DEPLOYS, TABLE, Refused, files, key, outcome

FILES = files()

pytestmark = pytest.mark.skipif(not FILES, reason="the MIWG suite is not on this machine")


def test_the_table_names_every_file_of_the_suite() -> None:
    assert len(FILES) == 42
    assert sorted(TABLE) == sorted(key(path) for path in FILES)


@pytest.mark.parametrize("path", FILES, ids=key)
def test_file_deploys_or_is_refused_as_the_table_says(path: Path) -> None:
    found = outcome(path)
    assert found == TABLE[key(path)], f"{key(path)}: now {found!r}; update miwg_table.TABLE"
    if isinstance(found, Refused):
        assert found.message.strip()


def test_the_bpmn_io_exports_that_deploy() -> None:
    deploying = {name for name, found in TABLE.items() if found == DEPLOYS}
    assert len(deploying) == 11
    assert "bpmn.io-18.6.1/C.1.1-export.bpmn" in deploying  # user tasks, gateway flows, names
