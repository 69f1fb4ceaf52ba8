"""The working state of one step: the instance while the engine moves its tokens.

``Run`` is mutable on purpose and never leaves ``step``: rebuilding a frozen instance for every
token move would make a step quadratic in its length. ``step`` returns only the frozen
instance that ``finish`` builds from it, so the engine stays a pure function.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from procflow.engine.evaluate import Scope
from procflow.engine.events import AuditEvent, CancelWaits, Effect, HoldWaits, ScheduleWait
from procflow.engine.tokens import new_token, with_state
from procflow.model.data import JsonObject
from procflow.model.definition import ProcessDefinition
from procflow.model.errors import InstanceNotRunning, TokenNotFound
from procflow.model.instance import Incident, ProcessInstance, Token, Wait, WaitKind
from procflow.model.states import InstanceState, NodeStatus, TokenState

# A step that visits this many nodes is taken to be looping forever (a cycle with no wait).
VISIT_LIMIT = 10_000

ACTIVE = TokenState.ACTIVE


class Run:
    __slots__ = (
        "_waiting",
        "active_count",
        "changed",
        "data",
        "definition",
        "effects",
        "incidents",
        "instance",
        "live_inside",
        "next_token_id",
        "next_wait_id",
        "now",
        "owned_outputs",
        "queue",
        "scope",
        "state",
        "stopped",
        "tokens",
        "visit_limit",
        "visits",
        "waits",
    )

    def __init__(self, definition: ProcessDefinition, instance: ProcessInstance, now: datetime):
        self.definition = definition
        self.instance = instance
        self.now = now
        self.state = instance.state
        self.data: JsonObject = instance.data
        self.tokens: dict[int, Token] = {}
        self.active_count = 0
        # How many active tokens run inside each token (its subprocess scope, its instances),
        # kept up to date by ``put`` so that a scope's end is noticed without a scan.
        self.live_inside: dict[int, int] = {}
        for token in instance.tokens:
            self.tokens[token.id] = token
            if token.state is ACTIVE:
                self.active_count += 1
                if token.scope_id is not None:
                    self.live_inside[token.scope_id] = self.live_inside.get(token.scope_id, 0) + 1
        self.next_token_id = instance.next_token_id
        self.next_wait_id = instance.next_wait_id
        self.waits: dict[str, Wait] = {wait.id: wait for wait in instance.waits}
        self.incidents: list[Incident] = list(instance.incidents)
        self.effects: list[Effect] = []
        # Ids of tokens still to be moved, first in first out, so histories are reproducible.
        self.queue: deque[int] = deque()
        self.stopped = False
        self.visits = 0
        # Raised by each multi-instance activity by what its instances may visit, so that a
        # collection of thousands is not taken for a loop that never waits.
        self.visit_limit = VISIT_LIMIT
        # Hosts whose ``LoopState.outputs`` list this step copied, and may write in place
        # (the instance it was given is never changed).
        self.owned_outputs: set[int] = set()
        self.scope = Scope()
        self._waiting: dict[tuple[str, int | None], list[int]] | None = None
        self.changed = True

    # --- tokens -------------------------------------------------------------------------

    def put(self, token: Token) -> Token:
        """Record the token's new version (or a new token); returns it for chaining."""
        old = self.tokens.get(token.id)
        change = (token.state is ACTIVE) - (old is not None and old.state is ACTIVE)
        self.active_count += change
        if change and token.scope_id is not None:
            self.live_inside[token.scope_id] = self.live_inside.get(token.scope_id, 0) + change
        self.tokens[token.id] = token
        return token

    def create_token(
        self,
        node_id: str,
        parent_id: int | None = None,
        scope_id: int | None = None,
        locals_: JsonObject | None = None,
    ) -> Token:
        """A new token at ``node_id``; a forked child runs in its parent's scope."""
        if scope_id is None and parent_id is not None:
            scope_id = self.tokens[parent_id].scope_id
        token_id = self.next_token_id
        self.next_token_id += 1
        token = new_token(self.instance.uuid, token_id, node_id, parent_id, scope_id, locals_)
        return self.put(token)

    def view(self, token: Token | None) -> JsonObject:
        """The data as ``token``'s expressions see it: the instance data, with the locals of
        the token and of the scopes it runs in laid over it (the nearest wins)."""
        layers: list[JsonObject] = []
        current = token
        while current is not None:
            if current.locals:
                layers.append(current.locals)
            current = self.tokens.get(current.scope_id) if current.scope_id is not None else None
        if not layers:
            return self.data
        seen: JsonObject = dict(self.data)
        for layer in reversed(layers):
            seen.update(layer)
        return seen

    def token(self, token_uuid: UUID) -> Token:
        found = next((t for t in self.tokens.values() if t.uuid == token_uuid), None)
        if found is None:
            raise TokenNotFound(tokenUuid=str(token_uuid))
        return found

    def waiting_at(self, node_id: str, scope_id: int | None = None) -> list[int]:
        """Ids of the tokens waiting at the join ``node_id`` in one scope (two instances of a
        subprocess each join their own branches); indexed once per step, on demand."""
        if self._waiting is None:
            self._waiting = {}
            for token in self.tokens.values():
                if token.state is ACTIVE and token.status is NodeStatus.WAITING_JOIN:
                    key = (token.node_id, token.scope_id)
                    self._waiting.setdefault(key, []).append(token.id)
        return self._waiting.setdefault((node_id, scope_id), [])

    def joins_waiting_at(self, node_id: str) -> list[tuple[int | None, list[int]]]:
        """Every scope with tokens waiting at the join ``node_id``: (scope id, token ids)."""
        self.waiting_at(node_id)  # builds the index
        assert self._waiting is not None
        return [(scope, ids) for (node, scope), ids in self._waiting.items()
                if node == node_id and ids]  # fmt: skip

    def forget_joins(self) -> None:
        """Tokens were cancelled: the join index is rebuilt when next needed."""
        self._waiting = None

    def set_live_tokens(self, state: TokenState, live: TokenState = ACTIVE) -> None:
        for token in [t for t in self.tokens.values() if t.state is live]:
            self.put(with_state(token, state))

    # --- waits ---------------------------------------------------------------------------

    def add_wait(
        self,
        kind: WaitKind,
        node_id: str | None,
        token: Token | None,
        due_at: datetime,
        fired: int = 0,
        repeat: str | None = None,
    ) -> Wait:
        """Record a wait and ask for the job that fires it."""
        wait = self.record_wait(kind, node_id, token)
        wait = replace(wait, due_at=due_at, fired=fired, repeat=repeat)
        self.waits[wait.id] = wait
        token_uuid = token.uuid if token is not None else None
        self.effects.append(ScheduleWait(kind.value, wait.id, due_at, token_uuid, node_id))
        return wait

    def record_wait(self, kind: WaitKind, node_id: str | None, token: Token | None) -> Wait:
        """Record a wait that no job fires (an external task: a worker completes it)."""
        wait = Wait(f"w{self.next_wait_id}", kind, node_id, token.id if token else None)
        self.next_wait_id += 1
        self.waits[wait.id] = wait
        return wait

    def take_wait(self, wait_id: str) -> Wait | None:
        """The fired wait, no longer recorded; None when it was cancelled (or fired) already."""
        return self.waits.pop(wait_id, None)

    def cancel_waits(self, waits: list[Wait]) -> None:
        for wait in waits:
            del self.waits[wait.id]
        if waits:
            ids, kinds = tuple(w.id for w in waits), tuple(w.kind.value for w in waits)
            self.effects.append(CancelWaits(ids, kinds))

    def cancel_token_waits(self, token: Token) -> None:
        """The token leaves its node: whatever it waited for there is moot."""
        self.cancel_waits([w for w in self.waits.values() if w.token_id == token.id])

    def cancel_all_waits(self) -> None:
        if self.waits:  # most instances end with nothing pending
            self.cancel_waits(list(self.waits.values()))

    # --- data, state, effects ------------------------------------------------------------

    def become(self, target: InstanceState) -> None:
        if not self.state.can_become(target):
            raise InstanceNotRunning(state=self.state.value, target=target.value)
        self.state = target

    def audit(
        self,
        type_: str,
        node_id: str | None = None,
        token: Token | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        # ``AuditEvent(...)`` without the frozen ``__init__``'s four ``object.__setattr__``
        # calls: a step records one per node it visits. A test checks that these are still
        # all of AuditEvent's fields.
        event = object.__new__(AuditEvent)
        object.__setattr__(
            event,
            "__dict__",
            {"type": type_, "node_id": node_id,
             "token_uuid": token.uuid if token is not None else None,
             "details": details or {}},
        )  # fmt: skip
        self.effects.append(event)

    def fail(
        self,
        incident_type: str,
        message: str,
        node_id: str,
        token: Token | None,
        error_code: str | None = None,
    ) -> None:
        """A process failure: record the incident, abort live tokens, and stop moving.

        Waits stay recorded and their jobs are held: retrying the incident revives the
        aborted tokens, and what they waited for is still pending.
        """
        token_uuid = token.uuid if token is not None else None
        incident_id = max((i.id for i in self.incidents), default=0) + 1
        incident = Incident(
            incident_type, message, node_id, token_uuid, self.now, incident_id,
            error_code=error_code,
        )  # fmt: skip
        self.incidents.append(incident)
        self.become(InstanceState.FAILED)
        self.set_live_tokens(TokenState.ABORTED)
        self.effects.append(HoldWaits(held=True))
        details = {"type": incident_type, "message": message, "incidentId": incident_id}
        self.audit("incident", node_id, token, details)
        self.audit("instance_failed", node_id, token)
        self.stopped = True
        self.queue.clear()

    def end_instance(self, state: InstanceState, tokens: TokenState) -> None:
        """The instance ends as ``state``: live (and held) tokens end as ``tokens``, and
        nothing it waited for can fire any more."""
        self.become(state)
        self.set_live_tokens(tokens)
        self.set_live_tokens(tokens, TokenState.ON_HOLD)
        self.cancel_all_waits()
        self.stopped = True
        self.queue.clear()

    def finish(self) -> ProcessInstance:
        return _changed(
            self.instance,
            {
                "state": self.state,
                "data": self.data,
                "tokens": tuple(self.tokens.values()),
                "incidents": tuple(self.incidents),
                "waits": tuple(self.waits.values()),
                "next_token_id": self.next_token_id,
                "next_wait_id": self.next_wait_id,
                "updated_at": self.now,
            },
        )


def _changed(instance: ProcessInstance, changes: dict[str, Any]) -> ProcessInstance:
    """``dataclasses.replace`` for the one call every step makes: a copy of the instance's
    fields with ``changes`` applied, without replace's per-field introspection and the frozen
    ``__init__`` (a third of what a short step costs beyond its rules). ProcessInstance has
    no ``__post_init__`` to skip; every field it gains later is carried over as it is."""
    changed = object.__new__(ProcessInstance)
    fields = changed.__dict__
    fields.update(instance.__dict__)
    fields.update(changes)
    return changed
