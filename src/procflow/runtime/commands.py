"""Commands on a running instance: user-task actions, job results, termination.

Each is load -> ``engine.step`` -> save with an optimistic version check. When another
writer saved the instance first, the command is re-run on the fresh state (bounded), so
two racing commands never lose an update.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from procflow.engine.events import ActionExecuted, Event, Terminate
from procflow.engine.step import step
from procflow.model.data import JsonObject
from procflow.model.errors import ConcurrentModification, ProcessInstanceNotFound
from procflow.model.instance import ProcessInstance
from procflow.runtime import metrics
from procflow.runtime.access import Principal, Role
from procflow.runtime.context import RuntimeContext
from procflow.runtime.persist import save_step
from procflow.runtime.views import InstanceView
from procflow.store.port import StoreTxn

log = logging.getLogger("procflow.runtime")


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
    ctx: RuntimeContext, principal: Principal, instance_uuid: UUID, reason: str
) -> InstanceView:
    return apply_event(ctx, principal, Role.ADMIN, instance_uuid, lambda _: Terminate(reason))


def apply_event(
    ctx: RuntimeContext,
    principal: Principal,
    role: Role,
    instance_uuid: UUID,
    make_event: Callable[[ProcessInstance], Event],
) -> InstanceView:
    for _ in range(ctx.max_conflict_retries):
        try:
            with ctx.store.transaction() as txn:
                return _apply_in(ctx, txn, principal, role, instance_uuid, make_event)
        except ConcurrentModification:
            metrics.observe_conflict_retry("action")
            continue
    raise ConcurrentModification()


def _apply_in(
    ctx: RuntimeContext,
    txn: StoreTxn,
    principal: Principal,
    role: Role,
    instance_uuid: UUID,
    make_event: Callable[[ProcessInstance], Event],
) -> InstanceView:
    instance = load_visible(txn, principal, role, instance_uuid, for_update=True)
    build = ctx.catalog.build(txn, instance.build_id)
    definition = ctx.catalog.definition_in(build, instance.definition_id)
    now = ctx.clock()
    event = make_event(instance)
    result = step(definition, instance, event, now)
    saved = save_step(txn, result, now)
    metrics.observe_transition(instance, saved)
    log.info(
        "instance moved",
        extra={
            "instance": str(saved.uuid),
            "state": saved.state.value,
            "event": type(event).__name__,
        },
    )
    return InstanceView(saved, build)


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
