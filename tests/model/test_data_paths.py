"""set_path creates or replaces the parents on its way, and never changes its input."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from procflow.model.data import set_path


def test_set_path_creates_missing_and_replaces_non_object_parents() -> None:
    assert set_path({}, "a.b.c", 1) == {"a": {"b": {"c": 1}}}
    assert set_path({"a": None}, "a.b", 1) == {"a": {"b": 1}}
    assert set_path({"a": 3, "z": 0}, "a.b", 1) == {"a": {"b": 1}, "z": 0}
    assert set_path({"a": [1]}, "a.b", 1) == {"a": {"b": 1}}
    assert set_path({"a": "text"}, "a", 2) == {"a": 2}


def test_set_path_keeps_what_object_parents_hold() -> None:
    assert set_path({"a": {"x": 1}}, "a.b", 2) == {"a": {"x": 1, "b": 2}}
    proxy = MappingProxyType({"x": 1})
    assert set_path({"a": proxy}, "a.b", 2) == {"a": {"x": 1, "b": 2}}


def test_set_path_never_changes_its_input_and_shares_what_it_does_not_touch() -> None:
    other: dict[str, Any] = {"k": [1, 2]}
    data: dict[str, Any] = {"a": {"x": 1}, "other": other}
    changed = set_path(data, "a.b", 2)
    assert data == {"a": {"x": 1}, "other": {"k": [1, 2]}}
    assert changed["other"] is other
