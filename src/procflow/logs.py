"""Structured JSON logs: one object per line, with the instance uuid where there is one and
the request id (and W3C trace id) of the HTTP request that caused the line."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


@dataclass
class RequestContext:
    """What the log lines of one HTTP request share; the handlers fill in who and what."""

    request_id: str
    trace_id: str | None = None
    parent_span_id: str | None = None
    subject: str | None = None
    problem: str | None = None


# Set by the HTTP middleware for the request's task; run_in_threadpool copies it into the
# worker thread, so runtime log lines of the request carry its id too.
CURRENT_REQUEST: ContextVar[RequestContext | None] = ContextVar("procflow_request", default=None)


def note_subject(subject: str) -> None:
    request = CURRENT_REQUEST.get()
    if request is not None:
        request.subject = subject


def note_problem(code: str) -> None:
    request = CURRENT_REQUEST.get()
    if request is not None:
        request.problem = code


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request = CURRENT_REQUEST.get()
        if request is not None:
            entry["requestId"] = request.request_id
            if request.trace_id is not None:
                entry["traceId"] = request.trace_id
                entry["parentSpanId"] = request.parent_span_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
