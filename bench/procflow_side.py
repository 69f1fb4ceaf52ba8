"""Procflow as the benchmarks drive it: the pure engine in memory, or the runtime on a store."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import event

from bench.common import async_variant, model_bytes, pg_database, pg_url
from procflow.engine.events import ActionExecuted, Start
from procflow.engine.start import check_start_data, choose_start_node
from procflow.engine.step import step
from procflow.model.definition import ProcessDefinition
from procflow.model.formats import parse_definition_file
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState, TokenState
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM, Principal
from procflow.runtime.context import RuntimeContext
from procflow.runtime.copying import CopySpec
from procflow.runtime.starting import StartOutcome, StartRequest, StartTarget, start_process
from procflow.store.port import Store
from procflow.store.postgres import PostgresStore
from procflow.store.sql import SqlStore
from procflow.store.sqlite import SqliteStore

MODELS = ("straight", "gateways", "usertask")
_IDS = [uuid.uuid4() for _ in range(5)]


def load_definition(model: str) -> ProcessDefinition:
    return parse_definition_file(model_bytes(model), f"{model}.bpmn")[0]


def run_in_memory(definition: ProcessDefinition, data: dict[str, Any]) -> ProcessInstance:
    """What a start does minus the store: pick and check the start node, create, step; then
    execute the user task's action if the instance waits at one."""
    now = datetime.now(UTC)
    start = choose_start_node(definition, data)
    check_start_data(start, data)
    instance = ProcessInstance(
        uuid=uuid.uuid4(),
        workspace_id=_IDS[0],
        app_id=_IDS[1],
        build_id=_IDS[2],
        definition_id=_IDS[3],
        definition_name=definition.name,
        created_at=now,
        updated_at=now,
        data=data,
    )
    instance = step(definition, instance, Start(start.id), now).instance
    if instance.state is InstanceState.STARTED:
        waiting = next(t for t in instance.tokens if t.state is TokenState.ACTIVE)
        event_ = ActionExecuted(waiting.uuid, "approve", {"review": {"approved": True}})
        instance = step(definition, instance, event_, now).instance
    assert instance.state is InstanceState.FINISHED, instance.incidents
    return instance


# --- the runtime on a real store -----------------------------------------------------------


@dataclass
class Deployment:
    ctx: RuntimeContext
    store: SqlStore
    workspace_id: UUID
    app_id: UUID
    url: str
    commits: CommitCounter

    def start(
        self, process: str, body: dict[str, Any], copy_from: UUID | None = None
    ) -> StartOutcome:
        copy = CopySpec(copy_from) if copy_from is not None else None
        target = StartTarget(self.app_id, self.workspace_id)
        request = StartRequest(target, f"bench_{process}", body=body, copy=copy)
        return start_process(self.ctx, PRINCIPAL, request)

    def start_named(self, process_name: str, body: dict[str, Any]) -> StartOutcome:
        """A start of any process of the deployment's app, by its full name."""
        request = StartRequest(StartTarget(self.app_id, self.workspace_id), process_name, body)
        return start_process(self.ctx, PRINCIPAL, request)


PRINCIPAL: Principal = SYSTEM


class CommitCounter:
    """Counts COMMITs on a SQLAlchemy engine (the "commit" event fires once per commit)."""

    def __init__(self, store: SqlStore) -> None:
        self.count = 0
        self._lock = threading.Lock()
        event.listen(store.engine, "commit", self._on_commit)

    def _on_commit(self, _connection: Any) -> None:
        with self._lock:
            self.count += 1


def deploy_models(store: Store) -> tuple[UUID, UUID]:
    workspace = deploy.create_workspace(store, SYSTEM, "bench")
    app = deploy.create_app(store, SYSTEM, workspace.id, "bench")
    files = {f"{name}.bpmn": model_bytes(name) for name in MODELS}
    name, text = async_variant("straight")
    files[name] = text
    deploy.deploy_build(
        store, SYSTEM, workspace.id, app.id, files, activate=True, now=datetime.now(UTC)
    )
    return workspace.id, app.id


@contextmanager
def deployment(kind: str, workdir: Path, pool_size: int = 8) -> Iterator[Deployment]:
    """A migrated store with the models deployed: ``sqlite`` (WAL, a file in ``workdir``) or
    ``postgres`` (a dedicated database, dropped afterwards)."""
    if kind == "sqlite":
        path = workdir / f"procflow-{uuid.uuid4().hex[:6]}.db"
        with _opened(SqliteStore(path, pool_size=pool_size), f"sqlite:///{path}") as found:
            yield found
        return
    with pg_database("procflow_bench") as name:
        store = PostgresStore(pg_url(name, "postgresql+psycopg"), pool_size=pool_size)
        with _opened(store, pg_url(name)) as found:
            yield found


@contextmanager
def _opened(store: SqlStore, url: str) -> Iterator[Deployment]:
    try:
        store.migrate()
        workspace_id, app_id = deploy_models(store)
        ctx = RuntimeContext(store)
        yield Deployment(ctx, store, workspace_id, app_id, url, CommitCounter(store))
    finally:
        store.close()
