"""Events the engine reacts to, and effects it asks the runtime to carry out.

Both are closed unions of frozen dataclasses; ``step`` dispatches on events with ``match``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from procflow.model.instance import ProcessInstance


@dataclass(frozen=True)
class Start:
    """Start the instance at this start node (chosen with ``engine.start.choose_start_node``)."""

    start_node_id: str


@dataclass(frozen=True)
class ActionExecuted:
    """A client executed a user-task action; ``body`` is merged into the data (RFC 7396)."""

    token_uuid: UUID
    action: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobCompleted:
    """The worker ran the async task the token waits on."""

    token_uuid: UUID
    node_id: str


@dataclass(frozen=True)
class JobFailed:
    """The worker gave up on the async task the token waits on (retries exhausted)."""

    token_uuid: UUID
    node_id: str
    error: str


@dataclass(frozen=True)
class Terminate:
    reason: str = ""


Event = Start | ActionExecuted | JobCompleted | JobFailed | Terminate


@dataclass(frozen=True)
class AuditEvent:
    """Appended to the instance's audit log in the same transaction as the new state."""

    type: str
    node_id: str | None = None
    token_uuid: UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EnqueueJob:
    """Run this node later, in a worker (async tasks)."""

    kind: str
    token_uuid: UUID
    node_id: str


Effect = AuditEvent | EnqueueJob


@dataclass(frozen=True)
class StepResult:
    instance: ProcessInstance
    effects: tuple[Effect, ...]

    @property
    def audit_events(self) -> tuple[AuditEvent, ...]:
        return tuple(e for e in self.effects if isinstance(e, AuditEvent))

    @property
    def jobs(self) -> tuple[EnqueueJob, ...]:
        return tuple(e for e in self.effects if isinstance(e, EnqueueJob))
