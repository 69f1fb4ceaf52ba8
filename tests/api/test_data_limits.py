"""The data model over HTTP, on both stores: numbers, NUL, nesting and the size cap.

Every refusal is a problem+json 400 (413 for size) that stores nothing; every accepted body
reads back from /data exactly as sent, types included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from procflow.model.limits import MAX_NESTING_DEPTH
from tests.api.conftest import Api
from tests.api.hostile import SMALL_CAP, Holder, capped_holder, holder_on
from tests.api.test_errors import assert_problem


@pytest.fixture
def holder(api: Api) -> Holder:
    return holder_on(api)


@pytest.fixture
def capped(api: Api, tmp_path: Path) -> Iterator[Holder]:
    with capped_holder(api, tmp_path) as held:
        yield held


def _nested(depth: int) -> dict[str, Any]:
    """An object ``depth`` containers deep, counting the body itself."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


NUMBERS = [
    2**63 - 1,
    -(2**63),
    0,
    1e16,
    1e20,
    -1.5e300,
    1.7976931348623157e308,
    5e-324,
    0.1,
    1.0,
    -0.0,
    123456789012345678.0,
]


def test_numbers_read_back_as_sent(holder: Holder) -> None:
    body = {"numbers": NUMBERS, "one": {"deep": 1e16}}
    uuid = holder.start(body)
    data = holder.data(uuid)
    assert data == body
    assert [type(n) for n in data["numbers"]] == [type(n) for n in NUMBERS]
    copy = holder.post(holder.copy_path(uuid, "dryRun=true"), {"more": 1e300})
    assert copy.status_code == 200, copy.text
    assert type(json.loads(copy.text)["data"]["one"]["deep"]) is float


@pytest.mark.parametrize(
    "literal",
    [
        b"9223372036854775808",
        b"-9223372036854775809",
        b"18446744073709551615",
        b"100000000000000000000",
        b"-123456789012345678901234567890",
    ],
)
def test_integers_outside_64_bits_are_refused(holder: Holder, literal: bytes) -> None:
    before = holder.api.stored_counts()
    response = holder.post(holder.start_path(), b'{"ok": 1, "big": {"n": ' + literal + b"}}")
    body = assert_problem(response, 400)
    assert "Numbers must be 64-bit integers or finite doubles" in body["message"]
    assert "/big/n" in body["message"]
    assert holder.api.stored_counts() == before


def test_non_finite_numbers_are_refused(holder: Holder) -> None:
    for raw in (b'{"n": 1e400}', b'{"n": NaN}', b'{"n": -Infinity}'):
        assert_problem(holder.post(holder.start_path(), raw), 400)


@pytest.mark.parametrize(
    "body",
    [{"name": "a\u0000b"}, {"a\u0000": 1}, {"list": ["ok", ["x\u0000"]]}],
    ids=["value", "key", "nested"],
)
def test_nul_is_refused_alike_on_both_stores(holder: Holder, body: dict[str, Any]) -> None:
    before = holder.api.stored_counts()
    response = holder.post(holder.start_path(), body)
    assert "NUL" in assert_problem(response, 400)["message"]
    assert holder.api.stored_counts() == before


def test_an_escaped_backslash_before_u0000_is_just_text(holder: Holder) -> None:
    body = {"path": "C:\\u0000\\dir"}
    assert holder.data(holder.start(body)) == body


def test_nesting_up_to_the_limit_is_kept(holder: Holder) -> None:
    body = _nested(MAX_NESTING_DEPTH)
    assert holder.data(holder.start(body)) == body


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH + 1, 255, 999, 1024, 5000])
def test_deeper_bodies_are_refused_everywhere(holder: Holder, depth: int) -> None:
    source = holder.start({"keep": 1})
    before = holder.api.stored_counts()
    body = _nested(depth)
    raw = json.dumps(body).encode() if depth < 900 else _deep_text(depth)
    paths = [
        holder.start_path(),
        holder.pinned_path(),
        holder.copy_path(source),
        holder.copy_path(source, "dryRun=true"),
        holder.action_path(source, "again"),
    ]
    for path in paths:
        message = assert_problem(holder.post(path, raw), 400)["message"]
        assert f"nest deeper than {MAX_NESTING_DEPTH} levels" in message
    assert holder.api.stored_counts() == before
    assert holder.data(source) == {"keep": 1}


def _deep_text(depth: int) -> bytes:
    return b'{"d":' * (depth - 1) + b'{"leaf":1}' + b"}" * (depth - 1)


def _blob(size: int) -> str:
    return "x" * size


def test_start_over_the_data_cap_is_413(capped: Holder) -> None:
    before = capped.api.stored_counts()
    for path in (capped.start_path(), capped.pinned_path()):
        response = capped.post(path, {"blob": _blob(SMALL_CAP)})
        body = assert_problem(response, 413)
        assert body["message"].startswith("Instance data would exceed the limit")
        assert body["limitBytes"] == SMALL_CAP
    assert capped.api.stored_counts() == before


def test_a_copy_whose_merged_data_is_too_big_is_413(capped: Holder) -> None:
    source = capped.start({"a": _blob(SMALL_CAP // 2)})
    before = capped.api.stored_counts()
    for query in ("", "dryRun=true"):
        response = capped.post(capped.copy_path(source, query), {"b": _blob(SMALL_CAP // 2)})
        assert_problem(response, 413)
    assert capped.api.stored_counts() == before
    assert capped.data(source) == {"a": _blob(SMALL_CAP // 2)}


def test_an_action_that_would_grow_data_past_the_cap_changes_nothing(capped: Holder) -> None:
    uuid = capped.start({"a": _blob(SMALL_CAP // 2)})
    before = capped.api.stored_counts()
    response = capped.post(capped.action_path(uuid, "again"), {"b": _blob(SMALL_CAP // 2)})
    assert_problem(response, 413)
    assert capped.api.stored_counts() == before
    assert capped.data(uuid) == {"a": _blob(SMALL_CAP // 2)}


def test_rules_that_grow_data_past_the_cap_change_nothing(capped: Holder) -> None:
    uuid = capped.start({"blob": _blob(SMALL_CAP // 3)})
    grown = capped.post(capped.action_path(uuid, "grow"), {})
    assert grown.status_code == 200, grown.text
    assert capped.data(uuid) == {"blob": _blob(2 * (SMALL_CAP // 3))}
    before = capped.api.stored_counts()
    assert_problem(capped.post(capped.action_path(uuid, "grow"), {}), 413)
    assert capped.api.stored_counts() == before
    assert capped.data(uuid) == {"blob": _blob(2 * (SMALL_CAP // 3))}
