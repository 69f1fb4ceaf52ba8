"""Hot statements that return rows, read through the DBAPI cursor as SQLAlchemy would.

``store.hot`` issues the hot writes on the driver's cursor; a statement that returns rows
also needs its values converted back (SQLite's UUID hex and timestamp text, JSON text). The
conversions are not written again here: each column's result processor is taken from its
SQLAlchemy type for the dialect (``TypeEngine.result_processor``), the very function
SQLAlchemy's own ``Result`` applies, so a row read either way holds the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import ClauseElement

from procflow.store.hot import Compiled, HotCursor, HotStatements, Params, compile_for

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class HotSelect:
    """A compiled statement with the names and result processors of its columns."""

    compiled: Compiled
    keys: tuple[str, ...]
    processors: tuple[Processor, ...]


def compile_select(
    hot: HotStatements, statement: ClauseElement, lengths: Mapping[str, int] | None = None
) -> HotSelect:
    """``statement`` (a SELECT, or DML with RETURNING) compiled for the hot cursor, its
    expanding ``IN`` lists rendered at ``lengths``."""
    columns = list(statement.exported_columns)  # type: ignore[attr-defined]
    dialect = hot.engine_dialect
    processors = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    compiled = compile_for(hot.dialect, statement, lengths)
    return HotSelect(compiled, tuple(c.key for c in columns), processors)


# Compiled per store (its HotStatements) and statement, at each IN-list length asked for;
# held as long as the store lives. Statements are the module-level constructs of the store's
# modules, so the cache holds a few entries each (IN lists are at most 100 long).
_COMPILED: WeakKeyDictionary[
    HotStatements, dict[tuple[int, tuple[tuple[str, int], ...]], HotSelect]
]
_COMPILED = WeakKeyDictionary()


def hot_select(
    hot: HotStatements, statement: ClauseElement, lengths: Mapping[str, int] | None = None
) -> HotSelect:
    """``compile_select`` once per store, statement and IN-list lengths."""
    compiled = _COMPILED.setdefault(hot, {})
    # By identity: a statement construct may overload ==, and these live as long as the process.
    key = (id(statement), tuple(sorted((lengths or {}).items())))
    found = compiled.get(key)
    if found is None:
        found = compiled[key] = compile_select(hot, statement, lengths)
    return found


def fetch_rows(cursor: HotCursor, select: HotSelect, params: Params) -> list[Mapping[str, Any]]:
    """Every row of ``select`` as a mapping of column key to value."""
    rows = cursor.execute(select.compiled, params).fetchall()
    return [_converted(select, row) for row in rows]


def _converted(select: HotSelect, row: Sequence[Any]) -> dict[str, Any]:
    return {
        key: value if processor is None or value is None else processor(value)
        for key, processor, value in zip(select.keys, select.processors, row, strict=True)
    }
