"""Shared by the hostile-input tests: an app whose process waits for actions, and a client
whose data cap is small enough to reach with ordinary bodies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from procflow.api.app import create_app
from procflow.model.limits import DataLimits
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.context import RuntimeContext
from tests.api.conftest import Api, _settings

HOLDER = b"""\
name: holder
nodes:
  - {id: begin, type: start}
  - {id: wait, type: userTask, actions: [again, grow, finish]}
  - id: double
    type: task
    rules:
      - set: {blob: "input.blob + input.blob"}
  - {id: done, type: end}
flows:
  - {from: begin, to: wait}
  - {from: wait, to: wait, action: again}
  - {from: wait, to: double, action: grow}
  - {from: double, to: wait}
  - {from: wait, to: done, action: finish}
"""
SMALL_CAP = 64 * 1024


@dataclass
class Holder:
    api: Api
    app: UUID
    build: UUID
    client: TestClient

    def start_path(self) -> str:
        return self.api.start_path("holder", app=self.app)

    def pinned_path(self) -> str:
        return f"/api/runtime/app/{self.app}/build/{self.build}/process-name/holder/start"

    def copy_path(self, source: str, query: str = "") -> str:
        path = f"{self.start_path()}/copyDataFrom/{source}"
        return f"{path}?{query}" if query else path

    def post(self, path: str, body: bytes | dict[str, Any]) -> Any:
        headers = self.api.headers(**{"Content-Type": "application/json"})
        if isinstance(body, bytes):
            return self.client.post(path, content=body, headers=headers)
        return self.client.post(path, json=body, headers=headers)

    def start(self, body: dict[str, Any]) -> str:
        response = self.post(self.start_path(), body)
        assert response.status_code == 200, response.text
        uuid: str = response.json()["uuid"]
        return uuid

    def action_path(self, uuid: str, action: str) -> str:
        status = self.client.get(f"/api/runtime/process/{uuid}/status", headers=self.api.headers())
        token = next(t for t in status.json()["tokens"] if t["state"] == "ACTIVE")
        return f"/api/runtime/process/{uuid}/token/{token['uuid']}/action/{action}/execute"

    def data(self, uuid: str) -> Any:
        response = self.client.get(f"/api/runtime/process/{uuid}/data", headers=self.api.headers())
        assert response.status_code == 200, response.text
        return response.json()


def deploy_holder(api: Api) -> tuple[UUID, UUID]:
    app = uuid4()
    deploy.create_app(api.store, SYSTEM, api.workspace, "holder", app)
    build = deploy.deploy_build(
        api.store,
        SYSTEM,
        api.workspace,
        app,
        {"holder.yaml": HOLDER},
        activate=True,
        now=datetime.now(UTC),
    )
    return app, build.id


def holder_on(api: Api) -> Holder:
    app, build = deploy_holder(api)
    return Holder(api, app, build, api.client)


@contextmanager
def capped_holder(api: Api, tmp_path: Path) -> Iterator[Holder]:
    """The same store behind an app whose instances may hold at most ``SMALL_CAP`` bytes."""
    app, build = deploy_holder(api)
    ctx = RuntimeContext(api.store, data_limits=DataLimits(max_bytes=SMALL_CAP))
    settings = replace(_settings(tmp_path), max_data_bytes=SMALL_CAP)
    with TestClient(create_app(ctx, settings, api.issuer)) as client:
        yield Holder(api, app, build, client)
