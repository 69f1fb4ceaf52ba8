"""Reading what a request carries: the bearer principal and a bounded JSON object body."""

from __future__ import annotations

import json
from typing import Any, NoReturn, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from procflow.logs import note_subject
from procflow.model.data import JsonObject, split_path
from procflow.model.errors import (
    DataInvalid,
    InvalidParameter,
    InvalidRequestBody,
    PayloadTooLarge,
    Unauthenticated,
)
from procflow.model.limits import (
    MAX_NESTING_DEPTH,
    check_json_document,
    has_long_digit_run,
    holds_nul_escape,
)
from procflow.runtime.access import Principal
from procflow.runtime.tokens import TokenVerifier

ModelT = TypeVar("ModelT", bound=BaseModel)


def principal_of(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("A bearer token is required (Authorization: Bearer <JWT>).")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(token.strip())
    note_subject(principal.subject)
    return principal


async def read_body_bytes(request: Request) -> bytes:
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"The request body is over the limit of {limit} bytes.", limitBytes=limit
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"The request body is over the limit of {limit} bytes.", limitBytes=limit
            )
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, *, empty_ok: bool = True) -> JsonObject:
    raw = await read_body_bytes(request)
    if not raw.strip():
        if empty_ok:
            return {}
        raise InvalidRequestBody("The request body must be a JSON object, and it is empty.")
    return parse_json_object(raw)


def parse_json_object(raw: bytes) -> JsonObject:
    """The body as a JSON object that obeys the data model (``model/limits.py``), or a 400."""
    value = _loads(raw)
    if not isinstance(value, dict):
        kind = type(value).__name__ if value is not None else "null"
        raise InvalidRequestBody(f"The request body must be a JSON object, not {kind}.")
    check_json_document(value, "The request body", may_hold_nul=holds_nul_escape(raw))
    return value


def _loads(raw: bytes) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):
            _too_deep()
        raise InvalidRequestBody(f"The request body is not valid JSON: {error}.") from error
    if has_long_digit_run(raw, digits=19):
        # orjson reads an integer past 64 bits as a float, which would hide it from the
        # number check; the standard library reads it exactly (the text is valid JSON).
        try:
            value = json.loads(raw)
        except RecursionError:
            _too_deep()
    return value


def _too_deep() -> NoReturn:
    raise DataInvalid(
        f"The request body is refused. Data must not nest deeper than {MAX_NESTING_DEPTH} levels."
    )


def path_list(value: str | None, name: str) -> tuple[str, ...] | None:
    """``"a,b.c"`` -> ``("a", "b.c")``; None when the parameter is absent."""
    if value is None:
        return None
    paths = tuple(part.strip() for part in value.split(",") if part.strip())
    for path in paths:
        try:
            split_path(path)
        except ValueError as error:
            raise InvalidParameter(f"{name}: {error}.", parameter=name) from error
    return paths


def read_model_bytes(raw: bytes, model: type[ModelT]) -> ModelT:
    """A typed body, validated by pydantic straight from the bytes; 400 on any mismatch."""
    try:
        return model.model_validate_json(raw or b"{}")
    except PydanticValidationError as error:
        raise InvalidRequestBody(_describe(error)) from error


async def read_model(request: Request, model: type[ModelT]) -> ModelT:
    return read_model_bytes(await read_body_bytes(request), model)


def _describe(error: PydanticValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "The request body is invalid: " + "; ".join(parts) + "."
