"""An API under test: the real ASGI app over a real store (SQLite file or PostgreSQL).

Layout: workspace A holds the demo app (examples/loans) and a test app with the definitions
in tests/api/definitions; workspace B holds a copy of the test app, for isolation tests.
Each test gets its own copy of that database, seeded once per session (per xdist worker).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from procflow.api.app import create_app
from procflow.config import Settings
from procflow.model.build import Build
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.demo import DEMO_APP, DEMO_WORKSPACE, definition_files, seed_demo
from procflow.runtime.tokens import TokenIssuer
from procflow.store.port import InstanceQuery, Store
from procflow.store.postgres import PostgresStore
from procflow.store.sqlite import SqliteStore
from tests.conftest import clone_database, create_postgres_database, open_test_store, postgres_url

DEFINITIONS = Path(__file__).parent / "definitions"
SECRET = "test-secret-" + "x" * 40


@dataclass
class Api:
    client: TestClient
    store: Store
    store_url: str
    issuer: TokenIssuer
    workspace: UUID
    other_workspace: UUID
    demo_app: UUID
    test_app: UUID
    other_app: UUID
    demo_build: Build
    test_build: Build
    token: str

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    def mint(self, roles: dict[str, frozenset[Role]]) -> str:
        return self.issuer.mint("tester", roles)

    def start_path(
        self, process: str, app: UUID | None = None, workspace: UUID | None = None
    ) -> str:
        return (
            f"/api/runtime/wks/{workspace or self.workspace}/app/{app or self.test_app}"
            f"/process-name/{process}/start"
        )

    def copy_path(
        self,
        process: str,
        source: str,
        query: str = "",
        workspace: UUID | None = None,
        app: UUID | None = None,
    ) -> str:
        path = f"{self.start_path(process, app, workspace)}/copyDataFrom/{source}"
        return f"{path}?{query}" if query else path

    def start(self, process: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.client.post(
            self.start_path(process, **kwargs), json=body, headers=self.headers()
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def copy(
        self, process: str, source: str, body: dict[str, Any], query: str = ""
    ) -> dict[str, Any]:
        response = self.client.post(
            self.copy_path(process, source, query), json=body, headers=self.headers()
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def data(self, uuid: str) -> dict[str, Any]:
        response = self.client.get(f"/api/runtime/process/{uuid}/data", headers=self.headers())
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def status(self, uuid: str) -> dict[str, Any]:
        response = self.client.get(f"/api/runtime/process/{uuid}/status", headers=self.headers())
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def act(self, uuid: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        token = next(
            t
            for t in self.status(uuid)["tokens"]
            if t["state"] == "ACTIVE" and t["statusCurrentNode"] == "ARRIVED"
        )
        response = self.client.post(
            f"/api/runtime/process/{uuid}/token/{token['uuid']}/action/{action}/execute",
            json=body,
            headers=self.headers(),
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def stored_counts(self) -> tuple[int, int]:
        """(instances, audit events) across both workspaces: what "nothing stored" checks."""
        instances = 0
        audit = 0
        with self.store.transaction() as txn:
            for workspace in (self.workspace, self.other_workspace):
                found = txn.search_instances(InstanceQuery(workspace, limit=100_000))
                instances += len(found)
                audit += sum(len(txn.list_audit(i.uuid)) for i in found)
        return instances, audit


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=None,
        host="127.0.0.1",
        port=0,
        max_body_bytes=1024 * 1024,
        jwt_issuer="procflow",
        jwt_audience="procflow",
        jwks_file=None,
        jwks_url=None,
        seed_demo=False,
        embedded_worker=False,
    )


@dataclass(frozen=True)
class Seeded:
    """What every API test's database starts with (see the module's docstring)."""

    test_app: UUID
    other_workspace: UUID
    other_app: UUID
    demo_build: Build
    test_build: Build


def _seed(store: Store) -> Seeded:
    now = datetime.now(UTC)
    demo_build = seed_demo(store, now)
    assert demo_build is not None
    test_app, other_workspace, other_app = uuid4(), uuid4(), uuid4()
    files = definition_files(DEFINITIONS)
    deploy.create_app(store, SYSTEM, DEMO_WORKSPACE, "tests", test_app)
    test_build = deploy.deploy_build(
        store, SYSTEM, DEMO_WORKSPACE, test_app, files, activate=True, now=now
    )
    deploy.create_workspace(store, SYSTEM, "other", other_workspace)
    deploy.create_app(store, SYSTEM, other_workspace, "tests", other_app)
    deploy.deploy_build(store, SYSTEM, other_workspace, other_app, files, activate=True, now=now)
    return Seeded(test_app, other_workspace, other_app, demo_build, test_build)


@pytest.fixture(scope="session")
def seeded_sqlite(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Seeded]:
    """The seeded database, built once: deploying the definitions (parsing and validating
    each YAML file, twice over) costs about a second, copying the result a millisecond."""
    path = tmp_path_factory.mktemp("seeded") / "procflow.db"
    shutil.copyfile(sqlite_template, path)
    store = SqliteStore(path)
    try:
        return str(path), _seed(store)
    finally:
        store.close()


@pytest.fixture(scope="session")
def seeded_postgres(
    request: pytest.FixtureRequest, pg_template: str, pg_dropper: Any
) -> Iterator[tuple[str, Seeded]]:
    """The seeded database as a PostgreSQL template, for the same reason as ``seeded_sqlite``."""
    name = create_postgres_database(request, pg_template, "procflow_seeded")
    try:
        store = PostgresStore(postgres_url(name))
        seeded = _seed(store)
        # A template must have no open connections when it is cloned.
        store.close()
        yield name, seeded
    finally:
        pg_dropper.drop_later(name)


@pytest.fixture
def api_store_url(
    store_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Seeded]]:
    """A copy of the seeded database for this test alone, and what it was seeded with."""
    template, seeded = request.getfixturevalue(f"seeded_{store_backend}")
    for url in clone_database(store_backend, request, tmp_path, template):
        yield url, seeded


@pytest.fixture
def api(store_backend: str, api_store_url: tuple[str, Seeded], tmp_path: Path) -> Iterator[Api]:
    url, seeded = api_store_url
    store = open_test_store(store_backend, url)
    issuer = TokenIssuer(SECRET, "procflow", "procflow")
    app = create_app(RuntimeContext(store), _settings(tmp_path), issuer)
    token = issuer.mint("tester", {str(DEMO_WORKSPACE): frozenset(Role)})
    try:
        with TestClient(app) as client:
            yield Api(
                client,
                store,
                url,
                issuer,
                DEMO_WORKSPACE,
                seeded.other_workspace,
                DEMO_APP,
                seeded.test_app,
                seeded.other_app,
                seeded.demo_build,
                seeded.test_build,
                token,
            )
    finally:
        store.close()
