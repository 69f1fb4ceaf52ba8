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

START_CONDITION_KEY = "startCondition"


def choose_start_node(definition: ProcessDefinition, data: Mapping[str, Any]) -> StartNode:
    """FlowX rule: the request's ``startCondition`` value names the start node to use.

    Timer start events are the worker's: a request chooses among the other start nodes, and
    only a process whose every start node has a timer may be started at its single one."""
    starts = tuple(start for start in definition.start_nodes if start.timer is None)
    starts = starts or definition.start_nodes
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
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    errors = [
        {"path": "/".join(str(p) for p in e.absolute_path), "message": e.message}
        for e in validator.iter_errors(data)
    ]
    if errors:
        raise StartDataInvalid(errors=errors)


@cache
def _validator(schema_json: bytes) -> jsonschema.protocols.Validator:
    schema = orjson.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator: jsonschema.protocols.Validator = cls(schema)
    return validator
