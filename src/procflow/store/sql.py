"""The SQL core shared by every dialect: each query of the ``StoreTxn`` port, written once.

``SqlTxn`` runs inside one SQLAlchemy ``Connection`` transaction and executes the statements
of ``store.statements``, built once at import. Dialect subclasses override only what
differs: the insert construct for ``ON CONFLICT``, how a transaction begins, and how job
wake-ups travel.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    Engine,
    RootTransaction,
    Row,
    Select,
    text,
)

from procflow.model.build import App, Build, DefinitionSource, Workspace
from procflow.model.errors import ActiveBuildChanged, ConcurrentModification
from procflow.model.instance import Calling, Lineage, ProcessInstance
from procflow.model.limits import has_long_digit_run
from procflow.model.states import InstanceState
from procflow.store import gauge_statements as gauges
from procflow.store import statements as q
from procflow.store.external_tasks import (
    SELECT_ANSWERABLE,
    TASK_PREFIX,
    ExternalTaskQueries,
    task_from_mapping,
)
from procflow.store.hot import Compiled, Converters, HotCursor, HotStatements, Params
from procflow.store.hot_reads import fetch_rows, hot_select
from procflow.store.messages import MessageQueries
from procflow.store.port import (
    AuditRecord,
    AuditSummary,
    ChildSummary,
    ExternalTask,
    IdempotencyRecord,
    InstanceQuery,
    Job,
    JobClaimLost,
    JobQueueStat,
    LiveInstanceCount,
    NewAuditEvent,
    NewJob,
)
from procflow.store.schema import (
    apps,
    builds,
    process_definitions,
    workspaces,
)
from procflow.store.sql_batches import BatchStatements
from procflow.store.sql_catalog import CatalogReads

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger("procflow.store")

AnyRow = Row[*tuple[Any, ...]]
AnySelect = Select[*tuple[Any, ...]]


def json_dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses integers beyond 64 bits and non-string keys, which the standard
        # library writes; such values are rare, and a write must not fail for them.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_dumps(value: Any) -> str:
    return json_dumps_bytes(value).decode()


# JSONB stores numbers as NUMERIC, and NUMERIC keeps the digits after the point but not an
# exponent: orjson writes 1e16 as "1e+16", which PostgreSQL hands back as the integer
# 10000000000000000, so a float would come back as an int (and 1e20 as an int past 64 bits).
# Written positionally with a ".0" ("10000000000000000.0"), the value keeps its scale and
# reads back as the same float. orjson only uses a positive exponent from 1e16 up.
_EXPONENT_MASK = bytes(
    0x30 if 0x30 <= byte <= 0x39 else byte if byte in b"e+" else 0x20 for byte in range(256)
)
_POSITIVE_EXPONENT = b"0e+0"
_FLOAT_NEEDS_POSITIONAL = 1e16


def jsonb_dumps_bytes(value: Any) -> bytes:
    """``json_dumps_bytes`` whose floats survive a JSONB round trip as floats."""
    encoded = json_dumps_bytes(value)
    # A string holding something like "2e+5" also matches: then the walk below finds no
    # float to rewrite and costs one more encoding, never a wrong answer.
    if _POSITIVE_EXPONENT not in encoded.translate(_EXPONENT_MASK):
        return encoded
    return json_dumps_bytes(_positional_floats(value))


def _positional_floats(value: Any) -> Any:
    kind = type(value)
    if kind is float and abs(value) >= _FLOAT_NEEDS_POSITIONAL and math.isfinite(value):
        # repr is the shortest text that reads back as this double; Decimal spells it out.
        digits = format(Decimal(repr(value)), "f")
        return orjson.Fragment(f"{digits}.0" if "." not in digits else digits)
    if kind is dict:
        return {key: _positional_floats(item) for key, item in value.items()}
    if kind is list:
        return [_positional_floats(item) for item in value]
    return value


def json_loads(value: str | bytes | memoryview) -> Any:
    if isinstance(value, str):
        # UTF-8 keeps ASCII digits as they are and turns every other character into bytes
        # >= 0x80, so digit runs are the same in the text and in its encoding.
        long_integers = has_long_digit_run(value.encode("utf-8", "surrogatepass"))
    else:
        value = bytes(value) if isinstance(value, memoryview) else value
        long_integers = has_long_digit_run(value)
    return json.loads(value) if long_integers else orjson.loads(value)


def _instance_from_row(row: AnyRow) -> ProcessInstance:
    return _instance_from_mapping(row._mapping)


def _instance_from_mapping(m: Mapping[Any, Any]) -> ProcessInstance:
    instance = ProcessInstance(
        uuid=m["uuid"],
        workspace_id=m["workspace_id"],
        app_id=m["app_id"],
        build_id=m["build_id"],
        definition_id=m["definition_id"],
        definition_name=m["definition_name"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        state=InstanceState(m["state"]),
        data=m["data"],
        lineage=Lineage(m["copied_from_uuid"], m["lineage_root_uuid"]),
        calling=Calling(m["parent_uuid"], m["root_uuid"], m["call_depth"] or 0),
        version=m["version"],
        id=m["id"],
    )
    return instance.with_document(m["document"])


def _instance_values(
    instance: ProcessInstance, version: int, convert: Converters
) -> dict[str, Any]:
    uuid, timestamp = convert.uuid, convert.timestamp
    return {
        "uuid": uuid(instance.uuid),
        "workspace_id": uuid(instance.workspace_id),
        "app_id": uuid(instance.app_id),
        "build_id": uuid(instance.build_id),
        "definition_id": uuid(instance.definition_id),
        "definition_name": instance.definition_name,
        "state": instance.state.value,
        "data": convert.json(instance.data),
        "document": convert.json(instance.to_document()),
        "version": version,
        "copied_from_uuid": uuid(instance.lineage.copied_from_uuid),
        "lineage_root_uuid": uuid(instance.lineage.lineage_root_uuid),
        "parent_uuid": uuid(instance.calling.parent_uuid),
        "root_uuid": uuid(instance.calling.root_uuid),
        "call_depth": instance.calling.depth or None,
        "created_at": timestamp(instance.created_at),
        "updated_at": timestamp(instance.updated_at),
    }


def _job_from_row(row: AnyRow) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        kind=m["kind"],
        key=m["key"],
        attempts=m["attempts"],
        run_at=m["run_at"],
        instance_uuid=m["instance_uuid"],
        wait_id=m["wait_id"],
        token_uuid=m["token_uuid"],
        node_id=m["node_id"],
        payload=m["payload"],
        locked_until=m["locked_until"],
    )


def _job_values(job: NewJob, created_at: Any, convert: Converters) -> dict[str, Any]:
    uuid = convert.uuid
    return {
        "kind": job.kind, "key": job.key, "instance_uuid": uuid(job.instance_uuid),
        "wait_id": job.wait_id, "token_uuid": uuid(job.token_uuid), "node_id": job.node_id,
        "payload": convert.json(job.payload), "run_at": convert.timestamp(job.run_at),
        "attempts": 0, "held": False, "locked_by": None, "locked_until": None,
        "last_error": None, "created_at": created_at,
    }  # fmt: skip


class SqlTxn(BatchStatements, CatalogReads, ExternalTaskQueries, MessageQueries):
    """``StoreTxn`` on one connection inside an open transaction."""

    def __init__(
        self, connection: Connection, dialect: q.DialectStatements, hot: HotStatements
    ) -> None:
        self.connection = connection
        self._dialect = dialect
        self._hot_statements = hot
        self._hot_cursor: HotCursor | None = None
        self._released = False
        self._message_result_insert = dialect.insert_message_result
        self.enqueued_jobs = False
        # Set by ``commit_lazily``: the COMMIT does not wait for the disk (PostgreSQL).
        self.lazy_commit = False
        # Appended audit events, by append: (instance, events, at).
        self.unwritten_events: list[tuple[UUID, tuple[NewAuditEvent, ...], datetime]] = []
        self.after_commit_callbacks: list[Callable[[], None]] = []

    @property
    def _hot(self) -> HotCursor:
        if self._hot_cursor is None:
            assert not self._released, "the transaction is over: its connection is pooled"
            self._hot_cursor = HotCursor(self.connection, self._hot_statements)
        return self._hot_cursor

    def release_cursor(self) -> None:
        """Close the driver cursor before the connection goes back to the pool.

        A cursor left to the garbage collector is finalized whenever the transaction object
        dies, possibly while another thread holds the same pooled connection: sqlite3 then
        resets a cached statement under that thread ("bad parameter or other API misuse").
        """
        self._released = True
        if self._hot_cursor is not None:
            self._hot_cursor.close()
            self._hot_cursor = None

    def _one(self, statement: AnySelect, **params: Any) -> AnyRow | None:
        return self.connection.execute(statement, params).first()

    # workspaces and apps

    def insert_workspace(self, workspace: Workspace) -> None:
        self.connection.execute(workspaces.insert(), {"id": workspace.id, "name": workspace.name})

    def get_workspace(self, workspace_id: UUID) -> Workspace | None:
        row = self._one(q.SELECT_WORKSPACE, id=workspace_id)
        return Workspace(row.id, row.name) if row else None

    def insert_app(self, app: App) -> None:
        values = {"id": app.id, "workspace_id": app.workspace_id, "name": app.name}
        self.connection.execute(apps.insert(), values)

    def get_app(self, app_id: UUID) -> App | None:
        row = self._one(q.SELECT_APP, id=app_id)
        return App(row.id, row.workspace_id, row.name) if row else None

    # builds and definitions

    def insert_build(self, build: Build) -> None:
        self.connection.execute(
            builds.insert(),
            {
                "id": build.id,
                "workspace_id": build.workspace_id,
                "app_id": build.app_id,
                "checksum": build.checksum,
                "status": build.status,
                "created_at": build.created_at,
            },
        )
        if build.definitions:
            self.connection.execute(
                process_definitions.insert(),
                [
                    {"id": d.id, "build_id": build.id, "name": d.name, "file_name": d.file_name,
                     "text": d.text}
                    for d in build.definitions
                ],
            )  # fmt: skip

    def get_build(self, build_id: UUID) -> Build | None:
        row = self._one(q.SELECT_BUILD, id=build_id)
        if row is None:
            return None
        definitions = self.connection.execute(q.SELECT_BUILD_DEFINITIONS, {"build_id": build_id})
        return Build(
            id=row.id,
            workspace_id=row.workspace_id,
            app_id=row.app_id,
            checksum=row.checksum,
            created_at=row.created_at,
            definitions=tuple(
                DefinitionSource(d.id, d.name, d.file_name, d.text) for d in definitions
            ),
            status=row.status,
        )

    def set_active_build(self, workspace_id: UUID, app_id: UUID, build_id: UUID) -> None:
        values = {"workspace_id": workspace_id, "app_id": app_id, "build_id": build_id}
        self.connection.execute(self._dialect.upsert_active_build, values)

    def get_active_build_id(self, workspace_id: UUID, app_id: UUID) -> UUID | None:
        hot = self._hot
        uuid = hot.convert.uuid
        params = {"workspace_id": uuid(workspace_id), "app_id": uuid(app_id)}
        row = hot.execute(self._hot_statements.select_active_build, params).fetchone()
        return None if row is None else hot.convert.read_uuid(row[0])

    def get_definition_source(self, definition_id: UUID) -> DefinitionSource | None:
        row = self._one(q.SELECT_DEFINITION, id=definition_id)
        return DefinitionSource(row.id, row.name, row.file_name, row.text) if row else None

    # instances

    def insert_instance(
        self, instance: ProcessInstance, *, while_active: bool = False
    ) -> ProcessInstance:
        hot = self._hot
        values = _instance_values(instance, version=1, convert=hot.convert)
        statements = self._hot_statements
        statement = (
            statements.insert_instance_while_active
            if while_active
            else (statements.insert_instance)
        )
        row = hot.execute(statement, values).fetchone()
        if row is None:
            raise ActiveBuildChanged(buildId=str(instance.build_id))
        return replace(instance, id=row[0], version=1)

    def update_instance(self, instance: ProcessInstance) -> ProcessInstance:
        convert = self._hot.convert
        params = {
            "b_uuid": convert.uuid(instance.uuid),
            "b_version": instance.version,
            "state": instance.state.value,
            "data": convert.json(instance.data),
            "document": convert.json(instance.to_document()),
            "updated_at": convert.timestamp(instance.updated_at),
        }
        uuid = str(instance.uuid)
        self._write_checked(
            self._hot_statements.update_instance,
            params,
            lambda: ConcurrentModification(instance_uuid=uuid),
        )
        return replace(instance, version=instance.version + 1)

    def _write_checked(
        self, statement: Compiled, params: Params, refused: Callable[[], Exception]
    ) -> None:
        """Run a write that must change exactly one row; ``refused()`` is raised when it
        does not. Here at once: on SQLite a statement costs no round trip."""
        if self._hot.execute(statement, params).rowcount != 1:
            raise refused()

    def defer_checked_writes(self) -> None:
        # Only PostgresTxn defers: a round trip is what deferring saves.
        pass

    def get_instance(
        self, instance_uuid: UUID, *, for_update: bool = False
    ) -> ProcessInstance | None:
        # Through the DBAPI cursor: every copy, answer and operation reads its instance
        # here, and SQLAlchemy's execution context cost more than the read (a copy's
        # source read was 40% of what a copy adds to a start, cProfile on SQLite).
        hot = self._hot
        statement = q.SELECT_INSTANCE_FOR_UPDATE if for_update else q.SELECT_INSTANCE
        rows = fetch_rows(hot, hot_select(self._hot_statements, statement),
                          {"uuid": hot.convert.uuid(instance_uuid)})  # fmt: skip
        return _instance_from_mapping(rows[0]) if rows else None

    def lock_answerable_external_task(
        self, task_id: UUID
    ) -> tuple[ProcessInstance, ExternalTask] | None:
        hot = self._hot
        answerable = hot_select(self._hot_statements, SELECT_ANSWERABLE)
        rows = fetch_rows(hot, answerable, {"id": hot.convert.uuid(task_id)})
        if not rows:
            return None
        [row] = rows
        return _instance_from_mapping(row), task_from_mapping(row, TASK_PREFIX)

    def search_instances(self, query: InstanceQuery) -> list[ProcessInstance]:
        statement = q.search_instances(query)
        return [_instance_from_row(row) for row in self.connection.execute(statement)]

    def search_instance_uuids(self, query: InstanceQuery) -> list[tuple[int, UUID]]:
        rows = self.connection.execute(q.search_instance_uuids(query))
        return [(row.id, row.uuid) for row in rows]

    def count_instances(self, query: InstanceQuery) -> int:
        return int(self.connection.execute(q.count_instances(query)).scalar_one())

    def children_of(self, parent_uuid: UUID) -> list[ChildSummary]:
        rows = self.connection.execute(q.SELECT_CHILDREN, {"parent": parent_uuid})
        return [ChildSummary(row.uuid, row.definition_name, row.state) for row in rows]

    def lineage_members(self, lineage_root_uuid: UUID) -> list[ProcessInstance]:
        rows = self.connection.execute(q.SELECT_LINEAGE, {"root": lineage_root_uuid})
        return [_instance_from_row(row) for row in rows]

    # audit log (append-only)

    def append_audit(
        self, instance_uuid: UUID, events: Sequence[NewAuditEvent], at: datetime
    ) -> None:
        # Kept until the commit (or a read of the log), where they go out with it: on
        # PostgreSQL in the COMMIT's own round trip (``PostgresStore``).
        if events:
            self.unwritten_events.append((instance_uuid, tuple(events), at))

    def write_unwritten_events(self) -> None:
        """The audit events appended so far, in the order they were appended."""
        if not self.unwritten_events:
            return
        hot = self._hot
        convert = hot.convert
        uuid, json = convert.uuid, convert.json
        rows: list[dict[str, Any]] = []
        for instance_uuid, events, at in self.unwritten_events:
            instance, at_value = uuid(instance_uuid), convert.timestamp(at)
            rows.extend(
                {"instance_uuid": instance, "type": e.type, "node_id": e.node_id,
                 "token_uuid": uuid(e.token_uuid), "details": json(e.details), "at": at_value}
                for e in events
            )  # fmt: skip
        self.unwritten_events = []
        hot.executemany(self._hot_statements.insert_audit, rows)

    def summarize_audit(self, instance_uuid: UUID) -> AuditSummary:
        self.write_unwritten_events()
        rows = self.connection.execute(q.SUMMARIZE_AUDIT, {"instance_uuid": instance_uuid}).all()
        last_at = max((row[2] for row in rows), default=None)
        return AuditSummary({row[0]: row[1] for row in rows}, last_at)

    def list_audit(self, instance_uuid: UUID) -> list[AuditRecord]:
        self.write_unwritten_events()
        rows = self.connection.execute(q.SELECT_AUDIT, {"instance_uuid": instance_uuid})
        return [
            AuditRecord(r.seq, r.instance_uuid, r.type, r.node_id, r.token_uuid, r.details, r.at)
            for r in rows
        ]

    def after_commit(self, callback: Callable[[], None]) -> None:
        self.after_commit_callbacks.append(callback)

    def commit_lazily(self) -> None:
        # Heard by PostgresStore._commit. SQLite keeps the store's own setting: under the
        # default synchronous=NORMAL in WAL mode no commit waits for the disk anyway.
        self.lazy_commit = True

    # idempotency keys

    def get_idempotency(self, workspace_id: UUID, key: str) -> IdempotencyRecord | None:
        row = self._one(q.SELECT_IDEMPOTENCY, workspace_id=workspace_id, key=key)
        return (
            IdempotencyRecord(row.workspace_id, row.key, row.request_hash, row.instance_uuid)
            if row
            else None
        )

    def insert_idempotency(self, record: IdempotencyRecord) -> bool:
        result = self.connection.execute(
            self._dialect.insert_idempotency_key,
            {
                "workspace_id": record.workspace_id,
                "key": record.key,
                "request_hash": record.request_hash,
                "instance_uuid": record.instance_uuid,
                "created_at": datetime.now(UTC),
            },
        )
        return bool(result.rowcount == 1)

    # jobs

    def enqueue_jobs(self, jobs: Sequence[NewJob]) -> None:
        if not jobs:
            return
        hot = self._hot
        created_at = hot.convert.timestamp(datetime.now(UTC))
        self._insert_job_rows([_job_values(job, created_at, hot.convert) for job in jobs])
        self.enqueued_jobs = True

    def _insert_job_rows(self, rows: list[dict[str, Any]]) -> None:
        hot = self._hot
        if len(rows) == 1:
            # psycopg runs executemany in a pipeline of its own: costlier for a single row.
            hot.execute(self._hot_statements.insert_jobs, rows[0])
        else:
            hot.executemany(self._hot_statements.insert_jobs, rows)

    def cancel_jobs(self, instance_uuid: UUID, wait_ids: Sequence[str]) -> int:
        if not wait_ids:
            return 0
        params = {"instance_uuid": instance_uuid, "wait_ids": list(wait_ids)}
        return int(self.connection.execute(q.CANCEL_JOBS, params).rowcount)

    def cancel_jobs_with_key_prefix(self, prefix: str) -> int:
        escaped = "".join(q.LIKE_ESCAPE + c if c in "%_" + q.LIKE_ESCAPE else c for c in prefix)
        params = {"pattern": escaped + "%"}
        return int(self.connection.execute(q.CANCEL_JOBS_WITH_KEY_PREFIX, params).rowcount)

    def hold_jobs(self, instance_uuid: UUID, held: bool) -> None:
        self.connection.execute(q.HOLD_JOBS, {"b_instance_uuid": instance_uuid, "b_held": held})
        if not held:
            self.enqueued_jobs = True  # due ones are claimable now: wake the workers
            self._external_tasks_fetchable()  # and its external tasks fetchable

    def list_jobs(self, instance_uuid: UUID) -> list[Job]:
        rows = self.connection.execute(q.SELECT_INSTANCE_JOBS, {"instance_uuid": instance_uuid})
        return [_job_from_row(row) for row in rows]

    def claim_jobs(
        self, worker_id: str, now: datetime, lease_seconds: float, limit: int
    ) -> list[Job]:
        params = {
            "now": now,
            "limit": limit,
            "worker_id": worker_id,
            "locked_until": now + timedelta(seconds=lease_seconds),
        }
        claimed = [_job_from_row(row) for row in self.connection.execute(q.CLAIM_JOBS, params)]
        return sorted(claimed, key=lambda job: (job.run_at, job.id))

    def next_job_due_at(self) -> datetime | None:
        due: datetime | None = self.connection.execute(q.NEXT_DUE_AT).scalar()
        return due

    def complete_job(self, job_id: int, worker_id: str) -> None:
        params = {"b_id": job_id, "b_w": worker_id}
        self._write_checked(self._hot_statements.complete_job, params, JobClaimLost)

    def continue_job(
        self,
        job: Job,
        worker_id: str,
        follow_up: NewJob,
        now: datetime,
        lease_seconds: float,
    ) -> Job:
        locked_until = now + timedelta(seconds=lease_seconds)
        hot = self._hot
        convert = hot.convert
        params = {
            "b_id": job.id, "b_w": worker_id, "kind": follow_up.kind, "key": follow_up.key,
            "wait_id": follow_up.wait_id, "token_uuid": convert.uuid(follow_up.token_uuid),
            "node_id": follow_up.node_id, "payload": convert.json(follow_up.payload),
            "now": convert.timestamp(now), "locked_until": convert.timestamp(locked_until),
            "last_error": None,
        }  # fmt: skip
        self._write_checked(self._hot_statements.continue_job, params, JobClaimLost)
        return Job(
            id=job.id,
            kind=follow_up.kind,
            key=follow_up.key,
            attempts=1,
            run_at=now,
            instance_uuid=job.instance_uuid,
            wait_id=follow_up.wait_id,
            token_uuid=follow_up.token_uuid,
            node_id=follow_up.node_id,
            payload=follow_up.payload,
            locked_until=locked_until,
        )

    def release_job(self, job_id: int, worker_id: str, retry_at: datetime, error: str) -> None:
        params = {"b_id": job_id, "b_w": worker_id, "retry_at": retry_at, "error": error}
        self.connection.execute(q.RELEASE_JOB, params)

    def park_job(self, job_id: int, worker_id: str) -> bool:
        result = self.connection.execute(q.PARK_JOB, {"b_id": job_id, "b_w": worker_id})
        return bool(result.rowcount == 1)

    def count_live_instances(self) -> list[LiveInstanceCount]:
        rows = self.connection.execute(gauges.COUNT_LIVE_INSTANCES)
        return [LiveInstanceCount(name, state, count) for name, state, count in rows]

    def job_queue_stats(self, now: datetime) -> list[JobQueueStat]:
        rows = self.connection.execute(gauges.JOB_QUEUE_STATS, {"now": now})
        return [JobQueueStat(kind, queued, oldest) for kind, queued, oldest in rows]


class SqlStore:
    """``Store`` over a SQLAlchemy ``Engine``; subclasses create the engine for their dialect."""

    dialect: str
    dialect_insert: ClassVar[q.InsertConstruct]
    txn_class: ClassVar[type[SqlTxn]] = SqlTxn

    def __init__(self, engine: Engine, json_serializer: Callable[[Any], Any]) -> None:
        self.engine = engine
        self._statements = q.DialectStatements.using(type(self).dialect_insert)
        self._hot = HotStatements(engine.dialect, json_serializer, self._statements)
        self._jobs_enqueued = threading.Event()
        self._external_task_listeners: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[SqlTxn]:
        with (
            self._writing(),
            self.engine.connect() as connection,
            connection.begin() as transaction,
        ):
            txn = yield from self._open_and_commit(connection, transaction)
        # Committed, and (SQLite) the write lock released: nothing below holds up the next
        # writer, and nothing below runs for a transaction that rolled back.
        if txn.enqueued_jobs:
            self._jobs_enqueued.set()
        if txn.external_tasks_changed:
            self._external_tasks_changed()
        _run_after_commit(txn)

    def _writing(self) -> AbstractContextManager[object]:
        """Held around a write transaction, from before BEGIN to after COMMIT."""
        return nullcontext()

    def on_external_tasks(self, callback: Callable[[], None]) -> None:
        self._external_task_listeners.append(callback)

    def _external_tasks_changed(self) -> None:
        for callback in list(self._external_task_listeners):
            callback()

    @contextmanager
    def read_transaction(self) -> Iterator[SqlTxn]:
        """A transaction that only reads; on SQLite it does not take the write lock.

        Writing through it works but may fail with "database is locked" on SQLite under
        concurrency: use ``transaction()`` for anything that writes.
        """
        with self.engine.connect() as connection:
            connection.execution_options(procflow_read_only=True)
            with connection.begin() as transaction:
                txn = yield from self._open_and_commit(connection, transaction)
        _run_after_commit(txn)

    def _open_and_commit(
        self, connection: Connection, transaction: RootTransaction
    ) -> Generator[SqlTxn, None, SqlTxn]:
        """Yield the transaction's ``SqlTxn``, commit it, and answer it; its driver cursor is
        closed before the connection goes back to the pool, committed or not."""
        txn = self._txn(connection)
        try:
            yield txn
            self._commit(txn, transaction)
        finally:
            txn.release_cursor()
        return txn

    def _commit(self, txn: SqlTxn, transaction: RootTransaction) -> None:
        """Write what the transaction kept back, then commit."""
        txn.write_unwritten_events()
        transaction.commit()

    def _txn(self, connection: Connection) -> SqlTxn:
        return self.txn_class(connection, self._statements, self._hot)

    def migrate(self) -> None:
        with self.engine.begin() as connection:
            self._lock_for_migration(connection)
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def _lock_for_migration(self, connection: Connection) -> None:
        """Serialize concurrent ``migrate()`` calls (several replicas starting at once)."""

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def close(self) -> None:
        self.engine.dispose()

    def wait_for_jobs(self, timeout: float) -> None:
        # In-process wake-up: set after a transaction that enqueued jobs commits, so a job
        # enqueued just before the clear below is still visible to the caller's next claim.
        if self._jobs_enqueued.wait(timeout):
            self._jobs_enqueued.clear()


def _run_after_commit(txn: SqlTxn) -> None:
    # The work is committed whatever a callback does: a failing one is logged, never
    # raised, so that its caller does not take a committed command for a failed one.
    for callback in txn.after_commit_callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


def alembic_config() -> Config:
    """Alembic configuration built in code: no ``alembic.ini`` is needed at runtime."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
