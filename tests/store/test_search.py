"""Instance search (filters, cursor pagination) and lineage."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from procflow.model.instance import Lineage, ProcessInstance
from procflow.model.states import InstanceState
from procflow.store.port import InstanceQuery, Store
from tests.store.factories import Deployment, deploy_in, later, new_instance


@pytest.fixture
def population(store: Store) -> tuple[Deployment, list[ProcessInstance]]:
    """Six instances of two definitions in mixed states, one minute apart, plus noise from
    another workspace that no search of the first may ever return."""
    deployment = deploy_in(store, "loan", "onboarding")
    shapes = [
        (0, InstanceState.STARTED),
        (1, InstanceState.FINISHED),
        (0, InstanceState.FAILED),
        (0, InstanceState.STARTED),
        (1, InstanceState.STARTED),
        (0, InstanceState.FINISHED),
    ]
    saved = []
    with store.transaction() as txn:
        for minute, (definition, state) in enumerate(shapes):
            instance = new_instance(
                deployment, definition_index=definition, state=state, created_at=later(60 * minute)
            )
            saved.append(txn.insert_instance(instance))
    foreign = deploy_in(store, "loan")
    with store.transaction() as txn:
        txn.insert_instance(new_instance(foreign))
    return deployment, saved


def _search(store: Store, **filters: object) -> list[ProcessInstance]:
    with store.transaction() as txn:
        return txn.search_instances(InstanceQuery(**filters))  # type: ignore[arg-type]


def test_workspace_filter_alone_returns_all_in_id_order(
    store: Store, population: tuple[Deployment, list[ProcessInstance]]
) -> None:
    deployment, saved = population
    found = _search(store, workspace_id=deployment.workspace.id)
    assert found == saved
    assert _search(store, workspace_id=uuid4()) == []


def test_filter_by_definition_and_state(
    store: Store, population: tuple[Deployment, list[ProcessInstance]]
) -> None:
    deployment, saved = population
    workspace_id = deployment.workspace.id
    loans = _search(store, workspace_id=workspace_id, definition_name="loan")
    assert loans == [saved[i] for i in (0, 2, 3, 5)]
    running_loans = _search(
        store, workspace_id=workspace_id, definition_name="loan", states=(InstanceState.STARTED,)
    )
    assert running_loans == [saved[0], saved[3]]
    ended = _search(
        store, workspace_id=workspace_id, states=(InstanceState.FINISHED, InstanceState.FAILED)
    )
    assert ended == [saved[1], saved[2], saved[5]]


def test_created_range_is_half_open(
    store: Store, population: tuple[Deployment, list[ProcessInstance]]
) -> None:
    deployment, saved = population
    found = _search(
        store, workspace_id=deployment.workspace.id, created_from=later(60), created_to=later(240)
    )
    assert found == saved[1:4]
    naive_bounds = _search(
        store,
        workspace_id=deployment.workspace.id,
        created_from=later(60).replace(tzinfo=None),
        created_to=later(240).replace(tzinfo=None),
    )
    assert naive_bounds == saved[1:4]


def test_cursor_pagination_walks_every_instance_once(
    store: Store, population: tuple[Deployment, list[ProcessInstance]]
) -> None:
    deployment, saved = population
    pages: list[list[ProcessInstance]] = []
    after = None
    while True:
        page = _search(store, workspace_id=deployment.workspace.id, after=after, limit=4)
        if not page:
            break
        pages.append(page)
        after = page[-1].id
    assert [len(page) for page in pages] == [4, 2]
    assert [i for page in pages for i in page] == saved


def test_unknown_extra_filters_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        _search(store, workspace_id=uuid4(), extra={"data.amount": 5})


def _copy_of(deployment: Deployment, source: ProcessInstance) -> ProcessInstance:
    root = source.lineage.lineage_root_uuid or source.uuid
    return new_instance(
        deployment, lineage=Lineage(copied_from_uuid=source.uuid, lineage_root_uuid=root)
    )


def test_lineage_members_are_the_root_and_every_copy(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        root = txn.insert_instance(new_instance(deployment))
        child = txn.insert_instance(_copy_of(deployment, root))
        grandchild = txn.insert_instance(_copy_of(deployment, child))
        sibling = txn.insert_instance(_copy_of(deployment, root))
        unrelated = txn.insert_instance(new_instance(deployment))
    with store.transaction() as txn:
        members = txn.lineage_members(root.uuid)
        assert members == [root, child, grandchild, sibling]
        assert grandchild.lineage == Lineage(child.uuid, root.uuid)
        assert txn.lineage_members(unrelated.uuid) == [unrelated]
        assert txn.lineage_members(uuid4()) == []
    by_lineage = _search(store, workspace_id=deployment.workspace.id, lineage_root_uuid=root.uuid)
    assert by_lineage == members


def test_search_reflects_updates(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment))
        finished = txn.update_instance(replace(saved, state=InstanceState.FINISHED))
    found = _search(store, workspace_id=deployment.workspace.id, states=(InstanceState.FINISHED,))
    assert found == [finished]
