from __future__ import annotations

from procflow.engine.evaluate import (
    EvaluationFailed,
    Scope,
    Value,
    cel_input,
    evaluate,
    roots_of,
    to_json,
    to_json_the_whole_way,
)
from procflow.model.data import JsonObject
from procflow.model.expression import Expression


def run(source: str, data: JsonObject | None = None) -> Value | EvaluationFailed:
    return evaluate(Expression.compile(source), data if data is not None else {})


def test_values_come_back_as_json() -> None:
    assert run("input.a + 1", {"a": 2}) == Value(3)
    assert run("'x' + input.s", {"s": "y"}) == Value("xy")
    assert run("input.a > 1", {"a": 2}) == Value(True)
    assert run("[1, 2.5, 'x', {'k': null}]") == Value([1, 2.5, "x", {"k": None}])
    assert run("null") == Value(None)


def test_timestamps_become_iso_strings() -> None:
    assert run("timestamp('2020-01-01T00:00:00Z')") == Value("2020-01-01T00:00:00+00:00")
    assert run("[timestamp('2020-01-01T00:00:00Z')]") == Value(["2020-01-01T00:00:00+00:00"])


def test_missing_field_is_an_error_not_an_exception() -> None:
    assert run("input.missing", {}) == EvaluationFailed("no such key: missing")


def test_runtime_errors_are_messages() -> None:
    for source in ("1 / 0", "input.a + 'x'", "int('x')", "input.a.b"):
        outcome = run(source, {"a": 1})
        assert isinstance(outcome, EvaluationFailed), source
        assert outcome.message
        assert len(outcome.message) <= 300


def test_results_json_cannot_hold_are_errors() -> None:
    for source in ("b'ab'", "duration('1s')", "{1: 2}", "1.0 / 0.0", "[b'x']"):
        outcome = run(source)
        assert isinstance(outcome, EvaluationFailed), source


def test_to_json_converts_python_subclasses_and_tuples() -> None:
    class Text(str):
        pass

    assert to_json((1, Text("a"))) == Value([1, "a"])
    assert isinstance(to_json(object()), EvaluationFailed)


def test_plain_scalars_take_the_short_way_to_the_same_outcome() -> None:
    values: tuple[object, ...] = ("text", "", "a\x00b", 0, -(2**63), 2**63 - 1, 2**63)
    values += (-(2**63) - 1, 2.5, -0.0, 1e308, float("inf"), float("-inf"))
    for value in values:
        assert to_json(value) == to_json_the_whole_way(value), value
    assert to_json(2**63) == EvaluationFailed(
        "result cannot be stored in instance data: Numbers must be 64-bit integers or finite"
        f" doubles: {2**63} at / is out of range"
    )
    assert to_json(float("nan")) == EvaluationFailed("result nan is not a finite number")


def test_scope_shares_one_binding_between_expressions_of_a_group() -> None:
    first, second = Expression.compile("input.a"), Expression.compile("input.b + input.a")
    scope = Scope().bind({"a": 1, "b": 2, "c": 3}, (first, second))
    assert scope.evaluate(first) == Value(1)
    assert scope.evaluate(second) == Value(3)
    assert scope.bind({"a": 5, "b": 6}, (first, second)).evaluate(second) == Value(11)


def test_roots_are_the_top_level_keys_expressions_name() -> None:
    assert roots_of(("input.loan.amount > input.limit",)) == frozenset({"loan", "limit"})
    assert roots_of(("input . spaced",)) == frozenset({"spaced"})
    assert roots_of(("has(input.x.y)", "1 + 2")) == frozenset({"x"})
    assert roots_of(("input.items.map(i, i.input)",)) == frozenset({"items"})
    assert roots_of(("myinput.a",)) == frozenset()
    assert roots_of(("input['a']",)) == frozenset({"a"})
    assert roots_of(('input [ "risk" ]["band"] == "high"',)) == frozenset({"risk"})


def test_any_other_use_of_input_means_all_of_it() -> None:
    sources = ("size(input)", "input[k]", "input['a' + 'b']", 'input["\\""]', "input", "'input'")
    for source in (*sources, "[input].size()"):
        assert roots_of((source,)) is None, source
    assert roots_of(("input.a", "size(input)")) is None


def test_only_named_keys_reach_cel_with_the_same_results() -> None:
    data = {"a": {"b": 1}, "big": list(range(100))}
    assert cel_input(data, frozenset({"a", "missing"})) == {"a": {"b": 1}}
    assert cel_input(data, None) is data
    assert run("has(input.missing)", data) == Value(False)
    assert run("input.missing", data) == EvaluationFailed("no such key: missing")
    assert run("size(input)", data) == Value(2)
    assert run("input['a'].b", data) == Value(1)
    assert run("input['missing']", data) == EvaluationFailed("no such key: missing")
