"""The one path every writer takes: load -> ``engine.step`` -> save -> carry out effects.

Starts, actions, job and timer firings and operations all go through ``run_command`` (one
transaction per attempt, one ``now`` per attempt, one optimistic-retry policy) and
``apply_step`` (the step, the save with its version check, the effects, metrics and the log
line), so that a new kind of writer cannot forget any of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TypeVar

from procflow.engine.events import Effect, Event, StepResult
from procflow.engine.step import step
from procflow.model.build import Build
from procflow.model.errors import ConcurrentModification
from procflow.model.instance import ProcessInstance
from procflow.model.limits import check_instance_data
from procflow.runtime import child_jobs, metrics
from procflow.runtime.context import RuntimeContext
from procflow.runtime.effects import JobReuse, carry_out
from procflow.runtime.message_buffer import buffered_delivery
from procflow.store.port import StoreTxn

log = logging.getLogger("procflow.runtime")

T = TypeVar("T")


class RetryableConflict(Exception):
    """Another transaction won a race this attempt depended on; the command runs again on
    fresh state. ``ConcurrentModification`` (a lost version check) is the other such case."""


def run_command(
    ctx: RuntimeContext,
    attempt: Callable[[StoreTxn, datetime], T],
    exhausted: Callable[[], Exception] = ConcurrentModification,
    *,
    command: str = "command",
) -> T:
    """Run ``attempt`` in a write transaction, again (bounded) when it lost a race.
    ``command`` labels the conflict-retry metric (start, action, operation, job)."""
    for _ in range(ctx.max_conflict_retries):
        now = ctx.clock()
        try:
            with ctx.store.transaction() as txn:
                return attempt(txn, now)
        except (ConcurrentModification, RetryableConflict):
            metrics.observe_conflict_retry(command)
            continue
    raise exhausted()


@dataclass(frozen=True)
class Applied:
    """An instance after a step: as saved (``instance``), with its build and the step."""

    instance: ProcessInstance
    build: Build
    result: StepResult


def apply_step(
    ctx: RuntimeContext,
    txn: StoreTxn,
    instance: ProcessInstance,
    event: Event,
    now: datetime,
    *,
    build: Build | None = None,
    is_new: bool = False,
    while_active: bool = False,
    prelude: tuple[Effect, ...] = (),
    reuse: JobReuse | None = None,
) -> Applied:
    """Step ``instance`` with ``event`` and write the outcome in ``txn``.

    ``is_new`` inserts the instance (a start) instead of updating it under its version
    check, ``while_active`` only while its build is the app's active build; ``prelude``
    effects are carried out before the step's own (the creation audit event of a start);
    ``reuse`` lets a worker continue its job row into a follow-up.
    """
    build = build or ctx.catalog.build(txn, instance.build_id)
    definition = ctx.catalog.definition_in(build, instance.definition_id)
    result = step(definition, instance, event, now)
    if not result.changed:
        return Applied(instance, build, result)
    # Before anything is written: a refusal (data too big, or not storable) rolls the
    # command back and changes nothing. The engine shares untouched data, so a step that
    # left it as loaded (a timer, a hold, a task without rules) has nothing new to check:
    # walking a large document again on every such step would cost more than the step.
    if is_new or result.instance.data is not instance.data:
        check_instance_data(result.instance.data, ctx.data_limits)
    saved = (
        txn.insert_instance(result.instance, while_active=while_active)
        if is_new
        else txn.update_instance(result.instance)
    )
    carry_out(txn, saved.uuid, (*prelude, *result.effects), now, reuse)
    child_jobs.tell_parent(txn, None if is_new else instance, saved, now)
    child_jobs.cascade(txn, saved, event, now)
    if is_new:
        txn.after_commit(partial(_announce_start, saved))
    else:
        txn.after_commit(partial(_announce_move, instance, saved, type(event).__name__))
    delivery = buffered_delivery(txn, saved, result.effects, now)
    if delivery is not None:
        return apply_step(ctx, txn, saved, delivery, now, build=build)
    return Applied(saved, build, result)


# Metrics and log lines wait for the commit: a rolled-back attempt (a lost race, retried)
# is neither counted nor logged, and on SQLite they are written after the write lock is
# released rather than while the next writer waits for it.


def _announce_start(saved: ProcessInstance) -> None:
    metrics.observe_start(saved)
    log.info(
        "instance started",
        extra={"instance": str(saved.uuid), "state": saved.state.value,
               "definition": saved.definition_name},
    )  # fmt: skip


def _announce_move(before: ProcessInstance, saved: ProcessInstance, event: str) -> None:
    metrics.observe_transition(before, saved)
    log.info(
        "instance moved",
        extra={"instance": str(saved.uuid), "state": saved.state.value, "event": event},
    )
