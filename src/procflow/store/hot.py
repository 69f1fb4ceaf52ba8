"""The statements every start, every step and every job runs, issued through the DBAPI driver.

A durable start spends more time in SQLAlchemy's ``Connection.execute`` (cache-key lookup,
execution context, bind and result processors, events) than in the database: profiled at
about 0.5 ms of a 1 ms SQLite start for three statements. These few statements are compiled
once per dialect from the very SQLAlchemy constructs in ``store.statements`` (so the SQL
stays written once), and executed on the connection's own DBAPI cursor inside the same
transaction, with the parameters converted here exactly as the column types would
(``schema.UtcDateTime``, ``Uuid``, JSON/JSONB). Everything else keeps going through
SQLAlchemy.

A driver error is re-raised as SQLAlchemy's ``DBAPIError`` (parameters hidden), the same
exception type callers meet from every other statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import ClauseElement, Connection, Dialect
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from procflow.store import statements as q

Params = dict[str, Any]


@dataclass(frozen=True)
class Compiled:
    """One statement as its dialect spells it, with the constant parameters it carries.

    ``expansions`` names the placeholders an expanding ``IN`` list was rendered into
    (compiled for a given length): ``expand`` spreads a list value over them."""

    sql: str
    constants: Params
    expansions: dict[str, list[str]] = field(default_factory=dict)

    def expand(self, params: Params) -> Params:
        if not self.expansions:
            return params
        spread = {k: v for k, v in params.items() if k not in self.expansions}
        for name, placeholders in self.expansions.items():
            spread.update(zip(placeholders, params[name], strict=True))
        return spread


@dataclass(frozen=True)
class Converters:
    """Python values -> what the driver takes for each column type, per dialect."""

    uuid: Callable[[UUID | None], Any]
    timestamp: Callable[[datetime], Any]
    json: Callable[[Any], Any]
    read_uuid: Callable[[Any], UUID | None]


def _aware(value: datetime) -> datetime:
    # The rule of schema.UtcDateTime: a naive datetime's zone is a guess, and is refused.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: procflow stores aware UTC timestamps")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _sqlite_timestamp(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME text: fixed width, microseconds always written.
    v = _aware(value)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}"
    )


def _sqlite_uuid(value: UUID | None) -> str | None:
    return None if value is None else value.hex


def _sqlite_read_uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(hex=value)


def _pg_uuid(value: UUID | None) -> UUID | None:
    return value


def _pg_read_uuid(value: Any) -> UUID | None:
    return value if value is None or isinstance(value, UUID) else UUID(str(value))


def _same(value: Any) -> Any:
    return value


# For statements that go through SQLAlchemy, whose column types convert the values.
SQLALCHEMY_VALUES = Converters(_same, _same, _same, _same)


def converters_for(dialect_name: str, json_dumps: Callable[[Any], Any]) -> Converters:
    if dialect_name == "sqlite":
        return Converters(_sqlite_uuid, _sqlite_timestamp, json_dumps, _sqlite_read_uuid)

    def jsonb(value: Any) -> Jsonb:
        return Jsonb(value, dumps=json_dumps)

    return Converters(_pg_uuid, _aware, jsonb, _pg_read_uuid)


def compile_for(
    dialect: Dialect, statement: ClauseElement, lengths: Mapping[str, int] | None = None
) -> Compiled:
    """``statement`` for the hot cursor; ``lengths`` gives the length to render each
    caller-supplied expanding ``IN`` list at."""
    if dialect.paramstyle not in ("named", "pyformat"):
        raise ValueError(f"hot statements need named parameters, not {dialect.paramstyle}")
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    lengths = lengths or {}
    # Every bind the caller supplies gets a placeholder value; what remains after expanding
    # (the IN list of UPDATE_INSTANCE, rendered as state_1_1, state_1_2, ...) is constant.
    supplied = {name for name, bind in compiled.binds.items() if bind.value is None}
    placeholders = {name: [None] * lengths[name] if name in lengths else None for name in supplied}
    expanded = compiled.construct_expanded_state(placeholders)
    expansions = {name: list(expanded.parameter_expansion[name]) for name in lengths}
    spread = {p for names in expansions.values() for p in names}
    constants = {
        name: value.value if isinstance(value, Enum) else value
        for name, value in expanded.parameters.items()
        if name not in supplied and name not in spread
    }
    return Compiled(expanded.statement, constants, expansions)


class HotStatements:
    """The compiled hot statements of one store (one dialect)."""

    def __init__(
        self,
        dialect: Dialect,
        json_dumps: Callable[[Any], Any],
        dialect_statements: q.DialectStatements,
    ) -> None:
        self.error: type[Exception] = psycopg.Error
        # The engine's own dialect, configured as the store set it up (its JSON loads):
        # what converts values read back (store.hot_reads).
        self.engine_dialect = dialect
        if dialect.name == "sqlite":
            # pysqlite's default is qmark; it takes :name parameters with a dict as well.
            dialect = SQLiteDialect_pysqlite(paramstyle="named")
            self.error = sqlite3.Error
        # What further hot statements (store.hot_reads) are compiled with.
        self.dialect = dialect
        self.convert = converters_for(dialect.name, json_dumps)
        self.insert_instance = compile_for(dialect, q.INSERT_INSTANCE)
        self.insert_instance_while_active = compile_for(dialect, q.INSERT_INSTANCE_WHILE_ACTIVE)
        self.update_instance = compile_for(dialect, q.UPDATE_INSTANCE)
        self.insert_audit = compile_for(dialect, q.INSERT_AUDIT)
        self.insert_audit_rows = compile_for(dialect, q.INSERT_AUDIT_ROWS)
        self.select_active_build = compile_for(dialect, q.SELECT_ACTIVE_BUILD)
        # Every async task's job is continued into the next or completed: once per job.
        self.complete_job = compile_for(dialect, q.COMPLETE_JOB)
        self.continue_job = compile_for(dialect, q.CONTINUE_JOB)
        self.insert_jobs = compile_for(dialect, dialect_statements.insert_jobs)


# What the error of a refused checked write says, and where its index follows.
CHECKED_WRITE_REFUSED = "procflow checked write"


def checked(statement: Compiled) -> Compiled:
    """``statement``, an UPDATE or DELETE that must change exactly one row, made to fail
    when it does not (PostgreSQL): sent in one pipeline with the COMMIT, its error aborts
    the transaction and the COMMIT is never run. The error names ``pf_check``, the write's
    index among those sent."""
    # A cast of text that is not a constant: PostgreSQL folds constant expressions while
    # planning, so a constant that cannot be cast would fail whichever branch is taken.
    sql = (
        f"WITH changed AS ({statement.sql} RETURNING 1) "
        f"SELECT CASE count(*) WHEN 1 THEN 1 ELSE ('{CHECKED_WRITE_REFUSED} ' "
        f"|| %(pf_check)s::text || ' changed ' || count(*) || ' rows')::int END FROM changed"
    )
    return Compiled(sql, statement.constants, statement.expansions)


class HotCursor:
    """Executes hot statements on one SQLAlchemy connection's DBAPI connection."""

    def __init__(self, connection: Connection, statements: HotStatements) -> None:
        self._statements = statements
        self.convert = statements.convert
        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None, "a connection inside a transaction is open"
        self._cursor = driver_connection.cursor()
        self._connection = connection
        # Statement listeners (tests counting round trips, tracing) still see these
        # statements; without any, nothing is dispatched.
        self._observed = bool(connection.dispatch.before_cursor_execute)
        # Run before every statement when set (the transaction's deferred checked writes).
        self.before_statement: Callable[[], None] | None = None

    def execute(self, statement: Compiled, params: Params) -> Any:
        if self.before_statement is not None:
            self.before_statement()
        params = statement.expand(params)
        if statement.constants:
            params = {**statement.constants, **params}
        if self._observed:
            self._dispatch(statement, params, many=False)
        try:
            self._cursor.execute(statement.sql, params)
        except self._statements.error as error:
            raise self._wrapped(statement, error) from error
        return self._cursor

    def executemany(self, statement: Compiled, rows: Sequence[Params]) -> None:
        if self.before_statement is not None:
            self.before_statement()
        if self._observed:
            self._dispatch(statement, rows, many=True)
        try:
            self._cursor.executemany(statement.sql, rows)
        except self._statements.error as error:
            raise self._wrapped(statement, error) from error

    def close(self) -> None:
        self._cursor.close()

    def _dispatch(self, statement: Compiled, params: object, *, many: bool) -> None:
        listeners = self._connection.dispatch.before_cursor_execute
        listeners(self._connection, self._cursor, statement.sql, params, None, many)

    def _wrapped(self, statement: Compiled, error: Exception) -> DBAPIError:
        wrapped = DBAPIError.instance(
            statement.sql, None, error, self._statements.error, hide_parameters=True
        )
        assert isinstance(wrapped, DBAPIError)
        return wrapped
