"""``open_store``: which backend a URL opens, and where SQLite puts its file."""

from __future__ import annotations

from pathlib import Path

import pytest

from procflow.store.factory import open_store
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SqliteStore


def test_no_url_opens_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    store = open_store(None, tmp_path / "data")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "data" / "procflow.db"
    assert store.dialect == "sqlite"
    store.migrate()
    assert store.ping()
    store.close()
    assert (tmp_path / "data" / "procflow.db").exists()


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "my.db"
    store = open_store(f"sqlite:///{target}", tmp_path)
    assert isinstance(store, SqliteStore)
    assert store.path == target
    store.close()


def test_bare_sqlite_url_means_the_default_file(tmp_path: Path) -> None:
    store = open_store("sqlite://", tmp_path)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "procflow.db"
    store.close()


def test_in_memory_sqlite_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        open_store("sqlite:///:memory:", tmp_path)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:secret@db.example:5433/procflow",
        "postgres://app:secret@db.example:5433/procflow",
        "postgresql+psycopg://app:secret@db.example:5433/procflow",
    ],
)
def test_postgres_urls_use_psycopg(url: str, tmp_path: Path) -> None:
    store = open_store(url, tmp_path)
    assert isinstance(store, PostgresStore)
    assert store.dialect == "postgresql"
    rendered = store.engine.url.render_as_string(hide_password=False)
    assert rendered == "postgresql+psycopg://app:secret@db.example:5433/procflow"
    store.close()


def test_other_schemes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        open_store("mysql://localhost/procflow", tmp_path)


def test_ping_reports_an_unreachable_database(tmp_path: Path) -> None:
    store = open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1", tmp_path)
    assert store.ping() is False
    store.close()


def test_opened_store_pings(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url, tmp_path)
    assert store.ping()
    store.close()
