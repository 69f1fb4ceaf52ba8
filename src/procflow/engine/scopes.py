"""Scopes: tokens that run inside another token.

A token waiting at an embedded subprocess owns the tokens of its inner nodes; the host of a
multi-instance activity owns its instances. ``Token.scope_id`` names the owner, and
``Run.live_inside`` counts each owner's active tokens, so that the end of a scope is seen
without a scan and an interruption can cancel everything inside, at any depth.
"""

from __future__ import annotations

from procflow.engine.run import Run
from procflow.engine.tokens import with_state
from procflow.model.instance import Token
from procflow.model.states import TokenState


def owner_of(run: Run, token: Token) -> Token | None:
    return run.tokens.get(token.scope_id) if token.scope_id is not None else None


def loop_host(run: Run, token: Token) -> Token | None:
    """The multi-instance host ``token`` is an instance of: its owner, waiting at the same
    node with loop progress. None for any other token."""
    owner = owner_of(run, token)
    if owner is not None and owner.node_id == token.node_id and owner.loop is not None:
        return owner
    return None


def cancel_inside(run: Run, owner: Token) -> None:
    """Every active token inside ``owner``, at any depth, ends TERMINATED, and what they
    waited for (timers, tasks, subscriptions) is cancelled."""
    inside: dict[int, list[Token]] = {}
    for token in run.tokens.values():
        if token.scope_id is not None:
            inside.setdefault(token.scope_id, []).append(token)
    ended: set[int] = set()
    pending = [owner.id]
    while pending:
        for token in inside.get(pending.pop(), ()):
            pending.append(token.id)
            if token.state is TokenState.ACTIVE:
                run.put(with_state(token, TokenState.TERMINATED))
                ended.add(token.id)
    if ended:
        run.cancel_waits([w for w in run.waits.values() if w.token_id in ended])
        run.forget_joins()
        run.audit("scope_cancelled", owner.node_id, owner, {"tokens": len(ended)})
