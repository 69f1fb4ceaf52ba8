"""The data model every instance document obeys, on every store (``docs/operations.md``).

- numbers are signed 64-bit integers or finite IEEE doubles: what SQLite's JSON, orjson,
  PostgreSQL's JSONB round trip and JavaScript clients agree on;
- no string or key holds NUL (``\\u0000``): PostgreSQL's JSONB cannot store it, so SQLite
  refuses it too, and both stores answer alike;
- objects and arrays nest at most ``MAX_NESTING_DEPTH`` levels: deep enough for any real
  document, far below the recursion limits of the JSON codecs (orjson writes 254 levels)
  and of Python's recursive code over data;
- a document serialises to at most ``max_bytes`` (``PROCFLOW_MAX_DATA_BYTES``).

The walk is iterative, so a hostile document cannot exhaust the stack while being checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from procflow.model.errors import DataInvalid, DataTooLarge

MAX_NESTING_DEPTH = 64
DEFAULT_MAX_DATA_BYTES = 16 * 1024 * 1024
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

NUMBER_RULE = "Numbers must be 64-bit integers or finite doubles"
NUL_RULE = "Strings and keys must not contain the NUL character (\\u0000)"

# A path as a linked list of (key, parent): cheap to extend, spelled out only for a message.
_Path = tuple[Any, "_Path"] | None


@dataclass(frozen=True)
class DataLimits:
    max_bytes: int = DEFAULT_MAX_DATA_BYTES
    max_depth: int = MAX_NESTING_DEPTH


DEFAULT_LIMITS = DataLimits()


# 20 digits in a row may be an integer beyond 64 bits, which orjson would read as a float
# (19 for a negative one: orjson reads below -2**63 as a float too).
# Found by mapping every ASCII digit to "0" and everything else to " " (bytes.translate runs
# at memory speed) and looking for twenty "0"s: a regex search for [0-9]{20} visits every
# position in Python's engine and cost 45 ms per MB, more than parsing the document.
_DIGIT_MASK = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))


def has_long_digit_run(json_text: bytes, digits: int = 20) -> bool:
    """Whether ``json_text`` may hold an integer that orjson cannot read exactly."""
    return b"0" * digits in json_text.translate(_DIGIT_MASK)


def json_problem(
    value: Any, max_depth: int = MAX_NESTING_DEPTH, *, may_hold_nul: bool = True
) -> str | None:
    """What makes ``value`` unfit for instance data, naming the path; None when it is fit.

    ``may_hold_nul=False`` skips looking for NUL in strings and keys, for a caller that knows
    there is none (its JSON text has no ``\\u0000``): that halves the walk.
    """
    if type(value) is not dict and type(value) is not list:
        return _scalar_problem(value, None)
    if may_hold_nul:
        problem = _nul_problem(value)
        if problem is not None:
            return problem
    stack: list[tuple[Any, _Path, int]] = [(value, None, 1)]
    while stack:
        container, path, depth = stack.pop()
        if depth > max_depth:
            return f"Data must not nest deeper than {max_depth} levels (at {_pointer(path)})"
        items = container.items() if type(container) is dict else enumerate(container)
        # One loop with inlined type tests: this walk runs on every body and every save, and
        # a function call per value would double its cost.
        for key, item in items:
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, (key, path), depth + 1))
            elif kind is int or kind is float:
                problem = _scalar_problem(item, (key, path))
                if problem is not None:
                    return problem
    return None


def _nul_problem(value: Any) -> str | None:
    """The first string or key holding NUL; the document is already known to nest boundedly
    when it came from JSON text, and this walk is iterative too."""
    stack: list[tuple[Any, _Path]] = [(value, None)]
    while stack:
        container, path = stack.pop()
        items = container.items() if type(container) is dict else enumerate(container)
        for key, item in items:
            if type(key) is str and "\x00" in key:
                return f"{NUL_RULE} (a key at {_pointer(path)})"
            kind = type(item)
            if kind is dict or kind is list:
                stack.append((item, (key, path)))
            elif kind is str and "\x00" in item:
                return f"{NUL_RULE} (at {_pointer((key, path))})"
    return None


def _scalar_problem(item: Any, path: _Path) -> str | None:
    kind = type(item)
    if kind is str:
        return f"{NUL_RULE} (at {_pointer(path)})" if "\x00" in item else None
    if kind is int:
        fits = INT64_MIN <= item <= INT64_MAX
        return None if fits else f"{NUMBER_RULE}: {item} at {_pointer(path)} is out of range"
    if kind is float:
        return None if math.isfinite(item) else f"{NUMBER_RULE}: {item} at {_pointer(path)}"
    return None


def _pointer(path: _Path) -> str:
    """RFC 6901 JSON Pointer of ``path`` ("/" for the document itself)."""
    parts: list[str] = []
    while path is not None:
        key, path = path
        if key is not None:
            parts.append(str(key).replace("~", "~0").replace("/", "~1"))
    return "/" + "/".join(reversed(parts)) if parts else "/"


def check_json_document(value: Any, what: str = "The data", *, may_hold_nul: bool = True) -> None:
    """Raise ``DataInvalid`` (a 400) when ``value`` breaks the data model."""
    problem = json_problem(value, may_hold_nul=may_hold_nul)
    if problem is not None:
        raise DataInvalid(f"{what} is refused. {problem}.")


# orjson writes NUL as this escape and never otherwise produces it outside a string that
# holds a backslash followed by "u0000", so its absence proves there is no NUL anywhere.
_NUL_ESCAPE = b"\\u0000"


def holds_nul_escape(json_text: bytes) -> bool:
    return _NUL_ESCAPE in json_text


def _encode(data: Any) -> bytes:
    try:
        return orjson.dumps(data)
    except (TypeError, orjson.JSONEncodeError):
        # Integers past 64 bits or nesting past orjson's limit: json_problem names the path.
        problem = json_problem(data) or "the data cannot be written as JSON"
        raise DataInvalid(f"Instance data is refused. {problem}.") from None


def check_instance_data(data: Any, limits: DataLimits = DEFAULT_LIMITS) -> None:
    """What every instance document must satisfy before it is saved: the data model, and the
    size cap (``DataTooLarge``, a 413)."""
    encoded = _encode(data)
    problem = json_problem(data, limits.max_depth, may_hold_nul=_NUL_ESCAPE in encoded)
    if problem is not None:
        raise DataInvalid(f"Instance data is refused. {problem}.")
    size = len(encoded)
    if size > limits.max_bytes:
        raise DataTooLarge(
            f"Instance data would exceed the limit of {limits.max_bytes} bytes "
            f"({size} bytes); nothing was changed.",
            limitBytes=limits.max_bytes,
            sizeBytes=size,
        )
