"""PostgreSQL: the distributed engine for many replicas and workers (psycopg 3).

Row locks guard instances (``SELECT ... FOR UPDATE``), workers claim jobs with
``FOR UPDATE SKIP LOCKED`` (in the shared SQL core), and a NOTIFY on ``procflow_jobs``,
delivered when the enqueuing transaction commits, wakes every listening worker at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from uuid import UUID

import psycopg
from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from procflow.store.port import NewJob
from procflow.store.sql import SqlStore, SqlTxn, json_loads, jsonb_dumps_bytes

JOBS_CHANNEL = "procflow_jobs"
# Any constant works; it only has to be the same for every replica running migrations.
MIGRATION_LOCK_KEY = 0x70726F63666C6F77  # "procflow"

_NOTIFY_JOBS = text(f"SELECT pg_notify('{JOBS_CHANNEL}', '')")


class PostgresTxn(SqlTxn):
    def enqueue_jobs(self, jobs: Sequence[NewJob]) -> None:
        super().enqueue_jobs(jobs)
        if jobs:
            # Transactional: listeners hear it only if, and when, the jobs commit.
            self.connection.execute(_NOTIFY_JOBS)

    def hold_jobs(self, instance_uuid: UUID, held: bool) -> None:
        super().hold_jobs(instance_uuid, held)
        if not held:
            self.connection.execute(_NOTIFY_JOBS)


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
        super().__init__(engine)
        self._conninfo = sa_url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._listener_lock = threading.Lock()

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

    def close(self) -> None:
        with self._listener_lock:
            self._close_listener()
        super().close()
