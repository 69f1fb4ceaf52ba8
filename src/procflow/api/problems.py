"""RFC 9457 problem+json for every error, with FlowX's ``message`` and ``errorKey``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from procflow.logs import note_problem
from procflow.model.errors import (
    ConflictError,
    Forbidden,
    InvalidToken,
    NotFoundError,
    PayloadTooLarge,
    ProcflowError,
    Unauthenticated,
    ValidationError,
)

PROBLEM_TYPE_BASE = "https://procflow.dev/problems/"

_STATUS_BY_ERROR: tuple[tuple[type[ProcflowError], int], ...] = (
    (NotFoundError, 404),
    (ValidationError, 400),
    (ConflictError, 409),
    (Forbidden, 403),
    (Unauthenticated, 401),
    (PayloadTooLarge, 413),
)


def status_of(error: ProcflowError) -> int:
    return next((status for cls, status in _STATUS_BY_ERROR if isinstance(error, cls)), 400)


PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_body(
    status: int, code: str, message: str, error_key: str, extra: dict[str, Any] | None = None
) -> bytes:
    # Details come first so that no detail can overwrite a standard member such as status.
    body: dict[str, Any] = dict(extra or {})
    body |= {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": message,
        "message": message,
        "errorKey": error_key,
        "code": code,
    }
    return orjson.dumps(body)


def problem_response(
    status: int,
    code: str,
    message: str,
    error_key: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    note_problem(code)
    return Response(
        problem_body(status, code, message, error_key, extra),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def error_response(error: ProcflowError) -> Response:
    status = status_of(error)
    headers = {"WWW-Authenticate": _bearer_challenge(error)} if status == 401 else None
    return problem_response(
        status, error.code, error.message, error.error_key, dict(error.details), headers
    )


def _bearer_challenge(error: ProcflowError) -> str:
    # RFC 6750 section 3: a token was sent but is not acceptable.
    suffix = ', error="invalid_token"' if isinstance(error, InvalidToken) else ""
    return f'Bearer realm="procflow"{suffix}'


async def _on_domain_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ProcflowError)
    return error_response(error)


async def _on_validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    invalid = [
        {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
        for e in error.errors()
    ]
    names = ", ".join(item["location"] for item in invalid)
    return problem_response(
        400,
        "invalid_parameter",
        f"Invalid request parameter(s): {names}.",
        "error.validation.parameter",
        {"invalidParams": invalid},
    )


async def _on_http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    phrase = HTTPStatus(error.status_code).phrase
    message = error.detail if isinstance(error.detail, str) else phrase
    code = phrase.lower().replace(" ", "_")
    return problem_response(error.status_code, code, message, f"error.http.{code}")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProcflowError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
