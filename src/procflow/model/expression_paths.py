"""The data paths a CEL expression reads, and the expression rewritten to take them directly.

Handing data to the CEL library is its dominant cost: every map, key and string it converts
goes through a chain of failed type probes (a raised Python exception each), about a
microsecond apiece, while evaluating a compiled program takes about one microsecond in all.
Most expressions only read a few leaves (``input.loan.amount > 1000``), so an expression
whose every use of ``input`` is a plain chain of field selections (``input.a.b`` or
``input["a"]["b"]``) is also compiled with each chain replaced by a variable of its own; the
engine binds those variables to the leaves when they are scalars (an int converts in a
fraction of a microsecond).

The rewrite is only taken when it cannot change what the expression means: a chain that the
data does not hold all the way down is evaluated the ordinary way (so a missing key fails
with CEL's own message), and anything this scanner does not fully understand (comments,
macros, ``has()``, optional selection, ``input`` used whole or with a computed index, text it
cannot tokenize) leaves the expression without a rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass

Path = tuple[str, ...]

ROOT = "input"
# Names given to the chains; no source that reaches the rewrite can use them itself.
VARIABLE_PREFIX = "pf_input_"

# Macros bind names and ``has()`` needs a field selection as its argument: expressions using
# them keep their ordinary form.
_UNSAFE_WORDS = frozenset(
    {"has", "map", "filter", "all", "exists", "exists_one", "bind", "optMap", "optFlatMap"}
)
_STRING_PREFIXES = frozenset({"r", "R", "b", "B", "rb", "rB", "Rb", "RB", "br", "bR", "Br", "BR"})
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_NUMBER_CHARS = _IDENT_CHARS | frozenset(".")
_SPACE = frozenset(" \t\n\r\f\v")


@dataclass(frozen=True, slots=True)
class Rewrite:
    """``source`` with the chain ``paths[i]`` replaced by the variable ``names[i]``."""

    source: str
    paths: tuple[Path, ...]
    names: tuple[str, ...]


class _Unsure(Exception):
    """The text holds something the rewrite does not handle: keep the expression as it is."""


def rewrite(source: str) -> Rewrite | None:
    """The expression with its data chains as variables; None when it must stay as it is."""
    if VARIABLE_PREFIX in source or ".?" in source or "[?" in source:
        return None
    try:
        return _Scanner(source).run()
    except _Unsure:
        return None


class _Scanner:
    __slots__ = ("out", "paths", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.out: list[str] = []
        self.paths: dict[Path, str] = {}

    def run(self) -> Rewrite:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in _IDENT_START:
                self._word()
            elif char in "\"'":
                self._copy(self._string_end(self.pos, raw=False))
            elif char.isdigit():
                self._copy(self._skip(self.pos, _NUMBER_CHARS))
            elif text.startswith("//", self.pos):
                raise _Unsure  # a comment could hide anything; not worth scanning
            else:
                self._copy(self.pos + 1)
        paths = tuple(self.paths)
        return Rewrite("".join(self.out), paths, tuple(self.paths[path] for path in paths))

    def _copy(self, end: int) -> None:
        self.out.append(self.text[self.pos : end])
        self.pos = end

    def _skip(self, start: int, chars: frozenset[str]) -> int:
        end = start
        while end < len(self.text) and self.text[end] in chars:
            end += 1
        return end

    def _word(self) -> None:
        end = self._skip(self.pos, _IDENT_CHARS)
        word = self.text[self.pos : end]
        if word in _STRING_PREFIXES and end < len(self.text) and self.text[end] in "\"'":
            self._copy(self._string_end(end, raw="r" in word.lower()))
        elif word in _UNSAFE_WORDS:
            raise _Unsure
        elif word == ROOT and not self._after_dot():
            self._chain(end)
        else:
            self._copy(end)

    def _after_dot(self) -> bool:
        """Whether the word at ``pos`` is selected from something (``x.input``)."""
        before = self.text[: self.pos].rstrip()
        return before.endswith(".")

    def _chain(self, end: int) -> None:
        """``input`` followed by field selections: replaced by one variable."""
        path: list[str] = []
        while True:
            step = self._selection(end)
            if step is None:
                break
            key, end = step
            path.append(key)
        if not path:
            raise _Unsure  # input used whole (or with a computed index)
        key_path = tuple(path)
        name = self.paths.setdefault(key_path, f"{VARIABLE_PREFIX}{len(self.paths)}")
        self.out.append(name)
        self.pos = end

    def _selection(self, start: int) -> tuple[str, int] | None:
        """The key and end of ``.name`` or ``["name"]`` at ``start``; None if neither (a
        method call ``.name(`` is not a selection: the chain ends before it)."""
        text = self.text
        at = self._skip(start, _SPACE)
        if text.startswith(".", at):
            name_start = self._skip(at + 1, _SPACE)
            name_end = self._skip(name_start, _IDENT_CHARS)
            if name_end == name_start or text[name_start] not in _IDENT_START:
                raise _Unsure
            if text.startswith("(", self._skip(name_end, _SPACE)):
                return None
            return text[name_start:name_end], name_end
        if text.startswith("[", at):
            return self._index(at + 1)
        return None

    def _index(self, start: int) -> tuple[str, int]:
        """``"name"]`` or ``'name']`` after a ``[``: a plain literal, nothing computed."""
        text = self.text
        quote_at = self._skip(start, _SPACE)
        if quote_at >= len(text) or text[quote_at] not in "\"'":
            raise _Unsure
        quote = text[quote_at]
        close = text.find(quote, quote_at + 1)
        if close < 0:
            raise _Unsure
        key = text[quote_at + 1 : close]
        if "\\" in key or "\n" in key or key.startswith(quote * 2):
            raise _Unsure  # escapes and triple quotes: let CEL read those
        end = self._skip(close + 1, _SPACE)
        if not text.startswith("]", end):
            raise _Unsure
        return key, end + 1

    def _string_end(self, start: int, *, raw: bool) -> int:
        """The end of the string literal whose opening quote is at ``start``."""
        text = self.text
        quote = text[start]
        delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
        at = start + len(delimiter)
        while at < len(text):
            if not raw and text[at] == "\\":
                at += 2
            elif text.startswith(delimiter, at):
                return at + len(delimiter)
            else:
                at += 1
        raise _Unsure
