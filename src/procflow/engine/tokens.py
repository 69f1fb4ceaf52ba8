"""Token identity and the small token transitions the engine performs.

Tokens are frozen; each helper returns the token as it is after the transition.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID, SafeUUID

from procflow.model.data import JsonObject
from procflow.model.instance import NO_LOCALS, LoopState, Token
from procflow.model.states import NodeStatus, TokenState

# Fixed forever: token uuids are derived from it, so changing it would change the uuids a
# replayed instance gets and break clients that hold on to a token uuid.
TOKEN_NAMESPACE = UUID("803ed12c-828f-4842-a2b8-f4db4f6cf58f")


# The version (5) and variant (RFC 4122) bits ``uuid.uuid5`` sets on the SHA-1 digest.
_CLEAR_BITS = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_SET_BITS = (5 << 76) | (0x8000 << 48)


def token_uuid(instance_uuid: UUID, token_id: int) -> UUID:
    """The same instance and token id always give the same uuid (a step stays deterministic):
    ``uuid5(TOKEN_NAMESPACE, f"{instance_uuid}/{token_id}")``, computed without re-hashing the
    namespace and instance part for every token and without ``UUID.__init__``'s argument
    checks (a token is created on every start; the two cost as much as the rest of it)."""
    digest = _instance_hash(instance_uuid).copy()
    digest.update(b"%d" % token_id)
    value = (int.from_bytes(digest.digest()[:16], "big") & _CLEAR_BITS) | _SET_BITS
    found = object.__new__(UUID)
    object.__setattr__(found, "int", value)
    object.__setattr__(found, "is_safe", SafeUUID.unknown)
    return found


ACTIVE = TokenState.ACTIVE
ARRIVED = NodeStatus.ARRIVED

_NAMESPACE_BYTES = TOKEN_NAMESPACE.bytes
# The SHA-1 state of the last instance seen: a step creates all its tokens for one instance
# (the same uuid object), and one entry needs no eviction. Threads that race on it at worst
# compute a state again; the state itself is only ever copied, never updated.
_last_instance: list[tuple[UUID | None, Any]] = [(None, None)]


def _instance_hash(instance_uuid: UUID) -> Any:
    """SHA-1 state after the namespace and ``"<instance uuid>/"``."""
    cached_uuid, state = _last_instance[0]
    if cached_uuid is not instance_uuid:
        prefix = _NAMESPACE_BYTES + f"{instance_uuid}/".encode()
        state = hashlib.sha1(prefix, usedforsecurity=False)
        _last_instance[0] = (instance_uuid, state)
    return state


def new_token(
    instance_uuid: UUID,
    token_id: int,
    node_id: str,
    parent_id: int | None,
    scope_id: int | None = None,
    locals_: JsonObject | None = None,
) -> Token:
    uuid = token_uuid(instance_uuid, token_id)
    return _token(token_id, uuid, node_id, ACTIVE, ARRIVED, parent_id, scope_id,
                  locals_ or NO_LOCALS, None)  # fmt: skip


def _token(
    id_: int,
    uuid: UUID,
    node_id: str,
    state: TokenState,
    status: NodeStatus,
    parent_id: int | None,
    scope_id: int | None,
    locals_: JsonObject,
    loop: LoopState | None,
) -> Token:
    """``Token(...)`` without the frozen ``__init__``'s nine ``object.__setattr__`` calls:
    a step makes a new version of a token at every node it visits. Token has no
    ``__post_init__``; a test checks that these are still all of its fields."""
    token = object.__new__(Token)
    object.__setattr__(
        token,
        "__dict__",
        {"id": id_, "uuid": uuid, "node_id": node_id, "state": state, "status": status,
         "parent_id": parent_id, "scope_id": scope_id, "locals": locals_, "loop": loop},
    )  # fmt: skip
    return token


def arrived_at(token: Token, node_id: str) -> Token:
    """The token, active again, standing at ``node_id`` (a move, or a parent reactivated):
    its scope and locals kept, its loop progress dropped (callers that keep it use
    ``with_loop``)."""
    return _token(token.id, token.uuid, node_id, ACTIVE, ARRIVED, token.parent_id,
                  token.scope_id, token.locals, None)  # fmt: skip


def with_status(token: Token, status: NodeStatus) -> Token:
    return _token(token.id, token.uuid, token.node_id, token.state, status, token.parent_id,
                  token.scope_id, token.locals, token.loop)  # fmt: skip


def with_loop(token: Token, loop: LoopState | None) -> Token:
    return _token(token.id, token.uuid, token.node_id, token.state, token.status,
                  token.parent_id, token.scope_id, token.locals, loop)  # fmt: skip


def completed(token: Token) -> Token:
    """The token, done at its node (its loop progress dropped, as ``arrived_at`` drops it)."""
    return _token(token.id, token.uuid, token.node_id, TokenState.INACTIVE,
                  NodeStatus.EXECUTED_COMPLETE, token.parent_id, token.scope_id, token.locals,
                  None)  # fmt: skip


def with_state(token: Token, state: TokenState) -> Token:
    return _token(token.id, token.uuid, token.node_id, state, token.status, token.parent_id,
                  token.scope_id, token.locals, token.loop)  # fmt: skip


def is_waiting(token: Token, status: NodeStatus) -> bool:
    return token.state is TokenState.ACTIVE and token.status is status
