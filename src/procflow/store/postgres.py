"""PostgreSQL: the distributed engine for many replicas and workers (psycopg 3).

Row locks guard instances (``SELECT ... FOR UPDATE``), workers claim jobs with
``FOR UPDATE SKIP LOCKED`` (in the shared SQL core), and a NOTIFY on ``procflow_jobs``,
delivered when the enqueuing transaction commits, wakes every listening worker at once.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

import psycopg
from sqlalchemy import Connection, RootTransaction, create_engine, event, make_url, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.exc import DBAPIError

from procflow.store.hot import CHECKED_WRITE_REFUSED, Compiled, Params, checked
from procflow.store.port import ExternalTask, NewAuditEvent
from procflow.store.sql import SqlStore, SqlTxn, json_loads, jsonb_dumps_bytes

JOBS_CHANNEL = "procflow_jobs"
EXTERNAL_TASKS_CHANNEL = "procflow_external_tasks"
# Any constant works; it only has to be the same for every replica running migrations.
MIGRATION_LOCK_KEY = 0x70726F63666C6F77  # "procflow"

_NOTIFY = "SELECT pg_notify(%s, '')"
_LAZY_COMMIT = "SET LOCAL synchronous_commit TO OFF"
# How long the external-task listener waits for a notification before checking it should stop.
_LISTEN_SLICE_SECONDS = 1.0


def _rows_document(
    events: list[tuple[UUID, tuple[NewAuditEvent, ...], datetime]],
    timestamp: Callable[[datetime], Any],
) -> str | None:
    """The events as one JSON array of rows (orjson writes uuids and aware datetimes as
    PostgreSQL reads them); None when a value needs the standard library's encoder (an
    integer beyond 64 bits), which cannot write those types."""
    rows: list[dict[str, Any]] = []
    for instance_uuid, appended, at in events:
        at_value = timestamp(at)
        rows.extend(
            {"instance_uuid": instance_uuid, "type": e.type, "node_id": e.node_id,
             "token_uuid": e.token_uuid, "details": e.details, "at": at_value}
            for e in appended
        )  # fmt: skip
    try:
        return jsonb_dumps_bytes(rows).decode()
    except TypeError:
        return None


@dataclass(frozen=True)
class _WaitingWrite:
    """A write kept for the COMMIT's pipeline; ``refused`` makes it a checked write (it
    must change exactly one row), None a plain one (a job's insert)."""

    statement: Compiled
    params: Params
    refused: Callable[[], Exception] | None


# The checked variant of each hot statement (hot.checked), built on first use.
_CHECKED: dict[str, Compiled] = {}
_REFUSED_INDEX = re.compile(re.escape(CHECKED_WRITE_REFUSED) + r" (\d+) ")
# The transactions with waiting writes, by connection: what the listener on every
# SQLAlchemy statement looks in (``_run_waiting_writes_first``).
_WAITING: WeakKeyDictionary[Connection, PostgresTxn] = WeakKeyDictionary()


def _checked(statement: Compiled) -> Compiled:
    variant = _CHECKED.get(statement.sql)
    if variant is None:
        variant = _CHECKED[statement.sql] = checked(statement)
    return variant


def _run_waiting_writes_first(connection: Connection, *_: object) -> None:
    """Before any statement that goes through SQLAlchemy: the transaction's waiting
    writes run first, so that the statement sees them."""
    txn = _WAITING.get(connection)
    if txn is not None:
        txn.run_waiting_writes()


class PostgresTxn(SqlTxn):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting_writes: list[_WaitingWrite] = []
        self._deferring = False

    def defer_checked_writes(self) -> None:
        self._deferring = True

    def _write_checked(
        self, statement: Compiled, params: Params, refused: Callable[[], Exception]
    ) -> None:
        if self._deferring:
            self._keep_for_commit(_WaitingWrite(statement, params, refused))
        else:
            super()._write_checked(statement, params, refused)

    def _keep_for_commit(self, write: _WaitingWrite) -> None:
        if not self.waiting_writes:
            # Any statement sent before the commit runs the waiting writes first.
            self._hot.before_statement = self.run_waiting_writes
            _WAITING[self.connection] = self
        self.waiting_writes.append(write)

    def take_waiting_writes(self) -> list[_WaitingWrite]:
        writes, self.waiting_writes = self.waiting_writes, []
        if writes:
            self._hot.before_statement = None
            _WAITING.pop(self.connection, None)
        return writes

    def run_waiting_writes(self) -> None:
        """The waiting writes, one statement each, checked as they run."""
        self.send_waiting_writes(self.take_waiting_writes(), pipelined=False)

    def send_waiting_writes(self, writes: list[_WaitingWrite], *, pipelined: bool) -> None:
        """``writes`` in order. In the pipeline the COMMIT closes (``pipelined``), a
        checked one is sent in its failing form (``_refusal`` says which one failed);
        otherwise its row count is checked at once."""
        for index, write in enumerate(writes):
            if write.refused is None:
                self._hot.execute(write.statement, write.params)
            elif pipelined:
                params = {**write.params, "pf_check": index}
                self._hot.execute(_checked(write.statement), params)
            else:
                super()._write_checked(write.statement, write.params, write.refused)

    def write_unwritten_events(self) -> None:
        # One statement, not the driver's executemany: that is a pipeline of its own, whose
        # closing sync would cost a round trip inside the COMMIT's pipeline.
        if not self.unwritten_events:
            return
        document = _rows_document(self.unwritten_events, self._hot.convert.timestamp)
        if document is None:
            super().write_unwritten_events()
            return
        self.unwritten_events = []
        self._hot.execute(self._hot_statements.insert_audit_rows, {"rows": document})

    def _insert_job_rows(self, rows: list[dict[str, Any]]) -> None:
        # Nothing is read back (a key already queued is skipped): the rows go out with
        # the COMMIT, and the NOTIFY that wakes the workers with them (``_commit``).
        for row in rows:
            self._keep_for_commit(_WaitingWrite(self._hot_statements.insert_jobs, row, None))

    def lock_external_tasks(
        self,
        worker_id: str,
        topic: str,
        now: datetime,
        locked_until: datetime,
        limit: int,
        workspace_ids: Sequence[UUID] | None,
    ) -> list[ExternalTask]:
        locked = self._lock_returning_rows(
            worker_id, topic, now, locked_until, limit, workspace_ids
        )
        if locked:
            # A lock is a lease: one lost in a crash only makes the task fetchable again (the
            # worker's late answer is then a 409), so its commit need not wait for the disk.
            self.commit_lazily()
        return locked


def _refusal(error: Exception, writes: list[_WaitingWrite]) -> Exception | None:
    """The exception of the checked write whose refusal ``error`` is, if it is one."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    if not isinstance(cause, psycopg.errors.InvalidTextRepresentation):
        return None
    found = _REFUSED_INDEX.search(str(cause))
    index = int(found.group(1)) if found is not None else len(writes)
    refused_by = writes[index].refused if index < len(writes) else None
    return None if refused_by is None else refused_by()


class PostgresStore(SqlStore):
    dialect = "postgresql"
    dialect_insert = staticmethod(postgresql_insert)
    txn_class = PostgresTxn

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        sa_url = make_url(url)
        if sa_url.drivername != "postgresql+psycopg":
            raise ValueError(
                f"PostgresStore needs a postgresql+psycopg:// URL, got {sa_url.drivername}"
            )
        engine = create_engine(
            sa_url,
            # psycopg takes bytes: no decode, no copy per document.
            json_serializer=jsonb_dumps_bytes,
            json_deserializer=json_loads,
            pool_size=pool_size,
            max_overflow=pool_size,
            # Errors name the statement, never the instance data bound to it.
            hide_parameters=True,
        )
        super().__init__(engine, jsonb_dumps_bytes)
        event.listen(engine, "before_execute", _run_waiting_writes_first)
        self._conninfo = sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._listener_lock = threading.Lock()
        self._task_listener: threading.Thread | None = None
        self._closing = threading.Event()

    def _commit(self, txn: SqlTxn, transaction: RootTransaction) -> None:
        """The waiting writes, the kept-back audit events, the workers' and fetchers'
        wake-ups, the lazy commit's setting and the COMMIT in one pipeline: one round
        trip. (A NOTIFY is delivered at commit whenever it is sent in the transaction.)"""
        assert isinstance(txn, PostgresTxn)
        notify = [
            channel
            for channel, changed in (
                (JOBS_CHANNEL, txn.enqueued_jobs),
                (EXTERNAL_TASKS_CHANNEL, txn.external_tasks_changed),
            )
            if changed
        ]
        if not (txn.unwritten_events or txn.lazy_commit or txn.waiting_writes or notify):
            transaction.commit()
            return
        driver_connection = txn.connection.connection.driver_connection
        assert isinstance(driver_connection, psycopg.Connection)
        writes = txn.take_waiting_writes()
        try:
            with driver_connection.pipeline():
                txn.send_waiting_writes(writes, pipelined=True)
                txn.write_unwritten_events()
                for channel in notify:
                    driver_connection.execute(_NOTIFY, (channel,))
                if txn.lazy_commit:
                    driver_connection.execute(_LAZY_COMMIT)
                # Sent here rather than by ``commit()``, whose own sync before the
                # pipeline's closing one would be a second round trip.
                driver_connection.execute("COMMIT")
        except (psycopg.Error, DBAPIError) as error:
            # A statement's error may surface at a later statement of the pipeline (as
            # its results arrive), wrapped by the hot cursor, or at the pipeline's end.
            refused = _refusal(error, writes)
            if refused is not None:
                raise refused from error
            if isinstance(error, DBAPIError):
                raise
            raise DBAPIError.instance("COMMIT", None, error, psycopg.Error) from error
        # SQLAlchemy's bookkeeping and "commit" event; the driver, already out of its
        # transaction, sends nothing more.
        transaction.commit()

    def _lock_for_migration(self, connection: Connection) -> None:
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})

    def wait_for_jobs(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._listener_lock:
            try:
                listener = self._listen()
                next(listener.notifies(timeout=timeout, stop_after=1), None)
                return
            except psycopg.Error:
                # Reopened on the next call; until then, wait out the poll interval rather
                # than spin against a database that is down.
                self._close_listener()
        time.sleep(max(0.0, deadline - time.monotonic()))

    def _listen(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._listener is None or self._listener.closed:
            self._listener = psycopg.connect(self._conninfo, autocommit=True)
            self._listener.execute(f"LISTEN {JOBS_CHANNEL}")
        return self._listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def on_external_tasks(self, callback: Callable[[], None]) -> None:
        """Besides this process's commits, every replica's: one LISTEN connection per store
        hears them and calls the callbacks."""
        super().on_external_tasks(callback)
        with self._listener_lock:
            if self._task_listener is None:
                self._task_listener = threading.Thread(
                    target=self._listen_for_external_tasks,
                    name="procflow-external-task-listener",
                    daemon=True,
                )
                self._task_listener.start()

    def _listen_for_external_tasks(self) -> None:
        while not self._closing.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {EXTERNAL_TASKS_CHANNEL}")
                    # A notification missed while (re)connecting: pollers re-check anyway.
                    self._external_tasks_changed()
                    while not self._closing.is_set():
                        heard = connection.notifies(timeout=_LISTEN_SLICE_SECONDS, stop_after=1)
                        if next(heard, None) is not None:
                            self._external_tasks_changed()
            except psycopg.Error:
                self._closing.wait(_LISTEN_SLICE_SECONDS)

    def close(self) -> None:
        self._closing.set()
        with self._listener_lock:
            self._close_listener()
        super().close()
