"""SQLite: the embedded default. One file in WAL mode, shared by a thread pool.

Write transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then
writes must upgrade its lock, and two of those deadlock into SQLITE_BUSY no matter how long
``busy_timeout`` waits. Taking the write lock up front makes writers queue instead.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry

from procflow.store.sql import SqlStore, json_dumps, json_loads

BUSY_TIMEOUT_SECONDS = 30.0
SYNCHRONOUS_MODES = ("NORMAL", "FULL", "EXTRA")


class SqliteStore(SqlStore):
    dialect = "sqlite"
    dialect_insert = staticmethod(sqlite_insert)

    def __init__(self, path: Path, *, pool_size: int = 8, synchronous: str = "NORMAL") -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(f"PRAGMA synchronous must be one of {SYNCHRONOUS_MODES}")
        self.path = path
        engine = create_engine(
            f"sqlite:///{path}",
            json_serializer=json_dumps,
            json_deserializer=json_loads,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
            # Errors name the statement, never the instance data bound to it.
            hide_parameters=True,
        )
        event.listen(engine, "connect", partial(_configure_connection, synchronous=synchronous))
        event.listen(engine, "begin", _begin)
        super().__init__(engine, json_dumps)
        # Writers of this process queue here instead of in SQLite's busy handler, which
        # sleeps and retries with growing naps (up to 100 ms): under 32 concurrent requests
        # waiters overslept the lock's release and p99 latency reached seconds. Other
        # processes sharing the file still meet busy_timeout, and so does a writer that
        # waited here as long (it then goes on to BEGIN IMMEDIATE exactly as before).
        self._writer = threading.RLock()

    @contextmanager
    def _writing(self) -> Iterator[object]:
        queued = self._writer.acquire(timeout=BUSY_TIMEOUT_SECONDS)
        try:
            yield None
        finally:
            if queued:
                self._writer.release()


def _configure_connection(
    dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry, *, synchronous: str
) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook below (pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a process crash loses nothing, an OS crash or power loss can
        # lose the last commits. FULL fsyncs every commit (docs/operations.md).
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _begin(connection: Connection) -> None:
    options: dict[str, Any] = connection.get_execution_options()
    statement = "BEGIN" if options.get("procflow_read_only", False) else "BEGIN IMMEDIATE"
    # On the driver's connection: ``exec_driver_sql`` builds a whole execution context and
    # result for a statement that returns nothing: 73k of 2.05M instructions a start (callgrind).
    driver_connection = connection.connection.driver_connection
    assert isinstance(driver_connection, sqlite3.Connection)
    if connection.dispatch.before_cursor_execute:
        # Statement listeners (tests, tracing) still see it, as with the hot statements.
        connection.dispatch.before_cursor_execute(connection, None, statement, (), None, False)
    try:
        driver_connection.execute(statement)
    except sqlite3.Error as error:
        raise DBAPIError.instance(statement, None, error, sqlite3.Error) from error
