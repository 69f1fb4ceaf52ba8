"""Alembic environment: run by ``SqlStore.migrate()`` on the store's own connection.

Standalone use (``alembic -x url=...``) also works: without a connection in
``config.attributes`` a short-lived engine is made from ``sqlalchemy.url`` or ``-x url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from procflow.store.schema import metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite can only ALTER a table by copying it; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no connection: pass -x url=... or set sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as connection:
        run_on(connection)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("procflow migrations run online only")
run_online()
