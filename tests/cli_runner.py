"""``procflow`` commands run inside the test process, through typer's CliRunner.

A fresh ``procflow`` process spends about two CPU seconds importing the app before it does
anything; tests that only need a command's answer (deploy a definition, mint a token, list
instances) run it here instead. Tests about the process boundary itself (the exit code a
shell sees, one clear line and no traceback on stderr) keep running the real executable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from typer.testing import CliRunner

from procflow.cli.main import app


@dataclass(frozen=True)
class CliResult:
    """What a shell would see: the same fields as ``subprocess.CompletedProcess``."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> CliResult:
    """``procflow ARGS``; with ``env``, exactly those PROCFLOW_* variables are set.

    An exception escaping the command is raised, not turned into exit code 1: the real
    executable would have printed a traceback, which no test accepts.
    """
    result = CliRunner().invoke(app, list(args), env=_procflow_env(env), catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def _procflow_env(env: Mapping[str, str] | None) -> dict[str, str | None] | None:
    if env is None:
        return None
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PROCFLOW_")}
    return {**unset, **{k: v for k, v in env.items() if k.startswith("PROCFLOW_")}}
