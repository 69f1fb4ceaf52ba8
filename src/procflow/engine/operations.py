"""Operators' events: terminate, hold, unhold, and retrying an incident.

Each checks that it fits the instance's state; one that does not raises
``InstanceStateConflict`` (409, nothing changed). Doing again what is done already
(terminating a terminated instance, holding a held one) changes nothing and is no error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import assert_never

from procflow.engine.events import (
    Hold,
    HoldWaits,
    RetryExternalTask,
    RetryIncident,
    Terminate,
    Unhold,
)
from procflow.engine.external import EXTERNAL_TASK_FAILED
from procflow.engine.nodes import advance
from procflow.engine.run import Run
from procflow.engine.tokens import arrived_at
from procflow.model.data import merge_patch
from procflow.model.errors import (
    IncidentNotFound,
    IncidentResolved,
    InstanceStateConflict,
    InvalidRequestBody,
)
from procflow.model.instance import Incident, Token, WaitKind
from procflow.model.states import InstanceState, TokenState

Operation = Terminate | Hold | Unhold | RetryIncident


def on_operation(run: Run, event: Operation) -> None:
    match event:
        case Terminate():
            on_terminate(run, event)
        case Hold():
            on_hold(run, event)
        case Unhold():
            on_unhold(run, event)
        case RetryIncident():
            on_retry(run, event)
        case _:
            assert_never(event)


def on_terminate(run: Run, event: Terminate) -> None:
    if run.state is InstanceState.TERMINATED:
        run.changed = False
        return
    _require_state(run, InstanceState.CREATED, InstanceState.STARTED, InstanceState.ON_HOLD,
                   InstanceState.FAILED)  # fmt: skip
    run.end_instance(InstanceState.TERMINATED, TokenState.TERMINATED)
    run.audit("instance_terminated", details={"reason": event.reason, "by": event.by})


def on_hold(run: Run, event: Hold) -> None:
    if run.state is InstanceState.ON_HOLD:
        run.changed = False
        return
    _require_state(run, InstanceState.STARTED)
    run.become(InstanceState.ON_HOLD)
    run.set_live_tokens(TokenState.ON_HOLD)
    run.effects.append(HoldWaits(held=True))
    run.audit("instance_held", details={"by": event.by})


def on_unhold(run: Run, event: Unhold) -> None:
    if run.state is InstanceState.STARTED:
        run.changed = False
        return
    _require_state(run, InstanceState.ON_HOLD)
    run.become(InstanceState.STARTED)
    run.set_live_tokens(TokenState.ACTIVE, TokenState.ON_HOLD)
    run.effects.append(HoldWaits(held=False))
    run.audit("instance_unheld", details={"by": event.by})


def on_retry(run: Run, event: RetryIncident) -> None:
    """FAILED -> STARTED: the patch is merged, the incident resolved, the tokens the failure
    aborted run again, and the failed step re-runs from the token's node."""
    incident = _open_incident(run, event.incident_id)
    if not isinstance(event.patch, Mapping):
        raise InvalidRequestBody()
    run.data = merge_patch(run.data, event.patch)
    _resolve(run, incident, event.by)
    run.become(InstanceState.STARTED)
    run.set_live_tokens(TokenState.ACTIVE, TokenState.ABORTED)
    run.effects.append(HoldWaits(held=False))
    details = {"incidentId": incident.id, "type": incident.type, "by": event.by,
               "patchKeys": sorted(event.patch)}  # fmt: skip
    run.audit("incident_resolved", incident.node_id, None, details)
    failed = run.token(incident.token_uuid) if incident.token_uuid is not None else None
    if failed is not None and incident.type == EXTERNAL_TASK_FAILED:
        _retry_external_task(run, failed, incident)
        return
    if failed is not None and failed.state is TokenState.ACTIVE:
        # Whatever the token waited for at the failed node is armed afresh by the re-run.
        run.cancel_token_waits(failed)
        advance(run, run.put(arrived_at(failed, incident.node_id)))


def _retry_external_task(run: Run, token: Token, incident: Incident) -> None:
    """The same task becomes fetchable again with one retry (as Camunda's "set retries"):
    a worker that fails it once more makes a new incident."""
    waits = [w for w in run.waits.values() if w.token_id == token.id]
    wait = next(
        (w for w in waits if w.kind is WaitKind.EXTERNAL and w.node_id == incident.node_id), None
    )
    if wait is None:  # the task is gone (an instance saved before it existed): run it anew
        advance(run, run.put(arrived_at(token, incident.node_id)))
        return
    run.effects.append(RetryExternalTask(wait.id, retries=1))


def _open_incident(run: Run, incident_id: int) -> Incident:
    incident = next((i for i in run.incidents if i.id == incident_id), None)
    if incident is None:
        raise IncidentNotFound(incidentId=incident_id)
    if not incident.is_open:
        raise IncidentResolved(incidentId=incident_id, state=run.state.value)
    _require_state(run, InstanceState.FAILED)
    return incident


def _resolve(run: Run, incident: Incident, by: str | None) -> None:
    resolved = replace(incident, resolved_at=run.now, resolved_by=by)
    run.incidents = [resolved if i.id == incident.id else i for i in run.incidents]


def _require_state(run: Run, *allowed: InstanceState) -> None:
    if run.state not in allowed:
        raise InstanceStateConflict(state=run.state.value)
