"""Commands on an existing instance: user-task actions and the operators' operations.

Each loads the instance for update, checks the caller may act on it, and hands the event to
the pipeline (``run_command`` + ``apply_step``), which retries on a lost version check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from procflow.engine.events import (
    ActionExecuted,
    Event,
    Hold,
    RetryIncident,
    Terminate,
    Unhold,
)
from procflow.model.data import JsonObject
from procflow.model.errors import ProcessInstanceNotFound
from procflow.model.instance import ProcessInstance
from procflow.runtime.access import Principal, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.pipeline import apply_step, run_command
from procflow.runtime.views import InstanceView
from procflow.store.port import StoreTxn


def execute_action(
    ctx: RuntimeContext,
    principal: Principal,
    instance_uuid: UUID,
    token_uuid: UUID,
    action: str,
    body: JsonObject,
) -> InstanceView:
    event = ActionExecuted(token_uuid, action, body)
    return apply_event(ctx, principal, Role.ACTION, instance_uuid, lambda _: event)


def terminate(
    ctx: RuntimeContext, principal: Principal, instance_uuid: UUID, reason: str = ""
) -> InstanceView:
    event = Terminate(reason, by=principal.subject)
    return apply_event(ctx, principal, Role.OPERATE, instance_uuid, lambda _: event)


def hold(ctx: RuntimeContext, principal: Principal, instance_uuid: UUID) -> InstanceView:
    event = Hold(by=principal.subject)
    return apply_event(ctx, principal, Role.OPERATE, instance_uuid, lambda _: event)


def unhold(ctx: RuntimeContext, principal: Principal, instance_uuid: UUID) -> InstanceView:
    event = Unhold(by=principal.subject)
    return apply_event(ctx, principal, Role.OPERATE, instance_uuid, lambda _: event)


def retry_incident(
    ctx: RuntimeContext,
    principal: Principal,
    instance_uuid: UUID,
    incident_id: int,
    patch: JsonObject,
) -> InstanceView:
    event = RetryIncident(incident_id, patch, by=principal.subject)
    return apply_event(ctx, principal, Role.OPERATE, instance_uuid, lambda _: event)


def apply_event(
    ctx: RuntimeContext,
    principal: Principal,
    role: Role,
    instance_uuid: UUID,
    make_event: Callable[[ProcessInstance], Event],
) -> InstanceView:
    def attempt(txn: StoreTxn, now: datetime) -> InstanceView:
        return apply_event_in(ctx, txn, now, principal, role, instance_uuid, make_event)

    return run_command(ctx, attempt, command="action" if role is Role.ACTION else "operation")


def apply_event_in(
    ctx: RuntimeContext,
    txn: StoreTxn,
    now: datetime,
    principal: Principal,
    role: Role,
    instance_uuid: UUID,
    make_event: Callable[[ProcessInstance], Event],
) -> InstanceView:
    """``apply_event`` inside the caller's transaction (a batch applies many in one)."""
    instance = load_visible(txn, principal, role, instance_uuid, for_update=True)
    applied = apply_step(ctx, txn, instance, make_event(instance), now)
    return InstanceView(applied.instance, applied.build)


def load_visible(
    txn: StoreTxn,
    principal: Principal,
    role: Role,
    instance_uuid: UUID,
    *,
    for_update: bool = False,
) -> ProcessInstance:
    """The instance, if the principal may act on it with ``role``; 404 if it may not see it."""
    instance = txn.get_instance(instance_uuid, for_update=for_update)
    if instance is None:
        raise ProcessInstanceNotFound()
    principal.require(instance.workspace_id, role, ProcessInstanceNotFound())
    return instance
