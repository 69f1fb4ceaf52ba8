"""Token identity and the small token transitions the engine performs.

Tokens are frozen; each helper returns the token as it is after the transition.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from procflow.model.data import JsonObject
from procflow.model.instance import LoopState, Token
from procflow.model.states import NodeStatus, TokenState

# Fixed forever: token uuids are derived from it, so changing it would change the uuids a
# replayed instance gets and break clients that hold on to a token uuid.
TOKEN_NAMESPACE = UUID("803ed12c-828f-4842-a2b8-f4db4f6cf58f")


def token_uuid(instance_uuid: UUID, token_id: int) -> UUID:
    """The same instance and token id always give the same uuid (a step stays deterministic)."""
    return uuid5(TOKEN_NAMESPACE, f"{instance_uuid}/{token_id}")


def new_token(
    instance_uuid: UUID,
    token_id: int,
    node_id: str,
    parent_id: int | None,
    scope_id: int | None = None,
    locals_: JsonObject | None = None,
) -> Token:
    uuid = token_uuid(instance_uuid, token_id)
    if scope_id is None and not locals_:
        return Token(token_id, uuid, node_id, parent_id=parent_id)
    return Token(token_id, uuid, node_id, parent_id=parent_id, scope_id=scope_id,
                 locals=locals_ or {})  # fmt: skip


def _like(token: Token, node_id: str, state: TokenState, status: NodeStatus) -> Token:
    """The token changed in place, its scope and locals kept (its loop progress dropped:
    callers that keep it use ``with_loop``)."""
    return Token(token.id, token.uuid, node_id, state, status, token.parent_id, token.scope_id,
                 token.locals)  # fmt: skip


def arrived_at(token: Token, node_id: str) -> Token:
    """The token, active again, standing at ``node_id`` (a move, or a parent reactivated)."""
    return _like(token, node_id, TokenState.ACTIVE, NodeStatus.ARRIVED)


def with_status(token: Token, status: NodeStatus) -> Token:
    return Token(token.id, token.uuid, token.node_id, token.state, status, token.parent_id,
                 token.scope_id, token.locals, token.loop)  # fmt: skip


def with_loop(token: Token, loop: LoopState | None) -> Token:
    return Token(token.id, token.uuid, token.node_id, token.state, token.status,
                 token.parent_id, token.scope_id, token.locals, loop)  # fmt: skip


def completed(token: Token) -> Token:
    return _like(token, token.node_id, TokenState.INACTIVE, NodeStatus.EXECUTED_COMPLETE)


def with_state(token: Token, state: TokenState) -> Token:
    return Token(token.id, token.uuid, token.node_id, state, token.status, token.parent_id,
                 token.scope_id, token.locals, token.loop)  # fmt: skip


def is_waiting(token: Token, status: NodeStatus) -> bool:
    return token.state is TokenState.ACTIVE and token.status is status
