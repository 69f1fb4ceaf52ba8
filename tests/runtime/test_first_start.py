"""Replicas starting together on an empty data directory and an unseeded database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from procflow.runtime.demo import DEMO_APP, DEMO_WORKSPACE, seed_demo
from procflow.runtime.tokens import SECRET_FILE, load_or_create_secret
from procflow.store.port import Store, StoreTxn

SEEDERS = 4


class _SeedersMeet:
    """A store on which every seeder must pass its "is the demo there?" check before any of
    them opens its writing transaction: the interleaving in which they all decide to seed."""

    def __init__(self, store: Store, parties: int) -> None:
        self._store = store
        self._barrier = threading.Barrier(parties)
        self._calls = threading.local()
        self.dialect = store.dialect

    def transaction(self) -> AbstractContextManager[StoreTxn]:
        calls = getattr(self._calls, "n", 0) + 1
        self._calls.n = calls
        if calls == 2:
            self._barrier.wait(timeout=10)
        return self._store.transaction()


def test_concurrent_first_starts_seed_the_demo_once(store: Store) -> None:
    meeting = _SeedersMeet(store, SEEDERS)
    now = datetime.now(UTC)
    with ThreadPoolExecutor(SEEDERS) as pool:
        builds = list(pool.map(lambda _: seed_demo(meeting, now), range(SEEDERS)))  # type: ignore[arg-type]
    seeded = [b for b in builds if b is not None]
    assert len(seeded) == 1
    with store.transaction() as txn:
        assert txn.get_workspace(DEMO_WORKSPACE) is not None
        assert txn.get_active_build_id(DEMO_WORKSPACE, DEMO_APP) == seeded[0].id


def test_seeding_again_changes_nothing(store: Store) -> None:
    first = seed_demo(store, datetime.now(UTC))
    assert first is not None
    assert seed_demo(store, datetime.now(UTC)) is None
    with store.transaction() as txn:
        assert txn.get_active_build_id(DEMO_WORKSPACE, DEMO_APP) == first.id


def test_concurrent_first_starts_share_one_jwt_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    barrier = threading.Barrier(8)

    def load(_: int) -> str:
        barrier.wait(timeout=10)
        return load_or_create_secret(data_dir)

    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(load, range(8)))
    [secret] = secrets
    assert len(secret) > 32
    assert (data_dir / SECRET_FILE).read_text().strip() == secret
    assert (data_dir / SECRET_FILE).stat().st_mode & 0o077 == 0
    assert [p.name for p in data_dir.iterdir()] == [SECRET_FILE]  # no staged file left behind
