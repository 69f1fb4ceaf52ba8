"""CEL evaluation against instance data: a JSON value or an error message, never an exception.

A failing expression is a process failure (an incident), not a bug in the engine, so every
exception CEL raises is turned into a message here and nothing escapes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import cel

from procflow.model.data import JsonObject
from procflow.model.expression import Direct, Expression, is_native_panic
from procflow.model.limits import json_problem

INPUT = "input"
MAX_MESSAGE_LENGTH = 300


@dataclass(frozen=True, slots=True)
class Value:
    value: Any


@dataclass(frozen=True, slots=True)
class EvaluationFailed:
    message: str


Evaluation = Value | EvaluationFailed


Roots = frozenset[str] | None
"""The top-level data keys some expressions read; None when they may read the whole data."""

# ``input`` as a root name: not part of a longer word, not a field of something else.
_INPUT_ROOT = re.compile(r"(?<![\w.])input\b")
# ``input.name``, or ``input["name"]`` / ``input['name']`` with a plain string literal.
_MEMBER = re.compile(
    r"""\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')\s*\])"""
)


_NO_ROOTS: frozenset[str] = frozenset()
_UNBOUND = object()  # no binding made yet: differs from every Roots value


@lru_cache(maxsize=4096)
def roots_of(sources: tuple[str, ...]) -> Roots:
    """Which top-level keys of the data these expressions can read.

    Handing data to CEL costs time in proportion to its size (milliseconds for a few thousand
    values), so expressions get only the keys they name. Any use of ``input`` other than
    ``input.<name>`` or ``input["<name>"]`` (a computed index, ``size(input)``, text this scan
    cannot follow) means "all of it"; a key named only inside a string literal is merely
    passed along needlessly.
    """
    roots: set[str] = set()
    for source in sources:
        for found in _INPUT_ROOT.finditer(source):
            member = _MEMBER.match(source, found.end())
            if member is None:
                return None
            roots.add(next(group for group in member.groups() if group is not None))
    return frozenset(roots)


def cel_input(data: JsonObject, roots: Roots) -> JsonObject:
    if roots is None:
        return data
    return {key: data[key] for key in roots if key in data}


class Scope:
    """A CEL context bound to the data that a group of expressions is evaluated on.

    Binding data costs far more than evaluating an expression, so the expressions evaluated
    on the same data (the assignments of one rule, the conditions of one gateway) share one
    binding, made lazily on the first evaluation that needs it, and one context object serves
    a whole step. An expression with a direct form needs none while the data holds the
    chains it reads, so ``bind`` itself only notes the data and the group.
    """

    __slots__ = ("_bound_data", "_bound_roots", "_context", "_data", "_group")

    def __init__(self) -> None:
        self._context: Any = None
        self._data: JsonObject | None = None
        self._group: Iterable[Expression] = ()
        self._bound_data: JsonObject | None = None
        self._bound_roots: Roots | object = _UNBOUND

    def bind(self, data: JsonObject, expressions: Iterable[Expression]) -> Scope:
        self._data, self._group = data, expressions
        return self

    def evaluate(self, expression: Expression) -> Evaluation:
        """Evaluate an expression of the bound group; the result is JSON-ready."""
        try:
            result = self._execute(expression)
        except Exception as error:  # CEL raises many types; every one of them is an incident
            return EvaluationFailed(describe_error(error))
        except BaseException as error:
            if not is_native_panic(error):
                raise
            return EvaluationFailed(_shorten(f"the CEL library failed: {error}"))
        return to_json(result)

    def _execute(self, expression: Expression) -> Any:
        """The direct form when the data holds every chain it reads (the same result, for a
        fraction of the conversion cost); otherwise the expression on the bound ``input``."""
        direct = expression.direct
        if direct is not None:
            variables = leaves(self._data, direct)
            if variables is not None:
                return direct.program.execute(variables)
        return expression.program.execute(self._bound_context())

    def _bound_context(self) -> Any:
        if not isinstance(self._group, tuple):  # a generator is read once, here
            self._group = tuple(self._group)
        roots = roots_of(tuple(expression.source for expression in self._group))
        data = self._data if self._data is not None else {}
        # Identity, not equality: data is never mutated, and comparing documents costs.
        # Expressions that read no data at all keep whatever empty binding they had.
        data_matters = data is not self._bound_data and roots != _NO_ROOTS
        if self._context is None:
            self._context = cel.Context()
        if data_matters or roots != self._bound_roots:
            self._context.add_variable(INPUT, cel_input(data, roots))
            self._bound_data, self._bound_roots = data, roots
        return self._context


def evaluate(expression: Expression, data: JsonObject) -> Evaluation:
    """Evaluate ``expression`` with the data bound to ``input``; never raises."""
    return Scope().bind(data, (expression,)).evaluate(expression)


_ABSENT = object()


def leaves(data: JsonObject | None, direct: Direct) -> dict[str, Any] | None:
    """The direct form's variables from ``data``; None when a chain is not there all the way
    down (through JSON objects only), so that CEL itself reports what is wrong with it, and
    None when a chain ends at an object or array: converting those costs the same either
    way, and the bound ``input`` is converted once for the whole group, not per expression."""
    if data is None:
        return None
    variables: dict[str, Any] = {}
    for path, name in zip(direct.paths, direct.names, strict=True):
        node: Any = data
        for key in path:
            if type(node) is not dict:
                return None
            node = node.get(key, _ABSENT)
            if node is _ABSENT:
                return None
        if type(node) is dict or type(node) is list:
            return None
        variables[name] = node
    return variables


def describe_error(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no such key: {error.args[0]}" if error.args else "no such key"
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return _shorten(text)


def _shorten(text: str) -> str:
    if len(text) <= MAX_MESSAGE_LENGTH:
        return text
    return text[: MAX_MESSAGE_LENGTH - 3] + "..."


class NotJson(ValueError):
    """A CEL result that instance data (a JSON document) cannot hold."""


def to_json(value: Any) -> Evaluation:
    """CEL results as JSON values: timestamps become ISO strings; bytes, durations, maps with
    non-string keys and non-finite numbers are refused rather than silently changed."""
    kind = type(value)
    if value is None or kind is bool:  # most conditions: nothing to convert or check
        return Value(value)
    # A plain scalar that the data model accepts is its own JSON value; any other value, or
    # one it refuses, takes the whole way (for its message).
    if (kind is str or kind is int or kind is float) and json_problem(value) is None:
        return Value(value)
    return to_json_the_whole_way(value)


def to_json_the_whole_way(value: object) -> Value | EvaluationFailed:
    """``to_json`` without its shortcut for plain scalars: convert, then check."""
    try:
        converted = json_value(value)
    except NotJson as error:
        return EvaluationFailed(str(error))
    problem = json_problem(converted)
    if problem is not None:
        return EvaluationFailed(f"result cannot be stored in instance data: {problem}")
    return Value(converted)


def json_value(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return _finite(value)
    if kind is list:
        return [json_value(item) for item in value]
    if kind is dict:
        return _object(value)
    return _other(value)


def _object(value: dict[Any, Any]) -> JsonObject:
    return {_key(key): json_value(item) for key, item in value.items()}


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise NotJson(f"map key {key!r} is not a string; JSON object keys must be strings")
    return str(key)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise NotJson(f"result {value} is not a finite number")
    return float(value)


def _iso(value: date) -> str:
    return value.isoformat()


# Subclasses and the less common types, checked in order (bool before int: bool is an int).
_CONVERSIONS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (bool, bool),
    (int, int),
    (float, _finite),
    (str, str),
    (datetime, _iso),
    (dict, _object),
    (list, lambda items: [json_value(item) for item in items]),
    (tuple, lambda items: [json_value(item) for item in items]),
)


def _other(value: Any) -> Any:
    for kind, convert in _CONVERSIONS:
        if isinstance(value, kind):
            return convert(value)
    raise NotJson(f"result of type {type(value).__name__} cannot be stored in JSON data")
