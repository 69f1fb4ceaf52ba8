"""Random JSON bodies against S1, S3 (copyDataFrom) and action execute, on both stores.

Whatever arrives: never a 5xx; a refused body stores nothing (no new instance, no changed
data); an accepted body reads back from /data exactly as sent, types included.
Derandomized and without an example database, so CI runs the same examples every time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procflow.model.data import merge_patch
from tests.api.conftest import Api
from tests.api.hostile import Holder, holder_on

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e16, 1e20, -1.5e300, 5e-324, 0.1])
    | st.text(max_size=12)
    | st.sampled_from(["\x00", "a\x00", "\\u0000", "\ud800", "é€😀"])
)
KEYS = st.text(max_size=6) | st.sampled_from(["k\x00", "startCondition", "\ud800"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


BODIES = st.dictionaries(KEYS, VALUES, max_size=5) | st.integers(55, 80).map(_deep)
TARGETS = st.sampled_from(["start", "copy", "action"])


def typed(value: Any) -> Any:
    """A value whose equality also compares JSON types (1 is not 1.0, True is not 1)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


@pytest.fixture
def holder(api: Api) -> Holder:
    # Function-scoped, so made once for all the examples of one backend.
    return holder_on(api)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, target=TARGETS)
def test_random_bodies_never_break_the_store(holder: Holder, body: Any, target: str) -> None:
    api = holder.api
    base = holder.start({"base": {"kept": 1}, "n": 2})
    raw = json.dumps(body).encode()  # NaN and Infinity become non-JSON text: must be a 400
    path, expected_base = _target(holder, target, base)
    before = api.stored_counts()
    response = holder.post(path, raw)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert api.stored_counts() == before
        assert holder.data(base) == {"base": {"kept": 1}, "n": 2}
        return
    uuid = base if target == "action" else response.json()["uuid"]
    sent = json.loads(raw)
    expected = sent if expected_base is None else merge_patch(expected_base, sent)
    assert typed(holder.data(uuid)) == typed(expected)


def _target(holder: Holder, target: str, base: str) -> tuple[str, Any]:
    if target == "start":
        return holder.start_path(), None
    if target == "copy":
        return holder.copy_path(base), holder.data(base)
    return holder.action_path(base, "again"), holder.data(base)
