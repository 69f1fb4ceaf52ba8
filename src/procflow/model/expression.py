"""CEL expressions, compiled once when a definition is parsed.

CEL is side-effect free and has no access to the host: user text is never given to Python's
``eval``. Expressions see the instance data as the variable ``input``. Text past the limits
of ``expression_limits`` is refused before the native library sees it: it would crash the
process, not raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cel

from procflow.model.expression_limits import expression_limit_problem
from procflow.model.expression_paths import Path, rewrite


class ExpressionSyntaxError(ValueError):
    """The expression text is not valid CEL."""


@dataclass(frozen=True, slots=True)
class Direct:
    """The expression compiled to read its data chains as variables (see expression_paths):
    ``program`` sees the value at ``paths[i]`` as the variable ``names[i]``."""

    program: Any
    paths: tuple[Path, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Expression:
    source: str
    program: Any = field(compare=False, repr=False)
    # None when the expression has no such form; it is then always evaluated on ``input``.
    direct: Direct | None = field(default=None, compare=False, repr=False)

    @classmethod
    def compile(cls, source: str) -> Expression:
        too_big = expression_limit_problem(source)
        if too_big is not None:
            raise ExpressionSyntaxError(too_big)
        try:
            program = cel.compile(source)
        except (ValueError, RuntimeError) as error:
            raise ExpressionSyntaxError(_first_line(str(error))) from error
        except BaseException as error:
            if not is_native_panic(error):
                raise
            raise ExpressionSyntaxError(f"the CEL library failed on it: {error}") from None
        unknown = set(program.variables()) - ALLOWED_ROOTS
        # Comprehension macros report their bound names as variables, so only a reference
        # to an undeclared *root* outside any macro is an error; CEL itself reports the rest
        # at evaluation time as an incident.
        if unknown and not _uses_macros(source):
            names = ", ".join(sorted(unknown))
            raise ExpressionSyntaxError(f"unknown variable(s) {names}; use input.<path>")
        return cls(source, program, _direct(source))


ALLOWED_ROOTS = frozenset({"input"})


def _direct(source: str) -> Direct | None:
    """The direct form of an expression that compiled, when the rewrite applies; a rewrite
    that does not compile, or reads anything but its own variables, is dropped."""
    rewritten = rewrite(source)
    if rewritten is None:
        return None
    try:
        program = cel.compile(rewritten.source)
    except (ValueError, RuntimeError):
        return None
    except BaseException as error:
        if not is_native_panic(error):
            raise
        return None
    if set(program.variables()) != set(rewritten.names):
        return None
    return Direct(program, rewritten.paths, rewritten.names)


def is_native_panic(error: BaseException) -> bool:
    """A Rust panic inside the CEL library: pyo3 raises it as ``PanicException``, which
    derives from BaseException (so ``except Exception`` misses it) and lives in a module
    pyo3 creates only when the first panic happens, so it is known by name."""
    return type(error).__name__ == "PanicException"


_MACROS = (".map(", ".filter(", ".all(", ".exists(", ".exists_one(")


def _uses_macros(source: str) -> bool:
    return any(macro in source for macro in _MACROS)


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "invalid expression"
