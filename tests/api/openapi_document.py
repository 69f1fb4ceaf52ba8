"""The published OpenAPI document, and validation of a body against one of its schemas."""

from __future__ import annotations

from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

Document = dict[str, Any]
DOCUMENT_URI = "urn:procflow:openapi"


def operations(document: Document) -> dict[str, tuple[str, str, Document]]:
    """operationId -> (method, path, operation)."""
    found: dict[str, tuple[str, str, Document]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def validate_against(document: Document, schema_name: str, value: Any) -> None:
    """Raise unless ``value`` is valid against ``#/components/schemas/<schema_name>``."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
    schema = {"$ref": f"{DOCUMENT_URI}#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(value)
