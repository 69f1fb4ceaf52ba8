"""BPMN errors: thrown at an activity (a worker's ``bpmnError``) or by an error end event,
caught by the innermost error boundary event that matches, or an ``unhandled_error``.

The lookup goes from the thrower outwards: the activity's own boundaries first, then the
scope that encloses it. A process has no enclosing scope yet; when embedded subprocesses
and call activities land, ``enclosing_scope`` names the subprocess (or the calling call
activity) and the same ``catching_boundary`` search runs there.
"""

from __future__ import annotations

from procflow.engine.moves import move_to
from procflow.engine.run import Run
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
    """The activity whose boundaries catch what ``node_id`` throws from inside it: none
    until subprocesses exist (a process's own nodes are in no activity)."""
    return None


def throw_error(
    run: Run, token: Token, activity_id: str | None, code: str, message: str
) -> Token | None:
    """Throw the BPMN error at ``activity_id`` (where ``token`` stands); the token leaving
    by the catching boundary, to keep moving, or None after an ``unhandled_error``."""
    boundary = catching_boundary(run.definition, activity_id, code) if activity_id else None
    if boundary is None:
        where = activity_id or token.node_id
        text = f"BPMN error {code!r} thrown at {where!r} is caught by no error boundary event"
        text = f"{text}: {message}" if message else text
        run.fail(UNHANDLED_ERROR, text, where, token, error_code=code)
        return None
    assert boundary.error is not None
    if boundary.error.variable:
        caught = {"errorCode": code, "errorMessage": message}
        run.data = set_path(run.data, boundary.error.variable, caught)
    details = {"attachedTo": boundary.attached_to, "interrupting": True, "errorCode": code}
    run.audit("boundary_event_triggered", boundary.id, token, details)
    # Interrupting: the activity's other waits (its timers) go with the token.
    return move_to(run, token, boundary.id)
