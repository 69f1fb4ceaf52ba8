"""Small builders for store tests: a deployed definition and instances on it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from procflow.model.build import App, Build, DefinitionSource, Workspace
from procflow.model.instance import Incident, Lineage, ProcessInstance, Token
from procflow.model.states import InstanceState, NodeStatus, TokenState
from procflow.store.port import Store, StoreTxn

NO_LINEAGE = Lineage()
T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@dataclass(frozen=True)
class Deployment:
    workspace: Workspace
    app: App
    build: Build

    @property
    def definition(self) -> DefinitionSource:
        return self.build.definitions[0]


def deploy(txn: StoreTxn, *names: str, workspace_id: UUID | None = None) -> Deployment:
    workspace = Workspace(workspace_id or uuid4(), "Retail")
    if txn.get_workspace(workspace.id) is None:
        txn.insert_workspace(workspace)
    app = App(uuid4(), workspace.id, "Loans")
    txn.insert_app(app)
    definitions = tuple(
        DefinitionSource(uuid4(), name, f"{name}.yaml", f"name: {name}\n")
        for name in sorted(names or ("loan_application",))
    )
    build = Build(uuid4(), workspace.id, app.id, "sha256:abc", T0, definitions)
    txn.insert_build(build)
    return Deployment(workspace, app, build)


def deploy_in(store: Store, *names: str, workspace_id: UUID | None = None) -> Deployment:
    with store.transaction() as txn:
        return deploy(txn, *names, workspace_id=workspace_id)


def new_instance(
    deployment: Deployment,
    *,
    definition_index: int = 0,
    state: InstanceState = InstanceState.STARTED,
    data: dict[str, Any] | None = None,
    created_at: datetime = T0,
    lineage: Lineage = NO_LINEAGE,
) -> ProcessInstance:
    definition = deployment.build.definitions[definition_index]
    token = Token(1, uuid4(), "review", TokenState.ACTIVE, NodeStatus.ARRIVED)
    return ProcessInstance(
        uuid=uuid4(),
        workspace_id=deployment.workspace.id,
        app_id=deployment.app.id,
        build_id=deployment.build.id,
        definition_id=definition.id,
        definition_name=definition.name,
        created_at=created_at,
        updated_at=created_at,
        state=state,
        data=data if data is not None else {"amount": 1000},
        tokens=(token,),
        lineage=lineage,
        next_token_id=2,
    )


def rich_instance(deployment: Deployment) -> ProcessInstance:
    """Everything the saved format has to carry: nested unicode data, tokens, incidents."""
    instance = new_instance(
        deployment,
        data={
            "applicant": {"name": "Zoë Ñúñez 李雷", "emoji": "🚀", "tags": ["a", "b"]},
            "amount": 12345.5,
            "approved": None,
            "nested": {"deep": {"list": [1, {"x": [True, False]}], "empty": {}}},
            "big": 2**53,
            "huge": 2**64 + 1,  # beyond orjson's integers: written through the fallback
        },
    )
    token2 = Token(2, uuid4(), "check", TokenState.INACTIVE, NodeStatus.EXECUTED_COMPLETE, 1)
    incident = Incident("expression", "división por cero", "check", token2.uuid, T0)
    return replace(
        instance,
        tokens=(*instance.tokens, token2),
        incidents=(incident,),
        next_token_id=3,
    )


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
