"""Workspaces, apps, builds with their definition sources, and the active build per app."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from procflow.model.build import App, Build, Workspace
from procflow.store.port import Store
from tests.store.factories import T0, deploy, deploy_in


def test_workspace_and_app_round_trip(store: Store) -> None:
    workspace = Workspace(uuid4(), "Ünïcode workspace")
    app = App(uuid4(), workspace.id, "Loans")
    with store.transaction() as txn:
        txn.insert_workspace(workspace)
        txn.insert_app(app)
    with store.transaction() as txn:
        assert txn.get_workspace(workspace.id) == workspace
        assert txn.get_app(app.id) == app
        assert txn.get_workspace(uuid4()) is None
        assert txn.get_app(uuid4()) is None


def test_app_needs_an_existing_workspace(store: Store) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"), store.transaction() as txn:
        txn.insert_app(App(uuid4(), uuid4(), "orphan"))


def test_build_round_trips_with_its_definitions(store: Store) -> None:
    deployment = deploy_in(store, "onboarding", "loan_application")
    with store.transaction() as txn:
        assert txn.get_build(deployment.build.id) == deployment.build
        assert txn.get_build(uuid4()) is None


def test_definition_source_by_id(store: Store) -> None:
    deployment = deploy_in(store, "a", "b")
    wanted = deployment.build.definitions[1]
    with store.transaction() as txn:
        assert txn.get_definition_source(wanted.id) == wanted
        assert txn.get_definition_source(uuid4()) is None


def test_definition_names_are_unique_within_a_build(store: Store) -> None:
    deployment = deploy_in(store)
    clash = replace(
        deployment.build,
        id=uuid4(),
        definitions=(
            replace(deployment.definition, id=uuid4()),
            replace(deployment.definition, id=uuid4(), file_name="other.yaml"),
        ),
    )
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), store.transaction() as txn:
        txn.insert_build(clash)


def test_active_build_is_set_then_replaced(store: Store) -> None:
    with store.transaction() as txn:
        first = deploy(txn)
        workspace_id, app_id = first.workspace.id, first.app.id
        assert txn.get_active_build_id(workspace_id, app_id) is None
        txn.set_active_build(workspace_id, app_id, first.build.id)
        second_build = Build(uuid4(), workspace_id, app_id, "sha256:def", T0, ())
        txn.insert_build(second_build)
    with store.transaction() as txn:
        assert txn.get_active_build_id(workspace_id, app_id) == first.build.id
        txn.set_active_build(workspace_id, app_id, second_build.id)
    with store.transaction() as txn:
        assert txn.get_active_build_id(workspace_id, app_id) == second_build.id
        assert txn.get_build(second_build.id) == second_build
        assert txn.get_active_build_id(workspace_id, uuid4()) is None
