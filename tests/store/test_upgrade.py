"""Upgrading a database written by an earlier release: nothing queued or saved is lost.

A database is migrated to revision 0001 only, given an instance saved in document format 1
with an async task queued the 0001 way, then migrated to the newest revision: the job is
carried over as the wait the upgraded document has, and the worker finishes the instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from alembic import command
from psycopg import sql

from procflow.engine.tokens import token_uuid
from procflow.model.states import InstanceState
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.context import RuntimeContext
from procflow.runtime.worker import Worker, WorkerSettings
from procflow.store.port import NewJob, Store
from procflow.store.postgres import PostgresStore
from procflow.store.schema import process_instances
from procflow.store.sql import SqlStore, alembic_config
from procflow.store.sqlite import SqliteStore
from tests.conftest import _admin_execute, _database_url, _unique_name
from tests.runtime.conftest import ASYNC_CHAIN

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def unmigrated(
    store_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[SqlStore]:
    """An empty database (no tables) on the backend under test."""
    if store_backend == "sqlite":
        opened: SqlStore = SqliteStore(tmp_path / "old.db")
        yield opened
        opened.close()
        return
    request.getfixturevalue("pg_template")  # skips (or fails in CI) without PostgreSQL
    name = _unique_name("procflow_upgrade", "main")
    _admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    opened = PostgresStore(_database_url(name))
    try:
        yield opened
    finally:
        opened.close()
        _admin_execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _migrate_to(store: SqlStore, revision: str) -> None:
    with store.engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


V1_JOBS = sa.table(
    "jobs",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("instance_uuid", sa.Uuid()),
    sa.column("token_uuid", sa.Uuid()),
    sa.column("node_id", sa.String()),
    sa.column("run_at", sa.DateTime(timezone=True)),
    sa.column("attempts", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _save_a_format_1_instance(store: Store, workspace: UUID, app: UUID) -> UUID:
    """What release 0.1 left behind: async task t1 queued, its token EXECUTING there."""
    assert isinstance(store, SqlStore)
    with store.transaction() as txn:
        build_id = txn.get_active_build_id(workspace, app)
        assert build_id is not None
        build = txn.get_build(build_id)
    assert build is not None
    [definition] = [d for d in build.definitions if d.name == "async_chain"]
    instance = uuid4()
    token = token_uuid(instance, 1)
    document = {
        "formatVersion": 1,
        "tokens": [{"id": 1, "uuid": str(token), "nodeId": "t1", "state": "ACTIVE",
                    "status": "EXECUTING", "parentId": None}],
        "incidents": [],
        "nextTokenId": 2,
    }  # fmt: skip
    with store.engine.begin() as connection:
        connection.execute(
            process_instances.insert(),
            {"uuid": instance, "workspace_id": workspace, "app_id": app, "build_id": build.id,
             "definition_id": definition.id, "definition_name": "async_chain",
             "state": "STARTED", "data": {}, "document": document, "version": 1,
             "copied_from_uuid": None, "lineage_root_uuid": None, "created_at": T0,
             "updated_at": T0},
        )  # fmt: skip
        # Jobs 1-6 were completed (deleted) already: their ids must not come back.
        connection.execute(
            V1_JOBS.insert(),
            [{"id": 7, "kind": "run_task", "instance_uuid": instance, "token_uuid": token,
              "node_id": "t1", "run_at": T0, "attempts": 0, "created_at": T0}],
        )  # fmt: skip
    return instance


def test_a_task_queued_by_release_0_1_runs_after_the_upgrade(unmigrated: SqlStore) -> None:
    _migrate_to(unmigrated, "0001")
    workspace, app = uuid4(), uuid4()
    deploy.create_workspace(unmigrated, SYSTEM, "old", workspace)
    deploy.create_app(unmigrated, SYSTEM, workspace, "old", app)
    files = {"async_chain.yaml": ASYNC_CHAIN.encode()}
    deploy.deploy_build(unmigrated, SYSTEM, workspace, app, files, activate=True, now=T0)
    instance_uuid = _save_a_format_1_instance(unmigrated, workspace, app)

    unmigrated.migrate()

    with unmigrated.transaction() as txn:
        [job] = txn.list_jobs(instance_uuid)
        instance = txn.get_instance(instance_uuid)
    assert instance is not None
    [wait] = instance.waits
    assert (job.kind, job.wait_id, job.node_id) == ("task", wait.id, "t1")
    assert job.key == f"{instance_uuid}/{wait.id}"
    worker = Worker(RuntimeContext(unmigrated), WorkerSettings(worker_id="after-upgrade"))
    while worker.run_once():
        pass
    with unmigrated.transaction() as txn:
        done = txn.get_instance(instance_uuid)
        txn.enqueue_jobs([NewJob("probe", T0, key="probe")])
        [probe] = txn.claim_jobs("probe", T0, 30, 1)
    assert done is not None
    assert done.state is InstanceState.FINISHED
    assert done.data == {"s1": 1, "s2": 2, "s3": 3}
    assert probe.id > 7
