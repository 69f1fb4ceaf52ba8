"""Start-node JSON Schemas resolve ``$ref`` only inside themselves.

A schema comes from a user's definition file, so it must never make the server fetch a URL
or read a file (jsonschema's default registry would retrieve remote references), and a
reference that points nowhere must be refused at deploy, not fail at every start.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from referencing.jsonschema import DRAFT202012

_REF_KEYWORDS = ("$ref", "$dynamicRef")


def local_registry() -> referencing.Registry[Any]:
    """A registry that knows no documents and retrieves none: only the schema itself (which
    the validator adds) can be referenced."""
    return referencing.Registry()


def validator_for(schema: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator: jsonschema.protocols.Validator = cls(schema, registry=local_registry())
    return validator


def ref_problems(schema: Mapping[str, Any]) -> list[str]:
    """Every ``$ref`` that is not a local ``#...`` reference, or that points nowhere."""
    resource = referencing.Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = local_registry().with_resource("", resource).resolver(base_uri="")
    problems = []
    for ref in _refs(schema):
        if not ref.startswith("#"):
            problems.append(
                f"$ref {ref!r} is not local; only references into the schema "
                "itself (#/...) are allowed, and nothing is ever fetched"
            )
            continue
        try:
            resolver.lookup(ref)
        except referencing.exceptions.Unresolvable:
            problems.append(f"$ref {ref!r} points to nothing in the schema")
    return problems


def _refs(schema: Any) -> Iterator[str]:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in _REF_KEYWORDS and isinstance(value, str):
                    yield value
                elif isinstance(value, Mapping | list):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
