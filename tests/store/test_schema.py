"""The migrated schema is exactly ``schema.metadata``, on every backend."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from procflow.store.schema import metadata
from procflow.store.sql import SqlStore, alembic_config


def _sql(store: object) -> SqlStore:
    assert isinstance(store, SqlStore)
    return store


def test_migrated_schema_equals_metadata(store: object) -> None:
    with _sql(store).engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_the_newest_revision(store: object) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with _sql(store).engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_migrate_again_is_a_no_op(store: object) -> None:
    sql_store = _sql(store)
    sql_store.migrate()
    with sql_store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert tables == {*metadata.tables, "alembic_version"}


def test_the_migration_scripts_ship_with_the_package() -> None:
    directory = ScriptDirectory.from_config(alembic_config())
    revisions = [script.revision for script in directory.walk_revisions()]
    assert revisions == ["0006", "0005", "0004", "0003", "0002", "0001"]
    assert (Path(directory.dir) / "script.py.mako").is_file()
    package_data = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    for pattern in ("store/migrations/*.py", "store/migrations/*.mako", "migrations/versions/*.py"):
        assert pattern in package_data
