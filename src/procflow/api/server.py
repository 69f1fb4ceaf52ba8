"""How ``serve`` runs the ASGI app: uvicorn on httptools, with limits uvicorn lacks.

uvicorn bounds neither the time a client may take to send its request head (a slowloris
connection trickling one header byte at a time stays open for ever) nor, on httptools, the
size of that head (httptools buffers a 32 MB header before uvicorn sees it).
``BoundedHttpToolsProtocol`` adds both, refusing before any ASGI work:

- the head (request line and headers) over ``max_header_bytes``, or one header over
  ``max_header_field_bytes``: 431, connection closed;
- a head not complete ``header_timeout_seconds`` after its first byte (or after the
  connection opened): 408, connection closed;
- a response finished while the request body is still arriving (the app refused it
  early): the connection is closed instead of waiting for the rest of the body.

The body's own deadline is the ASGI middleware ``BodyTimeout`` (api/http_guards.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from procflow.api.problems import PROBLEM_MEDIA_TYPE, problem_body
from procflow.config import Settings


def _raw_problem(status: int, phrase: str, code: str, message: str) -> bytes:
    body = problem_body(status, code, message, f"error.http.{code}")
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n"
        f"content-type: {PROBLEM_MEDIA_TYPE}\r\n"
        "x-content-type-options: nosniff\r\n"
        "cache-control: no-store\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    # Set by ``protocol_for(settings)`` on a subclass; class attributes because uvicorn
    # builds one protocol per connection from the class alone.
    max_head_bytes = 16 * 1024
    max_field_bytes = 8 * 1024
    head_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._in_head = False
        self._in_body = False
        self._fed = 0
        self._head_began_at = 0
        self._head_fields = 0
        self._refused = False

    # --- connection events ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        fed_before = self._fed
        self._fed += len(data)
        if not self._in_head and not self._in_body:
            self._head_began_at = fed_before
        super().data_received(data)
        # Still in the head after this chunk: every byte since the head began is head.
        if self._in_head and self._fed - self._head_began_at > self.max_head_bytes:
            self._refuse_too_large()

    def on_response_complete(self) -> None:
        if self._in_body and not self.transport.is_closing():
            # The answer went out before the body was read (a 401, 413, 431...): reading the
            # rest would let a slow client hold the connection.
            self.transport.close()
        super().on_response_complete()

    # --- parser callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_fields = 0
        if self._head_timer is None:
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        size = len(name) + len(value)
        self._head_fields += size
        if size > self.max_field_bytes or self._head_fields > self.max_head_bytes:
            self._refuse_too_large()
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        self._in_body = True
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        if not self._refused:
            super().on_message_complete()

    # --- refusals ------------------------------------------------------------------------

    def _refuse_too_large(self) -> None:
        self._refuse(
            _raw_problem(
                431,
                "Request Header Fields Too Large",
                "request_header_fields_too_large",
                f"Request headers are limited to {self.max_head_bytes} bytes in total and "
                f"{self.max_field_bytes} bytes each.",
            )
        )

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if self._in_head:
            self._refuse(
                _raw_problem(
                    408,
                    "Request Timeout",
                    "request_timeout",
                    f"The request headers did not arrive within {self.head_timeout:g} seconds.",
                )
            )
        elif self.cycle is None or self.cycle.response_complete:
            # Connected but silent (no request began): nothing to answer.
            self._refused = True
            self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        self._refused = True
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._on_head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def protocol_for(settings: Settings) -> type[BoundedHttpToolsProtocol]:
    return type(
        "ConfiguredHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "max_head_bytes": settings.max_header_bytes,
            "max_field_bytes": settings.max_header_field_bytes,
            "head_timeout": settings.header_timeout_seconds,
        },
    )


def run_server(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=protocol_for(settings),
        # Idle time between requests on a kept-alive connection.
        timeout_keep_alive=int(max(1, settings.keep_alive_seconds)),
        # For the h11 protocol (not used by default): the same head limit.
        h11_max_incomplete_event_size=settings.max_header_bytes,
        server_header=False,
        log_level="warning",
        # Our JSON logging (procflow.logs) also formats uvicorn's own records.
        log_config=None,
        access_log=False,
    )
