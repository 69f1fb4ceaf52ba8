"""Runtime services over a real store, without HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from procflow.model.instance import ProcessInstance
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.store.port import Store

ASYNC_CHAIN = """
name: async_chain
nodes:
  - {id: begin, type: start}
  - {id: t1, type: task, async: true, rules: [{set: {s1: "1"}}]}
  - {id: t2, type: task, async: true, rules: [{set: {s2: "input.s1 + 1"}}]}
  - {id: t3, type: task, async: true, rules: [{set: {s3: "input.s2 + 1"}}]}
  - {id: done, type: end}
flows:
  - {from: begin, to: t1}
  - {from: t1, to: t2}
  - {from: t2, to: t3}
  - {from: t3, to: done}
"""

TWO_DESKS = """
name: two_desks
nodes:
  - {id: begin, type: start}
  - {id: split, type: parallelGateway}
  - {id: legal, type: userTask, actions: [sign]}
  - {id: finance, type: userTask, actions: [sign]}
  - {id: merge, type: parallelGateway}
  - {id: done, type: end}
flows:
  - {from: begin, to: split}
  - {from: split, to: legal}
  - {from: split, to: finance}
  - {from: legal, to: merge}
  - {from: finance, to: merge}
  - {from: merge, to: done}
"""


@dataclass
class Deployed:
    ctx: RuntimeContext
    workspace: UUID
    app: UUID

    def start(
        self, process: str, body: dict[str, Any] | None = None, key: str | None = None
    ) -> ProcessInstance:
        request = StartRequest(
            StartTarget(self.app, workspace_id=self.workspace),
            process,
            body or {},
            idempotency_key=key,
        )
        return start_process(self.ctx, SYSTEM, request).instance

    def load(self, uuid: UUID) -> ProcessInstance:
        with self.ctx.store.transaction() as txn:
            instance = txn.get_instance(uuid)
        assert instance is not None
        return instance


@pytest.fixture
def deployed(store: Store) -> Deployed:
    workspace, app = uuid4(), uuid4()
    deploy.create_workspace(store, SYSTEM, "rt", workspace)
    deploy.create_app(store, SYSTEM, workspace, "rt", app)
    files = {"async_chain.yaml": ASYNC_CHAIN.encode(), "two_desks.yaml": TWO_DESKS.encode()}
    deploy.deploy_build(store, SYSTEM, workspace, app, files, activate=True, now=datetime.now(UTC))
    return Deployed(RuntimeContext(store), workspace, app)
