"""Plain ASGI middlewares that guard every request before and around the routes.

- ``SecurityHeaders``: ``nosniff`` everywhere, ``no-store`` unless a route chose a policy.
- ``InternalErrors``: an unhandled exception becomes a problem+json 500 and one JSON log
  line naming the exception type, with a redacted message (no SQL parameters, no literals).
- ``HeaderLimits``: 431 when the request's headers, or any one of them, are over the limit.
  ``serve``'s HTTP protocol (api/server.py) refuses the same sizes before buffering them;
  this is the same rule for any other ASGI server.
- ``BodyTimeout``: 408 when the body has not fully arrived in time (a slow client).
"""

from __future__ import annotations

import logging
import re
import traceback

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from procflow.api.problems import PROBLEM_MEDIA_TYPE, problem_body

log = logging.getLogger("procflow.api")


async def send_problem(
    send: Send, status: int, code: str, message: str, *, close: bool = False
) -> None:
    body = problem_body(status, code, message, f"error.http.{code}")
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                if b"cache-control" not in names:
                    # Instance data and status are personal and change: never cached.
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class InternalErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            log_unhandled(error, scope)
            if not started:
                await send_problem(
                    send, 500, "internal_error", "An unexpected error occurred.", close=True
                )


def log_unhandled(error: BaseException, scope: Scope) -> None:
    """One JSON line an operator can act on, without the request's data in it."""
    route = getattr(scope.get("route"), "path", "unmatched")
    frames = [
        f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(error.__traceback__)
    ]
    log.error(
        "unhandled error",
        extra={
            "error": _qualified_name(error),
            "cause": _qualified_name(error.__cause__) if error.__cause__ else None,
            "detail": redact(str(error)),
            "method": scope.get("method"),
            "route": route,
            "frames": frames[-8:],
        },
    )


def _qualified_name(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


_SQL_PARAMETERS = re.compile(r"\[parameters:.*?\]", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_DETAIL_LINE = re.compile(r"^(DETAIL|HINT|CONTEXT):.*$", re.MULTILINE)
MAX_DETAIL_CHARS = 300


def redact(message: str) -> str:
    """The shape of an error message without the values in it: SQL parameters, quoted
    literals and PostgreSQL's DETAIL lines (which quote row values) are cut out."""
    message = _SQL_PARAMETERS.sub("[parameters hidden]", message)
    message = _DETAIL_LINE.sub(r"\1: (hidden)", message)
    message = _QUOTED.sub("'?'", message)
    return message[:MAX_DETAIL_CHARS]


class HeaderLimits:
    def __init__(self, app: ASGIApp, max_total: int, max_field: int) -> None:
        self.app = app
        self.max_total = max_total
        self.max_field = max_field

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            fields = [len(name) + len(value) for name, value in scope["headers"]]
            if sum(fields) > self.max_total or any(size > self.max_field for size in fields):
                await send_problem(
                    send,
                    431,
                    "request_header_fields_too_large",
                    f"Request headers are limited to {self.max_total} bytes in total and "
                    f"{self.max_field} bytes each.",
                    close=True,
                )
                return
        await self.app(scope, receive, send)


class BodyTimedOut(Exception):
    """The client did not finish sending its body in time."""


class BodyTimeout:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline
            # The whole body has one deadline, from the first read: trickling a byte at a
            # time does not extend it.
            deadline = deadline if deadline is not None else anyio.current_time() + self.seconds
            with anyio.move_on_after(deadline - anyio.current_time()):
                return await receive()
            raise BodyTimedOut

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracking_send)
        except BodyTimedOut:
            if not started:
                await send_problem(
                    send,
                    408,
                    "request_timeout",
                    f"The request body did not arrive within {self.seconds:g} seconds.",
                    close=True,
                )
