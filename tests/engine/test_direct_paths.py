"""Expressions evaluated on the leaves they read (model/expression_paths.py) give exactly what
the same expression gives on the whole ``input``: values, errors and their messages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from procflow.engine.evaluate import Scope, evaluate, leaves
from procflow.model.data import JsonObject
from procflow.model.expression import Expression
from procflow.model.expression_paths import rewrite

DATA: list[JsonObject] = [
    {},
    {"loan": {"amount": 5000}, "applicant": {"name": "Ada", "income": 1000}},
    {"loan": {"amount": 0}, "applicant": {"income": 0}},
    {"loan": None, "applicant": []},
    {"loan": {"amount": "5000"}, "applicant": {"income": 2.5}},
    {"loan": {"amount": 2**63 - 1, "nested": {"a": {"b": [1, {"c": True}]}}}},
    {"loan": [1, 2], "risk": {"band": "high", "ratio": 3.5}},
    {"risk": {"band": None}, "a b": {"é": "x"}, "in": 1},
    {"a.b": {"c": 1}, "a": {"b": {"c": 2}}, "loan": {"amount": -(2**63)}},
]

EXPRESSIONS = [
    "double(input.loan.amount) / double(input.applicant.income)",
    "input.loan.amount * 2",
    "input.loan.amount > 1000 ? 'high' : 'low'",
    'input["risk"]["band"] == "high"',
    "input['risk'].ratio > 3.0",
    "input.loan",
    "input.loan.nested.a",
    "input.loan.nested.a.b",
    "size(input.loan.nested.a.b)",
    "input.applicant.name.startsWith('A')",
    "input.applicant.name + input.applicant.name",
    "'input.loan' + string(input.loan.amount)",
    "input.risk.band == null",
    "input.missing.deeper || true",
    "false && input.loan.amount > 0",
    "input.loan.amount in [0, 5000]",
    '"a" in input.loan',
    'input["a b"]["é"]',
    "input . loan . amount",
    'input["a.b"].c',
    "input.a.b.c",
    "input.loan.amount - 1",
    "-input.loan.amount",
    "!input.risk.band",
    "input.loan.amount + input.loan.amount",
]


def _plain(expression: Expression) -> Expression:
    """The same expression with no direct form: always evaluated on the bound input."""
    return replace(expression, direct=None)


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_direct_form_gives_what_the_whole_input_gives(source: str) -> None:
    expression = Expression.compile(source)
    assert expression.direct is not None, source
    for data in DATA:
        ours = Scope().bind(data, (expression,)).evaluate(expression)
        plain = Scope().bind(data, (expression,)).evaluate(_plain(expression))
        assert ours == plain, (source, data)
        assert evaluate(expression, data) == plain


def test_a_scope_reused_across_data_stays_right() -> None:
    expression = Expression.compile("input.loan.amount + 1")
    scope = Scope()
    results = [scope.bind(data, (expression,)).evaluate(expression) for data in DATA]
    expected = [evaluate(_plain(expression), data) for data in DATA]
    assert results == expected


def test_chains_become_variables_and_the_rest_is_kept() -> None:
    found = rewrite("input.a.b + input['c'] * input.a.b - size(\"input.x\")")
    assert found is not None
    assert found.source == 'pf_input_0 + pf_input_1 * pf_input_0 - size("input.x")'
    assert found.paths == (("a", "b"), ("c",))


def test_a_method_call_ends_the_chain() -> None:
    found = rewrite("input.name.startsWith('x') && input.list.size() > 0")
    assert found is not None
    assert found.source == "pf_input_0.startsWith('x') && pf_input_1.size() > 0"
    assert found.paths == (("name",), ("list",))


def test_string_literals_of_every_kind_are_skipped() -> None:
    source = 'r\'input.a\\\' + """input.b " """ + b"input.c" + \'\\\'input\' + input.d'
    found = rewrite(source)
    assert found is not None
    assert found.paths == (("d",),)
    assert found.source.endswith("+ pf_input_0")


@pytest.mark.parametrize(
    "source",
    [
        "size(input)",  # input used whole
        "input",
        "input[input.k]",  # computed index
        "input.list[0]",  # index into a list
        "input['a\\'b']",  # escapes: left to CEL
        "input[b'a']",  # a bytes key is not a string key
        "has(input.a)",  # has() needs a field selection
        "input.items.map(x, x.qty)",  # macros bind names
        "input.items.exists(x, x > 1)",
        "input.?a",  # optional selection
        "input.a // a comment",
        "'unterminated",
        "pf_input_0",
    ],
)
def test_what_the_rewrite_does_not_handle_keeps_its_form(source: str) -> None:
    assert rewrite(source) is None


def test_unsupported_expressions_still_evaluate_on_the_whole_input() -> None:
    expression = Expression.compile("size(input) + size(input.items.map(x, x * 2))")
    assert expression.direct is None
    assert evaluate(expression, {"items": [1, 2]}).value == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "found"),
    [
        ({"a": {"b": 1}}, {"pf_input_0": 1}),
        ({"a": {"b": None}}, {"pf_input_0": None}),
        ({"a": {"b": "x"}}, {"pf_input_0": "x"}),
        ({"a": {"b": 2.5}}, {"pf_input_0": 2.5}),
        ({"a": {"b": {"c": [1]}}}, None),  # an object: the group's shared binding converts it
        ({"a": {"b": [1]}}, None),
        ({"a": {}}, None),  # missing key: CEL reports it
        ({"a": [1]}, None),  # through a list: CEL reports it
        ({"a": None}, None),
        ({}, None),
    ],
)
def test_leaves_are_scalars_taken_only_through_objects(data: JsonObject, found: Any) -> None:
    direct = Expression.compile("input.a.b").direct
    assert direct is not None
    assert leaves(data, direct) == found


def test_missing_keys_fail_with_the_message_cel_gives() -> None:
    expression = Expression.compile("input.loan.amount > 1")
    outcome = evaluate(expression, {"loan": {}})
    assert outcome == evaluate(_plain(expression), {"loan": {}})
    assert getattr(outcome, "message", "").startswith("no such key")
