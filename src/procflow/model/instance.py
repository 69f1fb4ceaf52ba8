"""Process instances and their tokens: plain immutable data, saved as one document.

``to_document``/``from_document`` define the saved format; ``FORMAT_VERSION`` lets a later
release read instances saved by an earlier one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from procflow.model.data import JsonObject
from procflow.model.states import InstanceState, NodeStatus, TokenState

FORMAT_VERSION = 1


@dataclass(frozen=True)
class Token:
    id: int
    uuid: UUID
    node_id: str
    state: TokenState = TokenState.ACTIVE
    status: NodeStatus = NodeStatus.ARRIVED
    parent_id: int | None = None

    @property
    def is_live(self) -> bool:
        return self.state is TokenState.ACTIVE

    def to_document(self) -> JsonObject:
        return {
            "id": self.id,
            "uuid": str(self.uuid),
            "nodeId": self.node_id,
            "state": self.state.value,
            "status": self.status.value,
            "parentId": self.parent_id,
        }

    @classmethod
    def from_document(cls, doc: JsonObject) -> Token:
        return cls(
            id=doc["id"],
            uuid=UUID(doc["uuid"]),
            node_id=doc["nodeId"],
            state=TokenState(doc["state"]),
            status=NodeStatus(doc["status"]),
            parent_id=doc.get("parentId"),
        )


@dataclass(frozen=True)
class Incident:
    """Why an instance failed: recorded on the instance instead of raised."""

    type: str
    message: str
    node_id: str
    token_uuid: UUID | None
    at: datetime

    def to_document(self) -> JsonObject:
        return {
            "type": self.type,
            "message": self.message,
            "nodeId": self.node_id,
            "tokenUuid": str(self.token_uuid) if self.token_uuid else None,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_document(cls, doc: JsonObject) -> Incident:
        token = doc.get("tokenUuid")
        return cls(
            type=doc["type"],
            message=doc["message"],
            node_id=doc["nodeId"],
            token_uuid=UUID(token) if token else None,
            at=datetime.fromisoformat(doc["at"]),
        )


@dataclass(frozen=True)
class Lineage:
    copied_from_uuid: UUID | None = None
    lineage_root_uuid: UUID | None = None


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
    lineage: Lineage = Lineage()
    # Sequence for token ids, kept on the instance so ids stay stable across saves.
    next_token_id: int = 1
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

    def to_document(self) -> JsonObject:
        """The saved form of what the engine changes (identity columns live beside it)."""
        return {
            "formatVersion": FORMAT_VERSION,
            "tokens": [t.to_document() for t in self.tokens],
            "incidents": [i.to_document() for i in self.incidents],
            "nextTokenId": self.next_token_id,
        }

    def with_document(self, doc: JsonObject) -> ProcessInstance:
        if doc.get("formatVersion") != FORMAT_VERSION:
            raise ValueError(f"unsupported instance format {doc.get('formatVersion')!r}")
        return replace(
            self,
            tokens=tuple(Token.from_document(t) for t in doc["tokens"]),
            incidents=tuple(Incident.from_document(i) for i in doc["incidents"]),
            next_token_id=doc["nextTokenId"],
        )


def snapshot(instance: ProcessInstance) -> dict[str, Any]:
    """Everything observable about an instance, for tests that save, reload and compare."""
    return {
        "uuid": instance.uuid,
        "state": instance.state,
        "data": instance.data,
        "document": instance.to_document(),
        "lineage": instance.lineage,
        "version": instance.version,
        "definition": (instance.definition_id, instance.definition_name, instance.build_id),
    }
