"""Camunda 7 conditions in JUEL (``${approved}``, ``${amount > 1000 && risk == 'low'}``),
translated to CEL when the file is read, so that models leaving Camunda deploy unchanged.

Only a strict subset is translated: identifiers (the process variables, read as
``input.<name>``), dotted property access, string/number/boolean/null literals, comparison
(``== != < > <= >=``, ``eq ne lt gt le ge``), logic (``&& || !``, ``and or not``),
arithmetic (``+ - * / %``, ``div mod``), parentheses and ``empty x``. Anything else (method
calls such as ``execution.getVariable('x')``, beans, brackets, the ternary, ``instanceof``,
text around the ``${...}``) is refused with a reason, never guessed at. The text is split by
a tokenizer and parsed by precedence (EL 3.0, 1.17); each operation is written back in
parentheses, so CEL's own precedence cannot regroup it.

Semantics kept: ``/`` and ``div`` divide as doubles (EL coerces both sides), ``empty x`` is
true for null, ``""`` and an empty list or map. A variable the data does not have is an
error in CEL, as Camunda's ``PropertyNotFoundException`` is: an incident, not ``false``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# Camunda's own objects in an expression: they are not process variables.
_CAMUNDA_ROOTS = frozenset(
    {"execution", "task", "externalTask", "authenticatedUserId", "variableScope", "connector"}
)
# Words CEL reserves: a variable so named cannot be written as ``input.<name>``.
_CEL_RESERVED = frozenset(
    {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "in", "let",
     "loop", "package", "namespace", "return", "var", "void", "while"}
)  # fmt: skip
_WORD_OPERATORS = {
    "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
    "and": "&&", "or": "||", "not": "!", "div": "/", "mod": "%",
}  # fmt: skip
_UNSUPPORTED_WORDS = {
    "instanceof": "instanceof",
    "function": "a function call",
}
_SYMBOLS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%", "(",
            ")", ".")  # fmt: skip
_REFUSED_SYMBOLS = {
    "?": "the ternary ?:",
    ":": "the ternary ?: (or a function namespace)",
    "[": "brackets",
    "]": "brackets",
    ",": "a list of arguments",
    "{": "nested ${...}",
    "}": "text after the expression",
    "=": "assignment (=); compare with ==",
    ";": "several expressions",
}
_INT64 = 2**63 - 1

# Binary operators by precedence, lowest first (EL 3.0, 1.17), after the words are replaced.
_LEVELS = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

HINT = (
    "rewrite it in CEL: variables are read as input.<name>, e.g. input.approved, "
    "input.amount > 1000 && input.risk == 'low'"
)


class JuelRefused(ValueError):
    """The JUEL text is outside the subset Procflow translates; the message says why."""


@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "number", "string", "op"
    text: str  # the CEL text for literals and names, the operator for "op"
    at: int  # offset in the expression, for messages


def is_juel(text: str) -> bool:
    """Whether a condition is written as one JUEL expression, ``${...}`` or ``#{...}``."""
    stripped = text.strip()
    return stripped[:2] in ("${", "#{") and stripped.endswith("}")


def to_cel(text: str) -> str:
    """The CEL form of a JUEL condition; ``JuelRefused`` when it is outside the subset."""
    stripped = text.strip()
    if not is_juel(stripped):
        raise JuelRefused("a JUEL condition is one ${...} expression")
    parser = _Parser(_tokenize(stripped[2:-1]))
    return parser.expression()


# --- tokenizer ----------------------------------------------------------------------------


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
        elif char in "'\"":
            index = _string(source, index, tokens)
        elif char.isdigit() or (char == "." and source[index + 1 : index + 2].isdigit()):
            index = _number(source, index, tokens)
        elif char.isalpha() or char in "_$":
            index = _word(source, index, tokens)
        else:
            index = _symbol(source, index, tokens)
    return tokens


def _string(source: str, start: int, tokens: list[_Token]) -> int:
    quote, index, chars = source[start], start + 1, []
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source) and source[index + 1] in "'\"\\":
            chars.append(source[index + 1])  # EL's only escapes: \' \" \\
            index += 2
        elif char == quote:
            tokens.append(_Token("string", json.dumps("".join(chars), ensure_ascii=False), start))
            return index + 1
        else:
            chars.append(char)
            index += 1
    raise JuelRefused(f"the string at offset {start} is not closed")


def _number(source: str, start: int, tokens: list[_Token]) -> int:
    index = start
    while index < len(source) and (source[index].isalnum() or source[index] == "."):
        if source[index] in "eE" and source[index + 1 : index + 2] in ("+", "-"):
            index += 1
        index += 1
    text = source[start:index]
    if text.isdigit():
        if int(text) > _INT64:
            raise JuelRefused(f"the number {text} is too large")
        tokens.append(_Token("number", str(int(text)), start))
        return index
    try:
        value = float(text)
    except ValueError:
        raise JuelRefused(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise JuelRefused(f"the number {text} is too large")
    tokens.append(_Token("number", repr(value), start))
    return index


def _word(source: str, start: int, tokens: list[_Token]) -> int:
    index = start
    while index < len(source) and (source[index].isalnum() or source[index] in "_$"):
        index += 1
    word = source[start:index]
    if word in _WORD_OPERATORS:
        tokens.append(_Token("op", _WORD_OPERATORS[word], start))
    elif word in ("empty", "true", "false", "null"):
        tokens.append(_Token("op" if word == "empty" else "literal", word, start))
    elif word in _UNSUPPORTED_WORDS:
        raise JuelRefused(f"{_UNSUPPORTED_WORDS[word]} is not translated")
    else:
        tokens.append(_Token("name", word, start))
    return index


def _symbol(source: str, start: int, tokens: list[_Token]) -> int:
    for symbol in _SYMBOLS:
        if source.startswith(symbol, start):
            tokens.append(_Token("op", symbol, start))
            return start + len(symbol)
    char = source[start]
    reason = _REFUSED_SYMBOLS.get(char, f"the character {char!r}")
    raise JuelRefused(f"{reason} is not translated (offset {start})")


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """Precedence climbing over the tokens; every operation comes back parenthesized."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def expression(self) -> str:
        if not self.tokens:
            raise JuelRefused("the expression is empty")
        cel = self._binary(0)
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise JuelRefused(f"unexpected {token.text!r} at offset {token.at}")
        return cel

    def _peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise JuelRefused("the expression ends too early")
        self.index += 1
        return token

    def _binary(self, level: int) -> str:
        if level == len(_LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while (token := self._peek()) is not None and token.kind == "op":
            if token.text not in _LEVELS[level]:
                break
            self.index += 1
            right = self._binary(level + 1)
            left = _operation(left, token.text, right)
        return left

    def _unary(self) -> str:
        token = self._peek()
        if token is not None and token.kind == "op" and token.text in ("!", "-", "empty"):
            self.index += 1
            operand = self._unary()
            if token.text == "empty":
                return _empty(operand)
            return f"{token.text}({operand})"
        return self._primary()

    def _primary(self) -> str:
        token = self._take()
        if token.kind in ("number", "string", "literal"):
            return token.text
        if token.kind == "op" and token.text == "(":
            inner = self._binary(0)
            closing = self._take()
            if closing.text != ")":
                raise JuelRefused(f"expected ')' at offset {closing.at}")
            return f"({inner})"
        if token.kind != "name":
            raise JuelRefused(f"unexpected {token.text!r} at offset {token.at}")
        if token.text in _CAMUNDA_ROOTS:
            raise JuelRefused(f"{token.text!r} is Camunda's object, not a process variable")
        return self._properties(f"input.{_field(token)}")

    def _properties(self, cel: str) -> str:
        while (token := self._peek()) is not None and token.text in (".", "("):
            if token.text == "(":
                raise JuelRefused(f"method calls are not translated (offset {token.at})")
            self.index += 1
            name = self._take()
            if name.kind != "name":
                raise JuelRefused(f"expected a property name after '.' at offset {token.at}")
            cel = f"{cel}.{_field(name)}"
        return cel


def _field(token: _Token) -> str:
    if token.text in _CEL_RESERVED or "$" in token.text:
        raise JuelRefused(f"the name {token.text!r} cannot be read in CEL as input.{token.text}")
    return token.text


def _empty(operand: str) -> str:
    """EL's ``empty``: null, an empty string, list or map (CEL compares across types)."""
    tests = (f"{operand} == {value}" for value in ("null", '""', "[]", "{}"))
    return f"({' || '.join(tests)})"


def _operation(left: str, operator: str, right: str) -> str:
    if operator == "/":  # EL divides as doubles: ${7 / 2} is 3.5
        return f"(double({left}) / double({right}))"
    return f"({left} {operator} {right})"
