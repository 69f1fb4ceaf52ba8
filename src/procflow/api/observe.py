"""Per request: an id, the W3C trace context, the latency histogram and the access log.

A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs the endpoint in an extra
task and streams the body through memory streams; profiling ``serve`` under load showed it
as a large share of the event loop's time, so this wraps ``send`` instead.
"""

from __future__ import annotations

import logging
import re
import time
from uuid import uuid4

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procflow.logs import CURRENT_REQUEST, RequestContext
from procflow.runtime.metrics import REQUEST_LATENCY

REQUEST_ID_HEADER = "x-request-id"
# A caller's id is kept only if it is short and plain, so it cannot forge log lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")
# version-traceid-parentid-flags (W3C Trace Context, level 1).
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZEROS = re.compile(r"0+")

access_log = logging.getLogger("procflow.access")


def request_id_of(value: str | None) -> str:
    if value is not None and _REQUEST_ID.fullmatch(value):
        return value
    return uuid4().hex


def trace_of(value: str | None) -> tuple[str, str] | None:
    """(trace id, parent span id) of a valid ``traceparent``; None otherwise (ignored)."""
    match = _TRACEPARENT.fullmatch(value.strip()) if value else None
    if match is None or match[1] == "ff":
        return None
    if _ZEROS.fullmatch(match[2]) or _ZEROS.fullmatch(match[3]):
        return None
    return match[2], match[3]


def _context_of(scope: Scope) -> RequestContext:
    headers = Headers(scope=scope)
    context = RequestContext(request_id_of(headers.get(REQUEST_ID_HEADER)))
    trace = trace_of(headers.get("traceparent"))
    if trace is not None:
        context.trace_id, context.parent_span_id = trace
    return context


class RequestObserver:
    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        context = _context_of(scope)
        reset = CURRENT_REQUEST.set(context)
        echoed = (b"x-request-id", context.request_id.encode())
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._finish(scope, context, status, time.perf_counter() - started)
            CURRENT_REQUEST.reset(reset)

    def _finish(self, scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        # The router stores the matched route in the shared scope; its template (not the raw
        # path) keeps the label set small.
        route = getattr(scope.get("route"), "path", "unmatched")
        REQUEST_LATENCY.labels(scope["method"], route, str(status)).observe(seconds)
        if not self.log_requests and context.problem is None:
            return
        fields = {
            "method": scope["method"],
            "route": route,
            "path": scope["path"],
            "status": status,
            "durationMs": round(seconds * 1000, 3),
            "workspace": scope.get("path_params", {}).get("workspaceId"),
            "subject": context.subject,
            "problem": context.problem,
        }
        level = logging.WARNING if status >= 500 else logging.INFO
        message = "request" if self.log_requests else "request refused"
        access_log.log(level, message, extra=fields)
