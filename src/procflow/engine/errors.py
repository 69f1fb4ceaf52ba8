"""BPMN errors: thrown at an activity (a worker's ``bpmnError``) or by an error end event,
caught by the innermost error boundary event that matches, or an ``unhandled_error``.

The lookup goes from the thrower outwards: the activity's own boundaries first (a
multi-instance activity's are its host's), then those of each subprocess that encloses it,
out to the process. The catching boundary interrupts its activity: everything still running
inside is cancelled (``move_to``).
"""

from __future__ import annotations

from procflow.engine.moves import move_to
from procflow.engine.run import Run
from procflow.engine.scopes import loop_host, owner_of
from procflow.model.data import set_path
from procflow.model.definition import BoundaryEvent, ProcessDefinition
from procflow.model.instance import Token

UNHANDLED_ERROR = "unhandled_error"


def catching_boundary(
    definition: ProcessDefinition, activity_id: str, code: str
) -> BoundaryEvent | None:
    """The activity's error boundary for ``code``: one naming the code wins over a catch-all."""
    catching = [
        (b, b.error.code) for b in definition.boundaries_of(activity_id) if b.error is not None
    ]
    exact = next((b for b, caught in catching if caught == code), None)
    return exact or next((b for b, caught in catching if caught is None), None)


def enclosing_scope(definition: ProcessDefinition, node_id: str) -> str | None:
    """The activity whose boundaries catch what ``node_id`` throws from inside it: its
    subprocess, None for the process's own nodes."""
    return definition.scope_of(node_id)


def throw_error(
    run: Run, token: Token, activity_id: str | None, code: str, message: str
) -> Token | None:
    """Throw the BPMN error at ``activity_id`` (where ``token`` stands, or the subprocess it
    runs in); the token leaving by the catching boundary, to keep moving, or None after an
    ``unhandled_error``."""
    holder: Token | None = token
    while holder is not None and holder.node_id != activity_id:
        holder = owner_of(run, holder)
    while holder is not None:
        holder = loop_host(run, holder) or holder
        boundary = catching_boundary(run.definition, holder.node_id, code)
        if boundary is not None:
            return _caught(run, holder, boundary, code, message)
        holder = owner_of(run, holder)
    where = activity_id or token.node_id
    text = f"BPMN error {code!r} thrown at {where!r} is caught by no error boundary event"
    text = f"{text}: {message}" if message else text
    run.fail(UNHANDLED_ERROR, text, where, token, error_code=code)
    return None


def _caught(run: Run, holder: Token, boundary: BoundaryEvent, code: str, message: str) -> Token:
    assert boundary.error is not None
    if boundary.error.variable:
        caught = {"errorCode": code, "errorMessage": message}
        run.data = set_path(run.data, boundary.error.variable, caught)
    details = {"attachedTo": boundary.attached_to, "interrupting": True, "errorCode": code}
    run.audit("boundary_event_triggered", boundary.id, holder, details)
    # Interrupting: the activity's other waits (its timers) and whatever runs inside it go.
    return move_to(run, holder, boundary.id)
