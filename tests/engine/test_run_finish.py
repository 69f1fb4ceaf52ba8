"""Run.finish copies the instance without dataclasses.replace: it must give what replace gives."""

from __future__ import annotations

import uuid
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

from procflow.engine.events import AuditEvent
from procflow.engine.run import Run
from procflow.model.definition import ProcessDefinition
from procflow.model.instance import Lineage, ProcessInstance, Token
from procflow.model.states import InstanceState


def _instance() -> ProcessInstance:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return ProcessInstance(
        uuid=uuid.uuid4(),
        workspace_id=uuid.uuid4(),
        app_id=uuid.uuid4(),
        build_id=uuid.uuid4(),
        definition_id=uuid.uuid4(),
        definition_name="p",
        created_at=now,
        updated_at=now,
        state=InstanceState.STARTED,
        data={"a": 1},
        tokens=(Token(1, uuid.uuid4(), "n"),),
        lineage=Lineage(uuid.uuid4(), uuid.uuid4()),
        next_token_id=2,
        version=7,
        id=42,
    )


def test_finish_gives_what_dataclasses_replace_gives() -> None:
    instance = _instance()
    later = instance.updated_at + timedelta(seconds=1)
    run = Run(ProcessDefinition(name="p", nodes={}, flows=()), instance, later)
    run.data = {"a": 2}
    run.create_token("m")
    finished = run.finish()
    expected = replace(
        instance,
        data={"a": 2},
        tokens=tuple(run.tokens.values()),
        next_token_id=3,
        updated_at=later,
    )
    assert finished == expected
    assert type(finished) is ProcessInstance
    for field in fields(ProcessInstance):  # every field, including ones added later
        assert getattr(finished, field.name) == getattr(expected, field.name), field.name
    assert instance.data == {"a": 1} and instance.next_token_id == 2  # the input is untouched


def test_process_instance_has_no_post_init_for_finish_to_skip() -> None:
    assert not hasattr(ProcessInstance, "__post_init__")


def test_audit_events_recorded_by_a_run_are_ordinary_audit_events() -> None:
    instance = _instance()
    run = Run(ProcessDefinition(name="p", nodes={}, flows=()), instance, instance.updated_at)
    token = run.create_token("n")
    run.audit("token_arrived", "n", token, {"k": 1})
    run.audit("instance_started")
    assert run.effects == [
        AuditEvent("token_arrived", "n", token.uuid, {"k": 1}),
        AuditEvent("instance_started", None, None, {}),
    ]
    assert [type(effect) for effect in run.effects] == [AuditEvent, AuditEvent]
    # Run.audit fills these fields itself: a field added to AuditEvent must be added there.
    assert [field.name for field in fields(AuditEvent)] == [
        "type",
        "node_id",
        "token_uuid",
        "details",
    ]
