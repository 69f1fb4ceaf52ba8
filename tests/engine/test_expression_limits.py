"""Expressions the native CEL library cannot survive are refused before it sees them.

The dangerous compiles run in child processes: a segfault there fails one assertion instead of
killing the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from procflow.engine.evaluate import EvaluationFailed, Scope, Value, evaluate
from procflow.model.errors import DefinitionInvalid
from procflow.model.expression import Expression, ExpressionSyntaxError
from procflow.model.expression_limits import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_TOKENS,
    expression_shape,
)
from procflow.model.yaml_format import parse_definition_text

# Sizes measured to crash common-expression-language 0.10.0 (see expression_limits.py).
CRASHING_SUM = "+".join(["1"] * 22_000)
CRASHING_MEMBERS = "input" + ".a" * 19_800


def _run_child(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("source", [CRASHING_SUM, CRASHING_MEMBERS], ids=["sum", "members"])
def test_the_library_itself_crashes_on_these_expressions(source: str) -> None:
    """The reason for the limits: without them the whole process dies with SIGSEGV."""
    child = _run_child(
        f"import cel, threading\nt = threading.Thread(target=cel.compile, "
        f"args=({source!r},))\nt.start(); t.join()"
    )
    assert child.returncode != 0


@pytest.mark.parametrize("source", [CRASHING_SUM, CRASHING_MEMBERS], ids=["sum", "members"])
def test_compile_refuses_before_the_native_call(source: str) -> None:
    child = _run_child(
        f"""
        import cel
        from procflow.model.expression import Expression, ExpressionSyntaxError

        def must_not_be_called(source):
            raise SystemExit("cel.compile was reached")

        cel.compile = must_not_be_called
        try:
            Expression.compile({source!r})
        except ExpressionSyntaxError as error:
            print("refused:", error)
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("refused: expression is")


def test_every_limit_has_its_own_message() -> None:
    cases = {
        "x" * (MAX_EXPRESSION_CHARS + 1): "characters",
        "+".join(["1"] * (MAX_EXPRESSION_TOKENS // 2 + 1)): "tokens",
        "(" * (MAX_EXPRESSION_DEPTH + 1) + "1" + ")" * (MAX_EXPRESSION_DEPTH + 1): "nests",
    }
    for source, word in cases.items():
        with pytest.raises(ExpressionSyntaxError, match=word):
            Expression.compile(source)


def test_real_expressions_are_far_below_the_limits() -> None:
    source = 'input.loan.amount > 50000 && input.applicant.name.startsWith("B") ? "high" : "low"'
    assert Expression.compile(source).source == source
    assert expression_shape(source).tokens < 30
    at_limit = "+".join(["1"] * (MAX_EXPRESSION_TOKENS // 2))
    assert evaluate(Expression.compile(at_limit), {}) == Value(MAX_EXPRESSION_TOKENS // 2)


def test_strings_and_comments_do_not_count_as_brackets() -> None:
    shape = expression_shape("'(((' + \"[[\" + r'''{{{'''  // ((((\n")
    assert shape.depth == 0
    assert shape.tokens == 5


def test_deploy_names_the_element_and_line() -> None:
    text = textwrap.dedent(
        f"""\
        name: huge
        nodes:
          - {{id: begin, type: start}}
          - id: compute
            type: task
            rules:
              - set: {{total: "{CRASHING_SUM[:20_000]}"}}
          - {{id: done, type: end}}
        flows:
          - {{from: begin, to: compute}}
          - {{from: compute, to: done}}
        """
    )
    with pytest.raises(DefinitionInvalid) as raised:
        parse_definition_text(text, "huge.yaml")
    (problem,) = raised.value.problems
    assert (problem.element_id, problem.line) == ("compute", 4)
    assert "characters; the limit is 4096" in problem.message


class PanicException(BaseException):  # the name pyo3 gives a Rust panic
    """What pyo3 raises when Rust code in the CEL library panics (a BaseException)."""


class _PanickingProgram:
    """A stand-in for the library's compiled program at the point where it panics."""

    def execute(self, _context: object) -> object:
        raise PanicException("called `Option::unwrap()` on a `None` value")


def test_a_panic_in_the_library_is_an_evaluation_failure() -> None:
    expression = Expression("size(size(input.a))", _PanickingProgram())
    outcome = Scope().bind({"a": "x"}, (expression,)).evaluate(expression)
    assert isinstance(outcome, EvaluationFailed)
    assert "the CEL library failed" in outcome.message


def test_other_base_exceptions_still_propagate() -> None:
    class Interrupting:
        def execute(self, _context: object) -> object:
            raise KeyboardInterrupt

    expression = Expression("input.a", Interrupting())
    with pytest.raises(KeyboardInterrupt):
        evaluate(expression, {})


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("'a\\x00b'", "NUL"),
        ("{'k\\x00': 1}", "NUL"),
        ("18446744073709551615u", "64-bit"),
    ],
)
def test_results_that_data_cannot_hold_fail_the_expression(source: str, reason: str) -> None:
    outcome = evaluate(Expression.compile(source), {})
    assert isinstance(outcome, EvaluationFailed)
    assert reason in outcome.message
