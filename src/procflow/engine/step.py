"""``step``: the whole engine as one pure function."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from procflow.engine.calls import on_child_ended, on_child_start_refused
from procflow.engine.events import (
    ActionExecuted,
    BpmnErrorThrown,
    ChildEnded,
    ChildStartRefused,
    Event,
    ExternalTaskCompleted,
    ExternalTaskFailed,
    Hold,
    JobCompleted,
    JobFailed,
    MessageCorrelated,
    RetryIncident,
    Start,
    StepResult,
    Terminate,
    TimerFired,
    Unhold,
)
from procflow.engine.external import on_bpmn_error, on_external_completed, on_external_failed
from procflow.engine.firing import on_timer_fired
from procflow.engine.handlers import on_action, on_job_completed, on_job_failed, on_start
from procflow.engine.messages import on_message_correlated
from procflow.engine.nodes import advance
from procflow.engine.operations import on_operation
from procflow.engine.run import Run
from procflow.model.definition import ProcessDefinition
from procflow.model.instance import ProcessInstance, Token


def step(
    definition: ProcessDefinition, instance: ProcessInstance, event: Event, now: datetime
) -> StepResult:
    """Apply ``event`` and run the instance forward until every live token waits or it ends.

    No I/O, no clock (``now`` is given), no randomness: the same arguments always give an
    equal result. Invalid commands raise a ``ProcflowError`` and change nothing; process
    failures are returned as an incident on a FAILED instance.
    """
    run = Run(definition, instance, now)
    _dispatch(run, event)
    if not run.changed:
        return StepResult(instance, (), changed=False)
    return StepResult(run.finish(), tuple(run.effects))


def _dispatch(run: Run, event: Event) -> None:
    match event:
        case Start():
            on_start(run, event)
        case ActionExecuted():
            on_action(run, event)
        case JobCompleted():
            on_job_completed(run, event)
        case JobFailed():
            on_job_failed(run, event)
        case TimerFired():
            on_timer_fired(run, event)
        case ExternalTaskCompleted() | ExternalTaskFailed() | BpmnErrorThrown():
            _on_worker_answer(run, event)
        case MessageCorrelated():
            _keep_moving(run, on_message_correlated(run, event))
        case Terminate() | Hold() | Unhold() | RetryIncident():
            on_operation(run, event)
        case ChildEnded() | ChildStartRefused():
            _on_child(run, event)
        case _:
            assert_never(event)


def _on_worker_answer(
    run: Run, event: ExternalTaskCompleted | ExternalTaskFailed | BpmnErrorThrown
) -> None:
    moved: Token | None = None
    match event:
        case ExternalTaskCompleted():
            moved = on_external_completed(run, event)
        case ExternalTaskFailed():
            on_external_failed(run, event)
        case BpmnErrorThrown():
            moved = on_bpmn_error(run, event)
        case _:
            assert_never(event)
    _keep_moving(run, moved)


def _on_child(run: Run, event: ChildEnded | ChildStartRefused) -> None:
    if isinstance(event, ChildEnded):
        _keep_moving(run, on_child_ended(run, event))
    else:
        on_child_start_refused(run, event)


def _keep_moving(run: Run, token: Token | None) -> None:
    if token is not None:
        advance(run, token)
