"""The published OpenAPI document: FastAPI's, completed and made truthful.

FastAPI knows the routes, their parameters and ``response_model``s. This adds what it cannot
see: the bodies the handlers read themselves (``schemas.body``), the shared Problem schema,
the bearer security scheme on every operation that needs a token, and it removes the 422
answers FastAPI documents although the server answers 400 problem+json instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from procflow.api import schemas

BEARER = "bearerAuth"
# Operations anyone may call: probes and the documents themselves.
PUBLIC_PATHS = frozenset({"/health/live", "/health/ready"})
TAGS = [
    {"name": "start", "description": "Start instances (FlowX S1, S2, S3)."},
    {"name": "instances", "description": "Read and drive instances."},
    {"name": "admin", "description": "Workspaces, apps and builds (role admin)."},
    {"name": "batches", "description": "One operation over many instances (role operate)."},
    {
        "name": "operations",
        "description": "Operate instances: terminate, hold, unhold, retry (role operate); health.",
    },
    {"name": "external tasks", "description": "Workers fetch, lock, answer tasks (role worker)."},
    {"name": "camunda 7", "description": "The same for Camunda 7 external-task clients."},
    {"name": "messages", "description": "Correlate messages to waiting instances (role action)."},
]
# What a start answers leads to (OpenAPI links: generators and schemathesis follow them).
_INSTANCE = {"uuid": "$response.body#/uuid"}
START_LINKS: dict[str, dict[str, Any]] = {
    "status": {"operationId": "getStatus", "parameters": _INSTANCE},
    "data": {"operationId": "getData", "parameters": _INSTANCE},
    "lineage": {"operationId": "getLineage", "parameters": _INSTANCE},
    "audit": {"operationId": "getAuditLog", "parameters": _INSTANCE},
    "build": {"operationId": "getInstanceBuild", "parameters": _INSTANCE},
    "action": {
        "operationId": "executeAction",
        "parameters": _INSTANCE | {"tokenUuid": "$response.body#/tokens/0/uuid"},
    },
    "copy": {
        "operationId": "startWithCopiedData",
        "parameters": {"processInstanceId": "$response.body#/uuid"},
    },
}
LINKED_FROM = frozenset({"startProcess", "startPinned", "executeAction"})
# What FastAPI adds for its own 422 answers; the server never sends them.
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    components = document.setdefault("components", {})
    _add_shared_schemas(components.setdefault("schemas", {}))
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "`procflow token --workspace W --role start ...` mints one.",
        }
    }
    for path, operations in document["paths"].items():
        for operation in operations.values():
            _complete_operation(path, operation)
    return document


def _add_shared_schemas(found: dict[str, Any]) -> None:
    for name in _VALIDATION_SCHEMAS:
        found.pop(name, None)
    published: tuple[type[BaseModel], ...] = (schemas.Problem, *schemas.BODY_MODELS)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(m, "validation") for m in published]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    for name, schema in top.get("$defs", {}).items():
        found.setdefault(name, schema)
    for name, example in schemas.SCHEMA_EXAMPLES.items():
        found[name]["example"] = example


REQUEST_ID_HEADER = {
    "description": "The caller's X-Request-ID, or one generated; it is in every log line.",
    "schema": {"type": "string"},
}


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.get("responses", {})
    responses.pop("422", None)
    for answer in responses.values():
        answer.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID_HEADER
    if path in PUBLIC_PATHS:
        operation["security"] = []
    else:
        operation["security"] = [{BEARER: []}]
        responses.setdefault("401", schemas.problems(401)[401])
    if operation.get("operationId") in LINKED_FROM:
        responses["200"]["links"] = START_LINKS
