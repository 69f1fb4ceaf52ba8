"""Writing an engine step's outcome: the instance, its audit events and its jobs, together.

Every save first checks the instance data against the data model and size cap
(``model/limits.py``): a refusal raises before anything is written, so the command's
transaction rolls back and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from procflow.engine.events import StepResult
from procflow.model.instance import ProcessInstance
from procflow.model.limits import DEFAULT_LIMITS, DataLimits, check_instance_data
from procflow.store.port import StoreTxn


def save_new(
    txn: StoreTxn, result: StepResult, now: datetime, limits: DataLimits = DEFAULT_LIMITS
) -> ProcessInstance:
    check_instance_data(result.instance.data, limits)
    saved = txn.insert_instance(result.instance)
    _write_effects(txn, result, now)
    return saved


def save_step(
    txn: StoreTxn,
    result: StepResult,
    now: datetime,
    *,
    with_jobs: bool = True,
    limits: DataLimits = DEFAULT_LIMITS,
) -> ProcessInstance:
    """``with_jobs=False`` leaves the step's jobs to the caller (a worker that continues its
    own job row into the follow-up instead of inserting a new one)."""
    check_instance_data(result.instance.data, limits)
    saved = txn.update_instance(result.instance)
    _write_effects(txn, result, now, with_jobs=with_jobs)
    return saved


def _write_effects(
    txn: StoreTxn, result: StepResult, now: datetime, *, with_jobs: bool = True
) -> None:
    uuid = result.instance.uuid
    if result.audit_events:
        txn.append_audit(uuid, result.audit_events, now)
    if result.jobs and with_jobs:
        txn.enqueue_jobs(uuid, result.jobs, now)
