"""Request latency for Prometheus, as a plain ASGI middleware.

Starlette's ``BaseHTTPMiddleware`` runs the endpoint in an extra task and streams the body
through memory streams; profiling ``serve`` under load showed it as a large share of the
event loop's time, so this wraps ``send`` instead.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procflow.runtime.metrics import REQUEST_LATENCY


class RequestTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The router stores the matched route in the shared scope; its template (not
            # the raw path) keeps the label set small.
            template = getattr(scope.get("route"), "path", "unmatched")
            REQUEST_LATENCY.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )
