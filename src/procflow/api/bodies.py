"""Request bodies checked by pydantic models: a body that does not fit is a 400 problem
naming each invalid field, never FastAPI's 422."""

from __future__ import annotations

from typing import TypeVar

import pydantic

from procflow.model.data import JsonObject
from procflow.model.errors import InvalidRequestBody

M = TypeVar("M", bound=pydantic.BaseModel)


def parse_body(model: type[M], body: JsonObject) -> M:
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as error:
        invalid = [
            {"location": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
            for e in error.errors()
        ]
        names = ", ".join(item["location"] for item in invalid)
        raise InvalidRequestBody(
            f"The request body is invalid: {names}.", invalidParams=invalid
        ) from error
