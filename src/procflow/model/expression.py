"""CEL expressions, compiled once when a definition is parsed.

CEL is side-effect free and has no access to the host: user text is never given to Python's
``eval``. Expressions see the instance data as the variable ``input``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cel


class ExpressionSyntaxError(ValueError):
    """The expression text is not valid CEL."""


@dataclass(frozen=True)
class Expression:
    source: str
    program: Any = field(compare=False, repr=False)

    @classmethod
    def compile(cls, source: str) -> Expression:
        try:
            program = cel.compile(source)
        except (ValueError, RuntimeError) as error:
            raise ExpressionSyntaxError(_first_line(str(error))) from error
        unknown = set(program.variables()) - ALLOWED_ROOTS
        # Comprehension macros report their bound names as variables, so only a reference
        # to an undeclared *root* outside any macro is an error; CEL itself reports the rest
        # at evaluation time as an incident.
        if unknown and not _uses_macros(source):
            names = ", ".join(sorted(unknown))
            raise ExpressionSyntaxError(f"unknown variable(s) {names}; use input.<path>")
        return cls(source, program)


ALLOWED_ROOTS = frozenset({"input"})

_MACROS = (".map(", ".filter(", ".all(", ".exists(", ".exists_one(")


def _uses_macros(source: str) -> bool:
    return any(macro in source for macro in _MACROS)


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "invalid expression"
