"""Starts take the active build from a cache; activation elsewhere still wins at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.context import RuntimeContext
from procflow.store.sql import SqlStore
from tests.runtime.conftest import TWO_DESKS, Deployed


def _activate_new_build(deployed: Deployed, marker: str) -> None:
    """Another replica (its own runtime context, the same database) deploys and activates."""
    other = RuntimeContext(deployed.ctx.store)
    text = TWO_DESKS.replace("name: two_desks", f"name: two_desks\n# {marker}")
    files = {"two_desks.yaml": text.encode()}
    now = datetime.now(UTC)
    deploy.deploy_build(
        other.store, SYSTEM, deployed.workspace, deployed.app, files, activate=True, now=now
    )


def _active_build_id(deployed: Deployed) -> object:
    with deployed.ctx.store.transaction() as txn:
        return txn.get_active_build_id(deployed.workspace, deployed.app)


def test_a_start_after_another_replica_activated_runs_on_the_new_build(
    deployed: Deployed,
) -> None:
    first = deployed.start("two_desks")  # caches the active build in this context
    _activate_new_build(deployed, "second")
    second = deployed.start("two_desks")
    assert first.build_id != second.build_id
    assert second.build_id == _active_build_id(deployed)
    # The stale entry was replaced: the next start runs on it without another retry.
    third = deployed.start("two_desks")
    assert third.build_id == second.build_id


def test_a_cached_start_does_not_read_the_active_build(deployed: Deployed) -> None:
    deployed.start("two_desks")
    store = deployed.ctx.store
    assert isinstance(store, SqlStore)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        deployed.start("two_desks")
    finally:
        event.remove(store.engine, "before_cursor_execute", record)
    assert not any(s.lstrip().startswith("SELECT active_builds") for s in statements)
    inserts = [s for s in statements if s.startswith("INSERT INTO process_instances")]
    assert len(inserts) == 1
    assert "active_builds" in inserts[0]  # the insert itself checks the cached build
