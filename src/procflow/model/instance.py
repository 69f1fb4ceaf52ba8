"""Process instances and their tokens: plain immutable data, saved as one document.

``to_document``/``from_document`` define the saved format; ``FORMAT_VERSION`` lets a later
release read instances saved by an earlier one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from procflow.model.data import JsonObject
from procflow.model.states import InstanceState, NodeStatus, TokenState

# 2: waits, incident ids and resolutions, ``nextWaitId``. Version 1 documents are upgraded
# when read (``upgrade_document``), never refused. Tokens' ``scopeId``, ``locals`` and
# ``loop`` (subprocesses, multi-instance) are optional keys, absent meaning none: documents
# without them read as they always did, so they need no new version.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class LoopState:
    """A multi-instance activity's progress, on the token that waits there for its instances
    (the "host"). ``items``: the collection as evaluated on arrival, kept for a sequential
    loop (a parallel one starts every instance at once and needs it no more); ``outputs``:
    each instance's output element by position, None until it completes; ``flow``: the flow
    the last completed instance chose (a user task's action), which the host takes."""

    total: int
    started: int = 0
    completed: int = 0
    items: tuple[Any, ...] = ()
    # A list, so that a step writes an output without copying them all (the engine copies
    # it once per step before writing: a given instance is never changed).
    outputs: list[Any] = field(default_factory=list)
    flow: str | None = None

    def to_document(self) -> JsonObject:
        return {
            "total": self.total,
            "started": self.started,
            "completed": self.completed,
            "items": list(self.items),
            "outputs": list(self.outputs),
            "flow": self.flow,
        }

    @classmethod
    def from_document(cls, doc: JsonObject) -> LoopState:
        return cls(
            total=doc["total"],
            started=doc["started"],
            completed=doc["completed"],
            items=tuple(doc["items"]),
            outputs=list(doc["outputs"]),
            flow=doc.get("flow"),
        )


# The one empty ``locals`` that tokens without locals share (never written to).
NO_LOCALS: JsonObject = {}


@dataclass(frozen=True)
class Token:
    """``scope_id``: the token this one runs inside (the token waiting at its subprocess, or
    the host of the multi-instance activity it is one instance of); ``locals``: variables
    only this token and the tokens inside it see (an instance's element and loop counter);
    ``loop``: set on the host of a multi-instance activity while its instances run."""

    id: int
    uuid: UUID
    node_id: str
    state: TokenState = TokenState.ACTIVE
    status: NodeStatus = NodeStatus.ARRIVED
    parent_id: int | None = None
    scope_id: int | None = None
    locals: JsonObject = field(default_factory=lambda: NO_LOCALS)
    loop: LoopState | None = None

    @property
    def is_live(self) -> bool:
        return self.state is TokenState.ACTIVE

    def to_document(self) -> JsonObject:
        doc: JsonObject = {
            "id": self.id,
            "uuid": str(self.uuid),
            "nodeId": self.node_id,
            "state": self.state.value,
            "status": self.status.value,
            "parentId": self.parent_id,
        }
        if self.scope_id is not None:
            doc["scopeId"] = self.scope_id
        if self.locals:
            doc["locals"] = self.locals
        if self.loop is not None:
            doc["loop"] = self.loop.to_document()
        return doc

    @classmethod
    def from_document(cls, doc: JsonObject) -> Token:
        loop = doc.get("loop")
        return cls(
            id=doc["id"],
            uuid=UUID(doc["uuid"]),
            node_id=doc["nodeId"],
            state=TokenState(doc["state"]),
            status=NodeStatus(doc["status"]),
            parent_id=doc.get("parentId"),
            scope_id=doc.get("scopeId"),
            locals=doc.get("locals") or NO_LOCALS,
            loop=LoopState.from_document(loop) if loop is not None else None,
        )


@dataclass(frozen=True)
class Incident:
    """Why an instance failed: recorded on the instance instead of raised.

    ``id`` is unique within the instance (1, 2, ...); a retry marks the incident resolved
    with who resolved it and when, and it stays in the history.
    """

    type: str
    message: str
    node_id: str
    token_uuid: UUID | None
    at: datetime
    id: int = 0
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    # An ``unhandled_error``'s BPMN error code: a child instance's uncaught error is thrown
    # at its parent's call activity with it.
    error_code: str | None = None

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    def to_document(self) -> JsonObject:
        return {
            "id": self.id,
            "type": self.type,
            "message": self.message,
            "nodeId": self.node_id,
            "tokenUuid": str(self.token_uuid) if self.token_uuid else None,
            "at": self.at.isoformat(),
            "resolvedAt": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolvedBy": self.resolved_by,
            **({"errorCode": self.error_code} if self.error_code is not None else {}),
        }

    @classmethod
    def from_document(cls, doc: JsonObject) -> Incident:
        token = doc.get("tokenUuid")
        resolved_at = doc.get("resolvedAt")
        return cls(
            type=doc["type"],
            message=doc["message"],
            node_id=doc["nodeId"],
            token_uuid=UUID(token) if token else None,
            at=datetime.fromisoformat(doc["at"]),
            id=doc["id"],
            resolved_at=datetime.fromisoformat(resolved_at) if resolved_at else None,
            resolved_by=doc.get("resolvedBy"),
            error_code=doc.get("errorCode"),
        )


class WaitKind(StrEnum):
    TASK = "task"  # an async task queued for the worker
    TIMER = "timer"  # a timer catch event, a timer boundary event, an event-gateway branch
    EXPIRY = "expiry"  # the definition's expiryTime, for the whole instance
    # An external task: its fetchable row (store ``external_tasks``) carries the wait id.
    EXTERNAL = "external"
    # A message subscription (store ``message_subscriptions``, keyed by the wait id).
    MESSAGE = "message"
    # A call activity's child instance (the child's uuid is derived from the wait's id).
    CALL = "call"


@dataclass(frozen=True)
class Wait:
    """Something the instance waits for outside the engine, fired later by a job.

    The job carries the wait's ``id``; the engine acts on a fired wait only while it is
    still recorded here, so a late or cancelled one (its token left) is ignored.
    ``token_id`` is the waiting token (None for instance-wide waits such as expiry);
    ``node_id`` the element whose event it is: the catch event, the boundary event, or the
    task. A repeating timer keeps its resolved value (``repeat``: a CEL-computed cycle is
    computed once) and how many times it ``fired`` already.
    """

    id: str
    kind: WaitKind
    node_id: str | None
    token_id: int | None
    due_at: datetime | None = None
    fired: int = 0
    repeat: str | None = None

    def to_document(self) -> JsonObject:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "nodeId": self.node_id,
            "tokenId": self.token_id,
            "dueAt": self.due_at.isoformat() if self.due_at else None,
            "fired": self.fired,
            "repeat": self.repeat,
        }

    @classmethod
    def from_document(cls, doc: JsonObject) -> Wait:
        due_at = doc.get("dueAt")
        return cls(
            id=doc["id"],
            kind=WaitKind(doc["kind"]),
            node_id=doc.get("nodeId"),
            token_id=doc.get("tokenId"),
            due_at=datetime.fromisoformat(due_at) if due_at else None,
            fired=doc.get("fired", 0),
            repeat=doc.get("repeat"),
        )


def legacy_task_wait_id(token_uuid: UUID) -> str:
    """The wait id of an async task queued by a format-1 instance (migration 0002 gives its
    job the same id, so the upgraded document and the queued job still meet)."""
    return f"t{token_uuid}"


@dataclass(frozen=True)
class Lineage:
    copied_from_uuid: UUID | None = None
    lineage_root_uuid: UUID | None = None


@dataclass(frozen=True)
class Calling:
    """Where an instance started by a call activity sits in its call tree (store columns):
    its parent, the tree's root, and how deep it is (the root: 0)."""

    parent_uuid: UUID | None = None
    root_uuid: UUID | None = None
    depth: int = 0


@dataclass(frozen=True)
class ProcessInstance:
    uuid: UUID
    workspace_id: UUID
    app_id: UUID
    build_id: UUID
    definition_id: UUID
    definition_name: str
    created_at: datetime
    updated_at: datetime
    state: InstanceState = InstanceState.CREATED
    data: JsonObject = field(default_factory=dict)
    tokens: tuple[Token, ...] = ()
    incidents: tuple[Incident, ...] = ()
    waits: tuple[Wait, ...] = ()
    lineage: Lineage = Lineage()
    calling: Calling = Calling()
    # Sequences for token and wait ids, kept on the instance so ids stay stable across saves.
    next_token_id: int = 1
    next_wait_id: int = 1
    # Optimistic-concurrency version; the store bumps it on every save.
    version: int = 0
    # Store-assigned numeric id (FlowX ``processInstanceId``); None until first saved.
    id: int | None = None

    def token(self, token_uuid: UUID) -> Token | None:
        return next((t for t in self.tokens if t.uuid == token_uuid), None)

    def token_by_id(self, token_id: int) -> Token | None:
        return next((t for t in self.tokens if t.id == token_id), None)

    @property
    def live_tokens(self) -> tuple[Token, ...]:
        return tuple(t for t in self.tokens if t.is_live)

    def incident(self, incident_id: int) -> Incident | None:
        return next((i for i in self.incidents if i.id == incident_id), None)

    def to_document(self) -> JsonObject:
        """The saved form of what the engine changes (identity columns live beside it)."""
        return {
            "formatVersion": FORMAT_VERSION,
            "tokens": [t.to_document() for t in self.tokens],
            "incidents": [i.to_document() for i in self.incidents],
            "waits": [w.to_document() for w in self.waits],
            "nextTokenId": self.next_token_id,
            "nextWaitId": self.next_wait_id,
        }

    def with_document(self, doc: JsonObject) -> ProcessInstance:
        doc = upgrade_document(doc)
        return replace(
            self,
            tokens=tuple(Token.from_document(t) for t in doc["tokens"]),
            incidents=tuple(Incident.from_document(i) for i in doc["incidents"]),
            waits=tuple(Wait.from_document(w) for w in doc["waits"]),
            next_token_id=doc["nextTokenId"],
            next_wait_id=doc["nextWaitId"],
        )


def locals_seen(token: Token, by_id: Mapping[int, Token]) -> JsonObject:
    """The variables ``token`` sees beside the data: its own locals and those of the tokens
    it runs inside (a multi-instance element), the nearest winning."""
    layers: list[JsonObject] = []
    current: Token | None = token
    while current is not None:
        if current.locals:
            layers.append(current.locals)
        current = by_id.get(current.scope_id) if current.scope_id is not None else None
    seen: JsonObject = {}
    for layer in reversed(layers):
        seen.update(layer)
    return seen


def visible_locals(document: JsonObject, token_uuid: str) -> JsonObject:
    """What ``Token.locals`` the token of a saved document sees (see ``locals_seen``):
    read from the document itself, so that the store's readers (an external task's fetch)
    need not load the whole instance."""
    tokens = document.get("tokens", ())
    by_id = {t["id"]: t for t in tokens}
    current = next((t for t in tokens if t["uuid"] == token_uuid), None)
    layers: list[JsonObject] = []
    while current is not None:
        if current.get("locals"):
            layers.append(current["locals"])
        current = by_id.get(current.get("scopeId")) if current.get("scopeId") is not None else None
    seen: JsonObject = {}
    for layer in reversed(layers):
        seen.update(layer)
    return seen


def upgrade_document(doc: JsonObject) -> JsonObject:
    """Bring a saved document to ``FORMAT_VERSION``, one version at a time."""
    version = doc.get("formatVersion")
    if version == 1:
        doc, version = _upgrade_1_to_2(doc), 2
    if version != FORMAT_VERSION:
        raise ValueError(f"unsupported instance format {doc.get('formatVersion')!r}")
    return doc


def _upgrade_1_to_2(doc: JsonObject) -> JsonObject:
    """Format 1 had no waits: its only waiting tokens outside the engine were async tasks
    (ACTIVE and EXECUTING), each with one queued job; its incidents had no ids."""
    waits = [
        Wait(legacy_task_wait_id(UUID(t["uuid"])), WaitKind.TASK, t["nodeId"], t["id"])
        for t in doc["tokens"]
        if t["state"] == TokenState.ACTIVE and t["status"] == NodeStatus.EXECUTING
    ]
    incidents = [
        {**incident, "id": number, "resolvedAt": None, "resolvedBy": None}
        for number, incident in enumerate(doc["incidents"], start=1)
    ]
    return {
        **doc,
        "formatVersion": 2,
        "incidents": incidents,
        "waits": [wait.to_document() for wait in waits],
        "nextWaitId": 1,
    }


def snapshot(instance: ProcessInstance) -> dict[str, Any]:
    """Everything observable about an instance, for tests that save, reload and compare."""
    return {
        "uuid": instance.uuid,
        "state": instance.state,
        "data": instance.data,
        "document": instance.to_document(),
        "lineage": instance.lineage,
        "calling": instance.calling,
        "version": instance.version,
        "definition": (instance.definition_id, instance.definition_name, instance.build_id),
    }
