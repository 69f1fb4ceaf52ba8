"""Refetches an identity provider's keys before a request needs them, off the event loop.

Token verification (``principal_of``) is synchronous and never does I/O: it only looks keys
up. When a request carries a token whose ``kid`` the cache lacks (or the cache is stale) and
a refetch is allowed, this middleware runs the fetch in a thread and waits for it at most the
fetch timeout; the event loop goes on serving every other connection meanwhile. When a
refetch is not allowed yet, the request goes straight on (and an unknown ``kid`` is a 401).
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from procflow.runtime.jwks import RemoteJwks
from procflow.runtime.tokens import unverified_kid


class JwksRefresh:
    def __init__(self, app: ASGIApp, jwks: RemoteJwks) -> None:
        self.app = app
        self.jwks = jwks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            token = _bearer_token(scope)
            if token is not None and self.jwks.claim_refetch(unverified_kid(token)):
                # abandon_on_cancel: a hanging provider keeps a thread until the socket
                # timeout, never the request.
                with anyio.move_on_after(self.jwks.timeout):
                    await anyio.to_thread.run_sync(self.jwks.fetch, abandon_on_cancel=True)
        await self.app(scope, receive, send)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() or None if scheme.lower() == "bearer" else None
    return None
