"""``step``: the whole engine as one pure function."""

from __future__ import annotations

from datetime import datetime
from typing import assert_never

from procflow.engine.events import (
    ActionExecuted,
    Event,
    Hold,
    JobCompleted,
    JobFailed,
    RetryIncident,
    Start,
    StepResult,
    Terminate,
    Unhold,
)
from procflow.engine.handlers import on_action, on_job_completed, on_job_failed, on_start
from procflow.engine.operations import on_hold, on_retry, on_terminate, on_unhold
from procflow.engine.run import Run
from procflow.model.definition import ProcessDefinition
from procflow.model.instance import ProcessInstance


def step(
    definition: ProcessDefinition, instance: ProcessInstance, event: Event, now: datetime
) -> StepResult:
    """Apply ``event`` and run the instance forward until every live token waits or it ends.

    No I/O, no clock (``now`` is given), no randomness: the same arguments always give an
    equal result. Invalid commands raise a ``ProcflowError`` and change nothing; process
    failures are returned as an incident on a FAILED instance.
    """
    run = Run(definition, instance, now)
    match event:
        case Start():
            on_start(run, event)
        case ActionExecuted():
            on_action(run, event)
        case JobCompleted():
            on_job_completed(run, event)
        case JobFailed():
            on_job_failed(run, event)
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
    if not run.changed:
        return StepResult(instance, (), changed=False)
    return StepResult(run.finish(), tuple(run.effects))
