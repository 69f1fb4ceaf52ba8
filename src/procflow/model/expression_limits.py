"""Bounds on an expression's text, checked before the text reaches the native CEL library.

The library's parser and evaluator recurse once per operand of an operator chain, in native
code on the thread's stack, and overflow it with a segfault that kills the server (measured
with common-expression-language 0.10.0 on an 8 MiB thread stack: ``1 + 1 + ...`` crashes
``cel.compile`` at 21,600 terms and evaluation at 12,400; ``input.a.a...`` crashes compile at
19,400 members). Its parser refuses bracket nesting past about 96 levels by itself.

The limits below sit far under those breaking points and far over any real rule (the
examples' longest expression is under 100 characters and 30 tokens): a 512-token chain has
at most 256 operands, 48 times fewer than the first crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_EXPRESSION_CHARS = 4096
MAX_EXPRESSION_TOKENS = 512
MAX_EXPRESSION_DEPTH = 32

# One CEL token: a string or bytes literal (raw, triple-quoted or not), a number, a name,
# a two-character operator, or any other single character. Comments are skipped.
_TOKEN = re.compile(
    r"""
    \s+ | //[^\n]*
    | (?P<literal>[rRbB]{0,2}(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"
        |'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
    | (?P<token>[0-9][0-9A-Za-z_.]*|[A-Za-z_][A-Za-z0-9_]*|==|!=|<=|>=|&&|\|\||.)
    """,
    re.VERBOSE | re.DOTALL,
)
_OPENING, _CLOSING = "([{", ")]}"


@dataclass(frozen=True)
class ExpressionShape:
    tokens: int
    depth: int


def expression_shape(source: str) -> ExpressionShape:
    """How many tokens the text has and how deep its brackets nest (call after the length
    check: the scan is linear, but there is no point scanning megabytes)."""
    tokens = depth = deepest = 0
    for found in _TOKEN.finditer(source):
        if found.lastgroup is None:
            continue
        tokens += 1
        text = found.group()
        if text in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif text in _CLOSING:
            depth -= 1
    return ExpressionShape(tokens, deepest)


def expression_limit_problem(source: str) -> str | None:
    """Why the text is too big for the CEL library to handle safely; None when it is not."""
    if len(source) > MAX_EXPRESSION_CHARS:
        return f"expression is {len(source)} characters; the limit is {MAX_EXPRESSION_CHARS}"
    shape = expression_shape(source)
    if shape.tokens > MAX_EXPRESSION_TOKENS:
        return f"expression has {shape.tokens} tokens; the limit is {MAX_EXPRESSION_TOKENS}"
    if shape.depth > MAX_EXPRESSION_DEPTH:
        return f"expression nests brackets {shape.depth} deep; the limit is {MAX_EXPRESSION_DEPTH}"
    return None
