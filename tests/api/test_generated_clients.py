"""Clients generated from the served /openapi.json work unpatched against a real server.

Python: openapi-python-client (its own venv, .venv/codegen: it pins an older typer than
procflow's CLI) generates a client; the README story runs through it. TypeScript:
openapi-typescript generates types and ``tsc --noEmit`` type-checks a story written
against them. CI sets PROCFLOW_REQUIRE_CLIENTS=1: a missing tool fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.node_tools import node_bin
from tests.api.served import Served, missing_tool, serve

CLIENTS = Path(__file__).parent / "clients"
CODEGEN_PYTHON = Path(sys.executable).parent.parent / "codegen" / "bin" / "python"
# No formatter hooks: the generated code is run, not read.
GENERATOR_CONFIG = "post_hooks: []\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("clients")) as served:
        yield served


def _generate_python_client(served: Served, out: Path) -> Path:
    if not CODEGEN_PYTHON.exists():
        missing_tool("the openapi-python-client venv (.venv/codegen)")
    config = out / "generator.yaml"
    config.write_text(GENERATOR_CONFIG)
    subprocess.run(
        [
            str(CODEGEN_PYTHON),
            "-m",
            "openapi_python_client",
            "generate",
            "--url",
            f"{served.base}/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(out / "procflow_client"),
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=out,
    )
    return out


def test_python_client_runs_the_readme_story(server: Served, tmp_path: Path) -> None:
    generated = _generate_python_client(server, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(generated)}
    run = subprocess.run(
        [str(CODEGEN_PYTHON), str(CLIENTS / "python_story.py"), server.base, server.token()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    story = json.loads(run.stdout)
    assert story["startState"] == "STARTED"
    assert story["location"] == f"/api/runtime/process/{story['started']}"
    assert story["replayed"] == "true"
    assert story["replayUuid"] == story["started"]
    assert story["risk"] == {"ratio": 2.4, "band": "medium"}
    assert story["actedState"] == "FINISHED"
    assert story["copiedFrom"] == story["started"]
    assert story["ancestors"] == [story["started"]]
    assert "decision" not in story["previewData"]
    assert story["previewData"]["retryReason"] == "manual-rerun"
    assert (story["missingStatus"], story["missingCode"]) == (404, "process_instance_not_found")
    first_page, second_page = story["pages"]
    assert len(first_page) == 1 and len(second_page) == 1 and first_page != second_page
    assert isinstance(story["nextCursor"], str)


def test_typescript_types_check_a_story(server: Served, tmp_path: Path) -> None:
    openapi_typescript, tsc = node_bin("openapi-typescript"), node_bin("tsc")
    types = tmp_path / "procflow-api.d.ts"
    subprocess.run(
        [str(openapi_typescript), f"{server.base}/openapi.json", "--output", str(types)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    story = tmp_path / "story.ts"
    story.write_text((CLIENTS / "story.ts").read_text())
    bad = tmp_path / "wrong.ts"
    bad.write_text((CLIENTS / "wrong.ts").read_text())
    checked = _tsc(tsc, story)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The types are real: a story that misuses them does not compile.
    refused = _tsc(tsc, bad)
    assert refused.returncode != 0
    assert refused.stdout.count("error TS2322") == 2, refused.stdout


def _tsc(tsc: Path, source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(tsc),
            "--noEmit",
            "--strict",
            "--target",
            "es2022",
            "--lib",
            "es2022,dom",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
