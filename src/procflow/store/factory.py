"""Open the store a URL names: SQLite (the default, a file in the data directory) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url

from procflow.store.port import Store
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SqliteStore

DEFAULT_SQLITE_FILE = "procflow.db"

_POSTGRES_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}


def open_store(url: str | None, data_dir: Path, *, sqlite_synchronous: str = "NORMAL") -> Store:
    """``None`` or ``sqlite://`` -> ``data_dir/procflow.db``; ``sqlite:///path`` -> that file;
    ``postgresql://...`` -> PostgreSQL through psycopg 3. The schema is not migrated here:
    call ``migrate()`` once the store is open. ``sqlite_synchronous`` is SQLite's
    ``PRAGMA synchronous`` (NORMAL or FULL; docs/operations.md, "SQLite durability")."""
    if url is None:
        return _open_sqlite(data_dir / DEFAULT_SQLITE_FILE, sqlite_synchronous)
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        database = parsed.database
        if database == ":memory:":
            # Every pooled connection would see its own empty database.
            raise ValueError("an in-memory SQLite database cannot back procflow; use a file")
        if not database:
            return _open_sqlite(data_dir / DEFAULT_SQLITE_FILE, sqlite_synchronous)
        return _open_sqlite(Path(database), sqlite_synchronous)
    if parsed.drivername in _POSTGRES_DRIVERS:
        psycopg_url = parsed.set(drivername="postgresql+psycopg")
        return PostgresStore(psycopg_url.render_as_string(hide_password=False))
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


def _open_sqlite(path: Path, synchronous: str) -> SqliteStore:
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path, synchronous=synchronous)
