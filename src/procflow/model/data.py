"""Instance data: JSON documents, dotted paths into them, and RFC 7396 merge patch.

Every function here returns a new document and never mutates its inputs; unchanged
subtrees are shared rather than copied, so a step on a 1 MB document costs what it touches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

JsonObject = dict[str, Any]

_MISSING = object()


@lru_cache(maxsize=4096)
def split_path(path: str) -> tuple[str, ...]:
    """``"applicant.address.city"`` -> ``("applicant", "address", "city")``; remembered, as
    the same few paths (a definition's assignments and mandatory parameters) come back on
    every step."""
    parts = tuple(path.split("."))
    if not path or any(part == "" for part in parts):
        raise ValueError(f"invalid data path {path!r}")
    return parts


def get_path(data: Mapping[str, Any], path: str, default: Any = None) -> Any:
    node: Any = data
    for part in split_path(path):
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return default
        node = node[part]
    return node


def has_path(data: Mapping[str, Any], path: str) -> bool:
    return get_path(data, path, _MISSING) is not _MISSING


def set_path(data: Mapping[str, Any], path: str, value: Any) -> JsonObject:
    """Set ``value`` at ``path``, creating (or replacing non-object) parents on the way."""
    return _set_parts(data, split_path(path), value)


def _set_parts(node: Mapping[str, Any], parts: tuple[str, ...], value: Any) -> JsonObject:
    head, rest = parts[0], parts[1:]
    result = dict(node)
    if not rest:
        result[head] = value
        return result
    child: Any = node.get(head)
    # The ABC check is slow: only a value that is neither a dict nor absent needs it (a rule
    # that creates its parent, "risk.ratio" on data without "risk", is common).
    if type(child) is not dict and (child is None or not isinstance(child, Mapping)):
        child = {}
    result[head] = _set_parts(child, rest, value)
    return result


def delete_path(data: Mapping[str, Any], path: str) -> JsonObject:
    return _delete_parts(data, split_path(path))


def _delete_parts(node: Mapping[str, Any], parts: tuple[str, ...]) -> JsonObject:
    head, rest = parts[0], parts[1:]
    if head not in node:
        return dict(node)
    result = dict(node)
    if not rest:
        del result[head]
        return result
    child = node[head]
    if isinstance(child, Mapping):
        result[head] = _delete_parts(child, rest)
    return result


def select_paths(data: Mapping[str, Any], paths: Iterable[str]) -> JsonObject:
    """Only the given paths of ``data`` (those that exist), in their nesting."""
    result: JsonObject = {}
    for path in paths:
        value = get_path(data, path, _MISSING)
        if value is not _MISSING:
            result = set_path(result, path, value)
    return result


def without_paths(data: Mapping[str, Any], paths: Iterable[str]) -> JsonObject:
    result = dict(data)
    for path in paths:
        result = delete_path(result, path)
    return result


def narrowed(
    data: JsonObject, params_to_copy: Iterable[str] | None, without_params: Iterable[str]
) -> JsonObject:
    """``data`` narrowed as copyDataFrom and call activities narrow what they copy: only
    ``params_to_copy`` (None: everything), then all but ``without_params``."""
    if params_to_copy is not None:
        data = select_paths(data, params_to_copy)
    without = tuple(without_params)
    return without_paths(data, without) if without else data


def merge_patch(target: Any, patch: Any) -> Any:
    """JSON Merge Patch (RFC 7396): objects merge recursively, ``null`` removes, else replace."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def missing_paths(data: Mapping[str, Any], paths: Iterable[str]) -> list[str]:
    """The paths absent from ``data``; a present ``null`` or empty string counts as missing."""
    return [path for path in paths if get_path(data, path) in (None, "")]
