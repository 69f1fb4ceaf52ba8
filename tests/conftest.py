"""Shared fixtures: one ``store`` per backend, so every contract test runs on each of them.

``PROCFLOW_TEST_BACKENDS`` (comma list, default ``sqlite,postgres``) picks the backends.
PostgreSQL tests clone a migrated template database per test (procrastinate's approach):
``CREATE DATABASE ... TEMPLATE`` copies files, far faster than migrating each time. When
PostgreSQL is unreachable its params are skipped, unless ``PROCFLOW_REQUIRE_POSTGRES=1``, in
which case they fail, and so does a session in which no PostgreSQL test ran at all.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from procflow.store.port import Store
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SqliteStore

BACKENDS_ENV = "PROCFLOW_TEST_BACKENDS"
REQUIRE_POSTGRES_ENV = "PROCFLOW_REQUIRE_POSTGRES"
PG_ADMIN_URL_ENV = "PROCFLOW_TEST_PG_URL"
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
KNOWN_BACKENDS = ("sqlite", "postgres")
# Concurrent DROP DATABASEs per xdist worker (see _BackgroundDropper).
DROPPERS = 8

_POSTGRES_PARAM = re.compile(r"\[(?:.*-)?postgres(?:-.*)?\]")


def selected_backends() -> list[str]:
    raw = os.environ.get(BACKENDS_ENV, ",".join(KNOWN_BACKENDS))
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(KNOWN_BACKENDS))
    if unknown:
        raise pytest.UsageError(f"{BACKENDS_ENV}: unknown backends {unknown}")
    return names


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES_ENV, "") not in ("", "0")


def pg_admin_url() -> str:
    return os.environ.get(PG_ADMIN_URL_ENV, DEFAULT_PG_ADMIN_URL)


def _admin_execute(statement: sql.Composed) -> None:
    with psycopg.connect(pg_admin_url(), autocommit=True, connect_timeout=5) as connection:
        # Test databases are disposable; not waiting for their WAL flush halves CREATE time.
        connection.execute("SET synchronous_commit = off")
        connection.execute(statement)


def _database_url(database: str, driver: str = "postgresql+psycopg") -> str:
    base = pg_admin_url().rsplit("/", 1)[0]
    return f"{base.replace('postgresql', driver, 1)}/{database}"


def _worker_id(config: pytest.Config) -> str:
    """``gw0``, ``gw1``... under pytest-xdist, so parallel workers never share a database."""
    workerinput: dict[str, str] = getattr(config, "workerinput", {})
    return workerinput.get("workerid", "main")


def _unique_name(prefix: str, worker_id: str) -> str:
    return f"{prefix}_{worker_id}_{uuid.uuid4().hex[:10]}"


def _drop_database(name: str) -> None:
    _admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class _BackgroundDropper:
    """Drops test databases off the test's critical path. DROP DATABASE forces a checkpoint,
    which costs far more than the test that used the database (seconds each, when other
    work keeps PostgreSQL busy); drops running side by side share one checkpoint, so they
    run on a pool, or the queue outgrows the run and its end waits for minutes."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=DROPPERS, thread_name_prefix="pg-dropper")

    def drop_later(self, name: str) -> None:
        self._pool.submit(self._drop, name)

    def finish(self) -> None:
        self._pool.shutdown(wait=True)

    @staticmethod
    def _drop(name: str) -> None:
        try:
            _drop_database(name)
        except psycopg.Error as error:  # a leaked test database must not fail the run
            print(f"could not drop test database {name}: {error}")


@pytest.fixture(scope="session")
def pg_dropper() -> Iterator[_BackgroundDropper]:
    dropper = _BackgroundDropper()
    try:
        yield dropper
    finally:
        dropper.finish()


@pytest.fixture(scope="session")
def pg_template(request: pytest.FixtureRequest, pg_dropper: _BackgroundDropper) -> Iterator[str]:
    """A migrated database, unique to this xdist worker, that test databases are cloned from."""
    try:
        with psycopg.connect(pg_admin_url(), connect_timeout=3):
            pass
    except psycopg.OperationalError as error:
        message = f"PostgreSQL unreachable at {pg_admin_url()}: {error}"
        if postgres_required():
            pytest.fail(f"{message} ({REQUIRE_POSTGRES_ENV}=1)", pytrace=False)
        pytest.skip(message)
    name = _unique_name("procflow_template", _worker_id(request.config))
    _admin_execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        store = PostgresStore(_database_url(name))
        store.migrate()
        # A template must have no open connections when it is cloned.
        store.close()
        yield name
    finally:
        pg_dropper.drop_later(name)


@pytest.fixture(params=selected_backends(), ids=str)
def store_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that test databases are copied from: a copy takes a
    millisecond, migrating a fresh file a fifth of a second."""
    path = tmp_path_factory.mktemp("sqlite_template") / "procflow.db"
    store = SqliteStore(path)
    store.migrate()
    store.close()
    return path


def create_postgres_database(request: pytest.FixtureRequest, template: str, prefix: str) -> str:
    """A new database cloned from ``template``; the caller hands it to ``pg_dropper``."""
    name = _unique_name(prefix, _worker_id(request.config))
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}")
    _admin_execute(create.format(sql.Identifier(name), sql.Identifier(template)))
    return name


def postgres_url(database: str) -> str:
    return _database_url(database)


def clone_database(
    backend: str, request: pytest.FixtureRequest, directory: Path, template: str
) -> Iterator[str]:
    """The URL of a copy of ``template`` (a SQLite file's path, or a PostgreSQL template
    database's name), for one fixture's lifetime: dropped (PostgreSQL) when it ends."""
    if backend == "sqlite":
        source, path = Path(template), directory / "procflow.db"
        # Closed cleanly, the file is the whole database (no -wal beside it): a copy is a clone.
        assert not source.with_name(f"{source.name}-wal").exists(), source
        shutil.copyfile(source, path)
        yield f"sqlite:///{path}"
        return
    dropper: _BackgroundDropper = request.getfixturevalue("pg_dropper")
    name = create_postgres_database(request, template, "procflow_t")
    try:
        yield _database_url(name)
    finally:
        dropper.drop_later(name)


def _fresh_database_url(
    backend: str, request: pytest.FixtureRequest, directory: Path
) -> Iterator[str]:
    """The URL of a fresh, migrated database, dropped (PostgreSQL) when the fixture ends."""
    template = "sqlite_template" if backend == "sqlite" else "pg_template"
    yield from clone_database(backend, request, directory, str(request.getfixturevalue(template)))


@pytest.fixture
def store_url(store_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database for this test alone."""
    yield from _fresh_database_url(store_backend, request, tmp_path)


@pytest.fixture(scope="module", params=selected_backends(), ids=str)
def module_backend(request: pytest.FixtureRequest) -> str:
    """Like ``store_backend``, for fixtures a whole module shares (a served cluster)."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="module")
def module_store_url(
    module_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database that the module's tests share: they keep apart by their own
    workspaces and apps, as a real deployment's tenants do."""
    yield from _fresh_database_url(module_backend, request, tmp_path_factory.mktemp("db"))


def open_test_store(backend: str, url: str) -> Store:
    if backend == "sqlite":
        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    return PostgresStore(url)


@pytest.fixture
def store(store_backend: str, store_url: str) -> Iterator[Store]:
    opened = open_test_store(store_backend, store_url)
    try:
        yield opened
    finally:
        opened.close()


# --- postgres_only: tests of PostgreSQL behaviour are not generated for other backends ---


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres_only: run only with the postgres store backend (others deselected)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Deselect rather than skip: a SQLite variant of a PostgreSQL-only test is not a test
    # that was skipped, it is a test that does not exist.
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("store_backend") if callspec else None
        is_other = backend is not None and backend != "postgres"
        (dropped if item.get_closest_marker("postgres_only") and is_other else keep).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


# --- PROCFLOW_REQUIRE_POSTGRES: a run that silently skipped PostgreSQL must not pass -------

_postgres_tests_run = 0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _postgres_tests_run  # noqa: PLW0603 - per-session counter for the hook below
    if report.when == "call" and not report.skipped and _POSTGRES_PARAM.search(report.nodeid):
        _postgres_tests_run += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    is_xdist_worker = hasattr(session.config, "workerinput")
    if not postgres_required() or is_xdist_worker or _postgres_tests_run:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(
            f"{REQUIRE_POSTGRES_ENV}=1 but no PostgreSQL-backed test ran", red=True, bold=True
        )
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
