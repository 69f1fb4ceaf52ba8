"""Events the engine reacts to, and effects it asks the runtime to carry out.

Both are closed unions of frozen dataclasses: ``step`` dispatches on events with ``match``,
and the runtime's effect executor matches every effect with ``assert_never``, so a new kind
of either cannot be silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from procflow.model.instance import ProcessInstance

# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Start the instance at this start node (chosen with ``engine.start.choose_start_node``),
    or, with ``downstream``, with one token at any node of the process (copyDataFrom's
    ``startAt``: resume downstream after an interruption)."""

    start_node_id: str
    downstream: bool = False


@dataclass(frozen=True)
class ActionExecuted:
    """A client executed a user-task action; ``body`` is merged into the data (RFC 7396)."""

    token_uuid: UUID
    action: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobCompleted:
    """The worker ran the async task of this wait."""

    wait_id: str


@dataclass(frozen=True)
class JobFailed:
    """The worker gave up on the job of this wait (retries exhausted)."""

    wait_id: str
    error: str


@dataclass(frozen=True)
class TimerFired:
    """The timer of this wait is due (a catch event, a boundary event, an event-gateway
    branch, or the instance's expiry)."""

    wait_id: str


@dataclass(frozen=True)
class ExternalTaskCompleted:
    """A worker completed the external task of this wait; ``data`` is merged (RFC 7396)."""

    wait_id: str
    data: dict[str, Any] = field(default_factory=dict)
    worker_id: str = ""


@dataclass(frozen=True)
class ExternalTaskFailed:
    """A worker failed the external task of this wait with no retries left: an incident."""

    wait_id: str
    error_message: str
    worker_id: str = ""


@dataclass(frozen=True)
class BpmnErrorThrown:
    """A worker threw a BPMN error at the external task of this wait: an error boundary
    event of the task catches it (``data`` merged first), or the instance fails."""

    wait_id: str
    error_code: str
    error_message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    worker_id: str = ""


@dataclass(frozen=True)
class MessageCorrelated:
    """A message was delivered to the subscription of this wait; ``data`` is merged."""

    wait_id: str
    message_name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Terminate:
    reason: str = ""
    by: str | None = None


@dataclass(frozen=True)
class Hold:
    by: str | None = None


@dataclass(frozen=True)
class Unhold:
    by: str | None = None


@dataclass(frozen=True)
class RetryIncident:
    """Resolve an open incident of a FAILED instance: merge ``patch`` into the data (RFC 7396)
    and run the failed step again."""

    incident_id: int
    patch: dict[str, Any] = field(default_factory=dict)
    by: str | None = None


@dataclass(frozen=True)
class ChildEnded:
    """A child instance started by one of this instance's call activities ended:
    ``outcome`` "finished" (its ``data`` at the end), "failed", "terminated", or "error"
    (an uncaught BPMN error, thrown at the call activity). The call's wait is found from
    ``child_uuid``; a wait already gone (the token left) makes this event change nothing."""

    child_uuid: UUID
    outcome: str
    data: dict[str, Any] = field(default_factory=dict)
    error_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class ChildStartRefused:
    """The child of this call wait could not be started (no such process, too deep): an
    incident of ``incident_type`` on the caller."""

    wait_id: str
    incident_type: str
    message: str


Event = (
    Start
    | ActionExecuted
    | JobCompleted
    | JobFailed
    | TimerFired
    | ExternalTaskCompleted
    | ExternalTaskFailed
    | BpmnErrorThrown
    | MessageCorrelated
    | Terminate
    | Hold
    | Unhold
    | RetryIncident
    | ChildEnded
    | ChildStartRefused
)

# --- effects --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    """Appended to the instance's audit log in the same transaction as the new state."""

    type: str
    node_id: str | None = None
    token_uuid: UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScheduleWait:
    """Queue the job that fires this wait at ``due_at`` (an async task: due now)."""

    kind: str
    wait_id: str
    due_at: datetime
    token_uuid: UUID | None
    node_id: str | None


@dataclass(frozen=True)
class CancelWaits:
    """These waits no longer exist (their token left, or the instance ended): drop their
    jobs. A job already claimed finds its wait gone and is ignored."""

    wait_ids: tuple[str, ...]
    # The kind of each wait (``WaitKind`` values, in order), so that the runtime deletes each
    # from its own table only; empty: look in every table. Not part of equality.
    kinds: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class HoldWaits:
    """Keep (``held``) or release the instance's pending jobs: held while the instance is on
    hold or failed, released when it runs again (due timers then fire at once)."""

    held: bool


@dataclass(frozen=True)
class OpenExternalTask:
    """Make the external task of this wait fetchable by workers of ``topic``. Cancelling the
    wait (``CancelWaits``) deletes it again."""

    wait_id: str
    topic: str
    retries: int
    token_uuid: UUID
    node_id: str


@dataclass(frozen=True)
class RetryExternalTask:
    """An incident on this external task was retried: it is fetchable again, with
    ``retries`` left."""

    wait_id: str
    retries: int


@dataclass(frozen=True)
class Subscribe:
    """Open the message subscription of this wait: the oldest one matching a message's
    name and correlation key (None: a message without a key) receives it. Cancelling the
    wait deletes it."""

    wait_id: str
    message_name: str
    correlation_key: str | None
    token_uuid: UUID
    node_id: str


@dataclass(frozen=True)
class StartChild:
    """Start the child instance of a call activity (in its own command, through a job):
    the process ``called_element`` of the caller's build (``binding`` "build") or of the
    app's active build ("latest"), with ``data``. ``wait_id`` names the call on the caller
    and derives the child's uuid, so a job run twice starts one child."""

    wait_id: str
    token_uuid: UUID
    node_id: str
    called_element: str
    binding: str
    data: dict[str, Any]
    is_async: bool = False


Effect = (
    AuditEvent
    | ScheduleWait
    | CancelWaits
    | HoldWaits
    | OpenExternalTask
    | RetryExternalTask
    | Subscribe
    | StartChild
)


@dataclass(frozen=True)
class StepResult:
    instance: ProcessInstance
    effects: tuple[Effect, ...]
    # False when the event changed nothing (terminating an instance already terminated):
    # the runtime then writes nothing.
    changed: bool = True
