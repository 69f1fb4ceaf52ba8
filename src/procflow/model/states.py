"""Instance and token states, with the transitions the engine and the store both enforce."""

from __future__ import annotations

from enum import StrEnum


class InstanceState(StrEnum):
    CREATED = "CREATED"
    STARTED = "STARTED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"
    DISMISSED = "DISMISSED"
    EXPIRED = "EXPIRED"
    ON_HOLD = "ON_HOLD"

    @property
    def is_final(self) -> bool:
        return self in FINAL_INSTANCE_STATES

    def can_become(self, target: InstanceState) -> bool:
        return target in INSTANCE_TRANSITIONS[self]


class TokenState(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    ABORTED = "ABORTED"
    ON_HOLD = "ON_HOLD"
    DISMISSED = "DISMISSED"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"


class NodeStatus(StrEnum):
    """Where a token stands at its current node (FlowX ``statusCurrentNode``)."""

    ARRIVED = "ARRIVED"
    EXECUTING = "EXECUTING"
    EXECUTED_COMPLETE = "EXECUTED_COMPLETE"
    WAITING_JOIN = "WAITING_JOIN"
    WAITING_TIMER_EVENT = "WAITING_TIMER_EVENT"
    WAITING_MESSAGE_EVENT = "WAITING_MESSAGE_EVENT"
    WAITING_MESSAGE = "WAITING_MESSAGE"


# States no instance ever leaves. FAILED is not one of them: retrying its incident
# brings it back to STARTED.
FINAL_INSTANCE_STATES = frozenset(
    {
        InstanceState.FINISHED,
        InstanceState.TERMINATED,
        InstanceState.DISMISSED,
        InstanceState.EXPIRED,
    }
)

_ENDINGS = frozenset(
    {
        InstanceState.FINISHED,
        InstanceState.FAILED,
        InstanceState.TERMINATED,
        InstanceState.DISMISSED,
        InstanceState.EXPIRED,
    }
)

INSTANCE_TRANSITIONS: dict[InstanceState, frozenset[InstanceState]] = {
    InstanceState.CREATED: frozenset({InstanceState.STARTED}) | _ENDINGS,
    InstanceState.STARTED: frozenset({InstanceState.ON_HOLD}) | _ENDINGS,
    InstanceState.ON_HOLD: frozenset({InstanceState.STARTED}) | _ENDINGS,
    # A failed instance is retried (an incident resolved) or given up on.
    InstanceState.FAILED: frozenset({InstanceState.STARTED, InstanceState.TERMINATED}),
    InstanceState.FINISHED: frozenset(),
    InstanceState.TERMINATED: frozenset(),
    InstanceState.DISMISSED: frozenset(),
    InstanceState.EXPIRED: frozenset(),
}

# States whose instance may still be saved with a new state; the store guards updates with
# the same set, so that an instance that ended can never be moved by a late writer.
MUTABLE_INSTANCE_STATES = frozenset(
    state for state, targets in INSTANCE_TRANSITIONS.items() if targets
)

# States whose jobs may be claimed and run: an instance on hold, or failed and waiting for
# a retry, keeps its timers and tasks pending (held) until it runs again.
RUNNING_INSTANCE_STATES = frozenset({InstanceState.CREATED, InstanceState.STARTED})
