"""Token identity and the small token transitions the engine performs.

Tokens are frozen; each helper returns the token as it is after the transition.
"""

from __future__ import annotations

from uuid import UUID, uuid5

from procflow.model.instance import Token
from procflow.model.states import NodeStatus, TokenState

# Fixed forever: token uuids are derived from it, so changing it would change the uuids a
# replayed instance gets and break clients that hold on to a token uuid.
TOKEN_NAMESPACE = UUID("803ed12c-828f-4842-a2b8-f4db4f6cf58f")


def token_uuid(instance_uuid: UUID, token_id: int) -> UUID:
    """The same instance and token id always give the same uuid (a step stays deterministic)."""
    return uuid5(TOKEN_NAMESPACE, f"{instance_uuid}/{token_id}")


def new_token(instance_uuid: UUID, token_id: int, node_id: str, parent_id: int | None) -> Token:
    return Token(token_id, token_uuid(instance_uuid, token_id), node_id, parent_id=parent_id)


def arrived_at(token: Token, node_id: str) -> Token:
    """The token, active again, standing at ``node_id`` (a move, or a parent reactivated)."""
    return Token(
        token.id, token.uuid, node_id, TokenState.ACTIVE, NodeStatus.ARRIVED, token.parent_id
    )


def with_status(token: Token, status: NodeStatus) -> Token:
    return Token(token.id, token.uuid, token.node_id, token.state, status, token.parent_id)


def completed(token: Token) -> Token:
    return Token(
        token.id,
        token.uuid,
        token.node_id,
        TokenState.INACTIVE,
        NodeStatus.EXECUTED_COMPLETE,
        token.parent_id,
    )


def with_state(token: Token, state: TokenState) -> Token:
    return Token(token.id, token.uuid, token.node_id, state, token.status, token.parent_id)


def is_waiting(token: Token, status: NodeStatus) -> bool:
    return token.state is TokenState.ACTIVE and token.status is status
