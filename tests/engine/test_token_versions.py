"""The engine builds token versions without the frozen ``__init__``
(``engine.tokens._token``): they must be the tokens ``Token(...)`` and ``replace`` give."""

from __future__ import annotations

import pickle
import uuid
from dataclasses import fields, replace

from procflow.engine.tokens import (
    arrived_at,
    completed,
    new_token,
    token_uuid,
    with_loop,
    with_state,
    with_status,
)
from procflow.model.instance import LoopState, Token
from procflow.model.states import NodeStatus, TokenState

INSTANCE = uuid.UUID("8b0c2b1e-3f1a-4c9e-9a57-0d8e3c7f1a22")


def test_new_tokens_are_what_the_constructor_gives() -> None:
    plain = new_token(INSTANCE, 3, "task", 1)
    assert plain == Token(3, token_uuid(INSTANCE, 3), "task", parent_id=1)
    assert plain.locals is Token(0, INSTANCE, "n").locals  # the shared empty locals
    inside = new_token(INSTANCE, 4, "task", None, scope_id=2, locals_={"item": 1})
    assert inside == Token(4, token_uuid(INSTANCE, 4), "task", scope_id=2, locals={"item": 1})
    for token in (plain, inside):
        assert type(token) is Token
        assert pickle.loads(pickle.dumps(token)) == token
        assert Token.from_document(token.to_document()) == token


def test_token_transitions_are_what_replace_gives() -> None:
    loop = LoopState(total=2)
    token = Token(5, token_uuid(INSTANCE, 5), "a", parent_id=1, scope_id=2,
                  locals={"x": 1}, loop=loop)  # fmt: skip
    assert arrived_at(token, "b") == replace(token, node_id="b", loop=None)
    assert completed(token) == replace(
        token, state=TokenState.INACTIVE, status=NodeStatus.EXECUTED_COMPLETE, loop=None
    )
    assert with_status(token, NodeStatus.EXECUTING) == replace(token, status=NodeStatus.EXECUTING)
    assert with_state(token, TokenState.ABORTED) == replace(token, state=TokenState.ABORTED)
    assert with_loop(token, None) == replace(token, loop=None)


def test_token_has_the_fields_the_builder_fills() -> None:
    # engine.tokens._token fills these fields itself: a field added to Token must be added
    # there, and a __post_init__ would be skipped.
    assert [field.name for field in fields(Token)] == [
        "id",
        "uuid",
        "node_id",
        "state",
        "status",
        "parent_id",
        "scope_id",
        "locals",
        "loop",
    ]
    assert not hasattr(Token, "__post_init__")
