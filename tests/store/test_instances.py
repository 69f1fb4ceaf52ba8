"""Instances: round-trips, optimistic concurrency, the running-state guard, rollback."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from sqlalchemy.exc import IntegrityError

from procflow.model.errors import ActiveBuildChanged, ConcurrentModification
from procflow.model.instance import snapshot
from procflow.model.states import InstanceState
from procflow.store.port import Store
from tests.store.factories import T0, deploy_in, later, new_instance, rich_instance


def test_insert_assigns_id_and_version_one(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        first = txn.insert_instance(new_instance(deployment))
        second = txn.insert_instance(new_instance(deployment))
    assert first.version == 1
    assert first.id is not None
    assert second.id is not None
    assert second.id > first.id


def test_instance_round_trips_through_the_document(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(rich_instance(deployment))
    with store.transaction() as txn:
        loaded = txn.get_instance(saved.uuid)
    assert loaded == saved
    assert snapshot(loaded) == snapshot(saved)
    assert loaded.data["applicant"]["name"] == "Zoë Ñúñez 李雷"
    assert loaded.incidents[0].message == "división por cero"


def test_timestamps_come_back_aware_utc(store: Store) -> None:
    deployment = deploy_in(store)
    bucharest = timezone(timedelta(hours=2))
    created = datetime(2026, 6, 1, 12, 30, 0, 654321, tzinfo=bucharest)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment, created_at=created))
    with store.transaction() as txn:
        loaded = txn.get_instance(saved.uuid)
    assert loaded is not None
    assert loaded.created_at == created
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.created_at.hour == 10
    assert loaded.created_at.microsecond == 654321


def test_naive_timestamps_are_refused(store: Store) -> None:
    deployment = deploy_in(store)
    naive = new_instance(deployment, created_at=datetime(2026, 1, 1))
    with pytest.raises(Exception, match="naive datetime"), store.transaction() as txn:
        txn.insert_instance(naive)


def test_unknown_instance_is_none(store: Store) -> None:
    with store.transaction() as txn:
        assert txn.get_instance(uuid4()) is None
        assert txn.get_instance(uuid4(), for_update=True) is None


def test_update_saves_and_bumps_version(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment))
    changed = replace(saved, data={"amount": 2000, "note": "ü"}, updated_at=later(60))
    with store.transaction() as txn:
        loaded = txn.get_instance(saved.uuid, for_update=True)
        assert loaded == saved
        updated = txn.update_instance(changed)
    assert updated.version == 2
    with store.transaction() as txn:
        assert txn.get_instance(saved.uuid) == updated


def test_stale_version_raises_concurrent_modification(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment))
    with store.transaction() as txn:
        txn.update_instance(replace(saved, data={"winner": "first"}))
    with pytest.raises(ConcurrentModification), store.transaction() as txn:
        txn.update_instance(replace(saved, data={"winner": "second"}))
    with store.transaction() as txn:
        loaded = txn.get_instance(saved.uuid)
    assert loaded is not None
    assert loaded.data == {"winner": "first"}
    assert loaded.version == 2


def test_finished_instance_cannot_be_updated(store: Store) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment))
        finished = txn.update_instance(replace(saved, state=InstanceState.FINISHED))
    late_write = replace(finished, state=InstanceState.STARTED, data={"late": True})
    with pytest.raises(ConcurrentModification), store.transaction() as txn:
        txn.update_instance(late_write)
    with store.transaction() as txn:
        loaded = txn.get_instance(saved.uuid)
    assert loaded == finished


@pytest.mark.parametrize("state", [InstanceState.CREATED, InstanceState.STARTED])
def test_running_states_accept_updates(store: Store, state: InstanceState) -> None:
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment, state=state))
        assert txn.update_instance(replace(saved, state=InstanceState.FAILED)).version == 2


def test_update_of_unknown_instance_raises(store: Store) -> None:
    deployment = deploy_in(store)
    never_saved = replace(new_instance(deployment), version=1)
    with pytest.raises(ConcurrentModification), store.transaction() as txn:
        txn.update_instance(never_saved)


def test_rollback_on_exception_leaves_nothing(store: Store) -> None:
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as txn:
        txn.insert_instance(instance)
        txn.append_audit(instance.uuid, [], T0)
        raise RuntimeError("boom")
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) is None
        assert txn.list_audit(instance.uuid) == []


def test_duplicate_uuid_is_rejected(store: Store) -> None:
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    with store.transaction() as txn:
        txn.insert_instance(instance)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), store.transaction() as txn:
        txn.insert_instance(instance)


def test_insert_while_active_writes_only_on_the_active_build(store: Store) -> None:
    deployment = deploy_in(store)
    instance = new_instance(deployment)
    with pytest.raises(ActiveBuildChanged), store.transaction() as txn:
        txn.insert_instance(instance, while_active=True)  # no active build yet
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) is None
        txn.set_active_build(deployment.workspace.id, deployment.app.id, deployment.build.id)
    with store.transaction() as txn:
        saved = txn.insert_instance(instance, while_active=True)
    with store.transaction() as txn:
        assert txn.get_instance(instance.uuid) == saved


def test_a_driver_error_surfaces_as_sqlalchemy_integrity_error(store: Store) -> None:
    """The hot statements run on the DBAPI cursor; their errors keep SQLAlchemy's types
    (what callers such as the batch runner catch), and roll the transaction back."""
    deployment = deploy_in(store)
    with store.transaction() as txn:
        saved = txn.insert_instance(new_instance(deployment))
    twin = replace(new_instance(deployment), uuid=saved.uuid)
    with pytest.raises(IntegrityError), store.transaction() as txn:
        txn.insert_instance(twin)
    with store.transaction() as txn:
        assert txn.get_instance(saved.uuid) == saved
