"""Helpers for pure engine tests: definitions from YAML text, fresh instances, a scenario driver
that saves and restores the instance between steps (SpiffWorkflow ``save_restore`` style)."""

from __future__ import annotations

import copy
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from procflow.engine.events import (
    ActionExecuted,
    AuditEvent,
    Event,
    JobCompleted,
    ScheduleWait,
    Start,
    StepResult,
    Terminate,
)
from procflow.engine.step import step
from procflow.model.data import JsonObject
from procflow.model.definition import ProcessDefinition
from procflow.model.instance import ProcessInstance, Token, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState
from procflow.model.yaml_format import parse_definition_text

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def parse(text: str) -> ProcessDefinition:
    return parse_definition_text(textwrap.dedent(text), "x.yaml")


def loan_definition() -> ProcessDefinition:
    text = (EXAMPLES / "loans" / "loan_application.yaml").read_text()
    return parse_definition_text(text, "loan_application.yaml")


def new_instance(
    data: JsonObject | None = None, name: str = "test", uuid: UUID | None = None
) -> ProcessInstance:
    """A fresh CREATED instance, as the runtime builds it before the Start step."""
    return ProcessInstance(
        uuid=uuid or uuid4(),
        workspace_id=uuid4(),
        app_id=uuid4(),
        build_id=uuid4(),
        definition_id=uuid4(),
        definition_name=name,
        created_at=NOW,
        updated_at=NOW,
        data=data if data is not None else {},
    )


def save_restore(instance: ProcessInstance) -> ProcessInstance:
    """The instance as the store would load it back: document and data through JSON."""
    document = orjson.loads(orjson.dumps(instance.to_document()))
    data = orjson.loads(orjson.dumps(instance.data))
    return replace(instance.with_document(document), data=data)


def live(instance: ProcessInstance) -> list[Token]:
    return list(instance.live_tokens)


def live_at(instance: ProcessInstance, node_id: str) -> Token:
    found = [t for t in instance.live_tokens if t.node_id == node_id]
    assert len(found) == 1, f"expected one live token at {node_id}, got {found}"
    return found[0]


def audit_events(result: StepResult) -> list[AuditEvent]:
    return [effect for effect in result.effects if isinstance(effect, AuditEvent)]


def scheduled(result: StepResult) -> list[ScheduleWait]:
    return [effect for effect in result.effects if isinstance(effect, ScheduleWait)]


def audit_types(result: StepResult) -> list[str]:
    return [event.type for event in audit_events(result)]


def audits_of(result: StepResult, type_: str) -> list[AuditEvent]:
    return [event for event in audit_events(result) if event.type == type_]


def task_wait(instance: ProcessInstance, node_id: str) -> str:
    """The id of the async-task wait at ``node_id``."""
    [wait] = [w for w in instance.waits if w.node_id == node_id and w.kind is WaitKind.TASK]
    return wait.id


class Scenario:
    """Drives one instance through steps; after each, saves and reloads it and checks that
    nothing was lost, then continues with the reloaded instance. Also checks that the
    event's and the instance's inputs were not mutated by the step."""

    def __init__(self, definition: ProcessDefinition, data: JsonObject | None = None) -> None:
        self.definition = definition
        self.instance = new_instance(data)
        self.results: list[StepResult] = []
        self.clock = NOW

    def send(self, event: Event) -> StepResult:
        self.clock += timedelta(seconds=1)
        before = copy.deepcopy(self.instance)
        event_before = copy.deepcopy(event)
        result = step(self.definition, self.instance, event, self.clock)
        assert self.instance == before, "step mutated its input instance"
        assert event == event_before, "step mutated its event"
        restored = save_restore(result.instance)
        assert restored == result.instance
        self.instance = restored
        self.results.append(result)
        return result

    def start(self, start_node_id: str | None = None) -> StepResult:
        node_id = start_node_id or self.definition.start_nodes[0].id
        return self.send(Start(node_id))

    def act(self, node_id: str, action: str, body: dict[str, Any] | None = None) -> StepResult:
        token = live_at(self.instance, node_id)
        return self.send(ActionExecuted(token.uuid, action, body or {}))

    def complete_job(self, node_id: str) -> StepResult:
        return self.send(JobCompleted(task_wait(self.instance, node_id)))

    def terminate(self, reason: str = "") -> StepResult:
        return self.send(Terminate(reason))

    def state(self) -> InstanceState:
        """A method, not a property, so type checkers do not pin it after one assert."""
        return self.instance.state

    @property
    def data(self) -> JsonObject:
        return self.instance.data

    def waiting(self) -> list[tuple[str, NodeStatus]]:
        return sorted((t.node_id, t.status) for t in self.instance.live_tokens)

    def token_states(self) -> set[TokenState]:
        return {t.state for t in self.instance.tokens}


@pytest.fixture
def instance() -> ProcessInstance:
    return new_instance()
