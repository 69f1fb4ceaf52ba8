"""Choosing the start node and checking start data: refusals, not process failures.

These raise domain errors (400s) because a start that is refused must create nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema
import orjson

from procflow.model.data import missing_paths
from procflow.model.definition import ProcessDefinition, StartNode
from procflow.model.errors import (
    MandatoryParamsMissing,
    StartConditionMissing,
    StartDataInvalid,
    StartNodeNotFound,
)
from procflow.model.schema_refs import validator_for

START_CONDITION_KEY = "startCondition"


def choose_start_node(definition: ProcessDefinition, data: Mapping[str, Any]) -> StartNode:
    """FlowX rule: the request's ``startCondition`` value names the start node to use.

    Timer start events are the worker's: a request chooses among the other start nodes, and
    only a process whose every start node has a timer may be started at its single one."""
    starts = definition.untimed_starts or definition.start_nodes
    wanted = data.get(START_CONDITION_KEY)
    if wanted is None:
        if len(starts) > 1:
            raise StartConditionMissing()
        return starts[0]
    if len(starts) == 1 and starts[0].start_condition is None:
        return starts[0]
    for start in starts:
        if start.start_condition == wanted:
            return start
    raise StartNodeNotFound()


def check_start_data(start: StartNode, data: Mapping[str, Any]) -> None:
    missing = missing_paths(data, start.mandatory_params)
    if missing:
        raise MandatoryParamsMissing(params=missing)
    if start.data_schema is not None:
        _check_schema(start.data_schema, data)


def _check_schema(schema: Mapping[str, Any], data: Mapping[str, Any]) -> None:
    try:
        validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
        errors = [
            {"path": "/".join(str(p) for p in e.absolute_path), "message": e.message}
            for e in validator.iter_errors(data)
        ]
    except Exception as error:
        # Deploy refuses bad references, but a build stored before that check (or a schema
        # that recurses forever) must still answer a start with a 400, never a 500.
        message = f"The start node's schema cannot be applied: {type(error).__name__}."
        raise StartDataInvalid(message, errors=[]) from error
    if errors:
        raise StartDataInvalid(errors=errors)


@cache
def _validator(schema_json: bytes) -> jsonschema.protocols.Validator:
    return validator_for(orjson.loads(schema_json))
