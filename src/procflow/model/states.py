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


FINAL_INSTANCE_STATES = frozenset(
    {
        InstanceState.FINISHED,
        InstanceState.FAILED,
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
    InstanceState.FINISHED: frozenset(),
    InstanceState.FAILED: frozenset(),
    InstanceState.TERMINATED: frozenset(),
    InstanceState.DISMISSED: frozenset(),
    InstanceState.EXPIRED: frozenset(),
}

# States in which the instance accepts commands (actions, job results); the store guards
# updates with the same set so that a finished instance can never be moved by a late writer.
RUNNING_INSTANCE_STATES = frozenset({InstanceState.CREATED, InstanceState.STARTED})
