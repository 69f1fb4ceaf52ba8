"""Reading a batch request body into a ``BatchRequest``: every mistake a clear 400."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from procflow.api.requests import path_list
from procflow.model.data import JsonObject
from procflow.model.errors import InvalidRequestBody
from procflow.model.states import InstanceState
from procflow.runtime.batch_spec import BatchFilter, BatchOperation, BatchRequest, BatchSpec
from procflow.store.port import InstanceQuery

_SEARCH_KEYS = {
    "processName",
    "state",
    "createdFrom",
    "createdTo",
    "lineageRootUuid",
    "parentProcessInstanceUuid",
    "rootProcessInstanceUuid",
}
_BODY_KEYS = {"operation", "filter", "processName", "appId", "body", "query", "dryRun"}


def batch_request(workspace_id: UUID, body: JsonObject, dry_run: bool) -> BatchRequest:
    unknown = sorted(set(body) - _BODY_KEYS)
    if unknown:
        raise InvalidRequestBody(f"Unknown batch fields: {', '.join(unknown)}.", fields=unknown)
    spec = _spec(body)
    dry = body.get("dryRun", dry_run)
    if not isinstance(dry, bool):
        raise InvalidRequestBody("'dryRun' must be true or false.", field="dryRun")
    return BatchRequest(workspace_id, spec, _filter(workspace_id, body.get("filter")), dry)


def _spec(body: JsonObject) -> BatchSpec:
    raw = body.get("operation")
    try:
        operation = BatchOperation(str(raw))
    except ValueError as error:
        allowed = ", ".join(o.value for o in BatchOperation)
        raise InvalidRequestBody(
            f"'operation' must be one of {allowed}.", field="operation"
        ) from error
    query = _object(body, "query")
    unknown = sorted(set(query) - {"paramsToCopy", "withoutParams", "startAt"})
    if unknown:
        raise InvalidRequestBody(f"Unknown query fields: {', '.join(unknown)}.", fields=unknown)
    return BatchSpec(
        operation=operation,
        body=_object(body, "body"),
        app_id=_uuid(body.get("appId"), "appId"),
        process_name=_text(body.get("processName"), "processName"),
        params_to_copy=_paths(query.get("paramsToCopy"), "paramsToCopy"),
        without_params=_paths(query.get("withoutParams"), "withoutParams") or (),
        start_at=_text(query.get("startAt"), "startAt"),
    )


def _filter(workspace_id: UUID, raw: Any) -> BatchFilter:
    if not isinstance(raw, dict):
        raise InvalidRequestBody("'filter' must be an object: search parameters or uuids.")
    if "uuids" in raw:
        if set(raw) != {"uuids"}:
            raise InvalidRequestBody("'filter.uuids' cannot be combined with search parameters.")
        return BatchFilter(uuids=_uuid_list(raw["uuids"]))
    unknown = sorted(set(raw) - _SEARCH_KEYS)
    if unknown:
        raise InvalidRequestBody(f"Unknown filter fields: {', '.join(unknown)}.", fields=unknown)
    if not raw:
        # A batch over a whole workspace must be asked for by name, never by an empty object.
        raise InvalidRequestBody("'filter' must name at least one search parameter or uuids.")
    return BatchFilter(query=_query(workspace_id, raw))


def _query(workspace_id: UUID, raw: dict[str, Any]) -> InstanceQuery:
    states = raw.get("state", [])
    states = [states] if isinstance(states, str) else states
    if not isinstance(states, list):
        # Not any iterable: an object's keys are not a list of states.
        raise InvalidRequestBody("'filter.state' must be instance states.")
    try:
        parsed = tuple(InstanceState(s) for s in states)
    except (TypeError, ValueError) as error:
        raise InvalidRequestBody("'filter.state' must be instance states.") from error
    return InstanceQuery(
        workspace_id=workspace_id,
        definition_name=_text(raw.get("processName"), "filter.processName"),
        states=parsed,
        created_from=_moment(raw.get("createdFrom"), "filter.createdFrom"),
        created_to=_moment(raw.get("createdTo"), "filter.createdTo"),
        lineage_root_uuid=_uuid(raw.get("lineageRootUuid"), "filter.lineageRootUuid"),
        parent_uuid=_uuid(raw.get("parentProcessInstanceUuid"), "filter.parentProcessInstanceUuid"),
        root_uuid=_uuid(raw.get("rootProcessInstanceUuid"), "filter.rootProcessInstanceUuid"),
    )


def _uuid_list(raw: Any) -> tuple[UUID, ...]:
    if not isinstance(raw, list):
        raise InvalidRequestBody("'filter.uuids' must be a list of instance uuids.")
    return tuple(_uuid(value, "filter.uuids") or _missing("filter.uuids") for value in raw)


def _missing(name: str) -> UUID:
    raise InvalidRequestBody(f"'{name}' holds a null.", field=name)


def _object(body: JsonObject, name: str) -> JsonObject:
    value = body.get(name, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequestBody(f"'{name}' must be a JSON object.", field=name)
    return value


def _text(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequestBody(f"'{name}' must be a non-empty string.", field=name)
    return value


def _uuid(value: Any, name: str) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value) if isinstance(value, str) else _bad(name, "a UUID")
    except ValueError as error:
        raise InvalidRequestBody(f"'{name}' must be a UUID; got {value!r}.", field=name) from error


def _moment(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else _bad(name, "a date")
    except ValueError as error:
        raise InvalidRequestBody(f"'{name}' must be an ISO 8601 date-time.", field=name) from error


def _paths(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str):
        raise InvalidRequestBody(f"'query.{name}' must be a list of paths.", field=name)
    return path_list(value, name)


def _bad(name: str, what: str) -> Any:
    raise InvalidRequestBody(f"'{name}' must be {what}.", field=name)
