"""The command line: token, deploy, export."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import jwt
import pytest
from typer.testing import CliRunner

from procflow.cli.main import app
from procflow.model.bpmn import parse_bpmn
from procflow.store.factory import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = "7d7c1f0e-0000-4000-8000-000000000001"
APP = "7d7c1f0e-0000-4000-8000-0000000000a1"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PROCFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("PROCFLOW_DATABASE_URL", raising=False)
    return CliRunner()


def test_token_prints_a_verifiable_jwt(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["token", "--workspace", WORKSPACE, "--role", "start", "--role", "read"]
    )
    assert result.exit_code == 0, result.output
    secret = (tmp_path / "jwt-secret").read_text().strip()
    claims = jwt.decode(result.output.strip(), secret, algorithms=["HS256"], audience="procflow")
    assert claims["workspaces"] == {WORKSPACE: ["read", "start"]}
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0


def test_deploy_directory_and_activate(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "deploy",
            str(ROOT / "examples/loans"),
            "--workspace",
            WORKSPACE,
            "--app",
            APP,
            "--activate",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "loan_application" in result.output and "loan_application_bpmn" in result.output
    store = open_store(None, tmp_path)
    try:
        with store.transaction() as txn:
            assert txn.get_active_build_id(UUID(WORKSPACE), UUID(APP)) is not None
    finally:
        store.close()


def test_deploy_reports_problems_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnodes: [{id: s, type: start}]\nflows: []\n")
    result = runner.invoke(app, ["deploy", str(bad), "--workspace", WORKSPACE, "--app", APP])
    assert result.exit_code == 1
    assert "bad.yaml" in result.output and "no outgoing flow" in result.output


def test_export_yaml_as_bpmn_with_layout(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "loan.bpmn"
    result = runner.invoke(
        app, ["export", str(ROOT / "examples/loans/loan_application.yaml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    [process] = parse_bpmn(out.read_bytes(), "loan.bpmn")
    assert process.name == "loan_application"
    assert set(process.diagram) >= set(process.definition.nodes)


def test_deploy_prints_warnings_and_still_deploys(runner: CliRunner) -> None:
    drawn = ROOT / "tests/bpmn/files/modelers/gateway_without_conditions.bpmn"
    result = runner.invoke(app, ["deploy", str(drawn), "--workspace", WORKSPACE, "--app", APP])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2
    assert warnings[0].startswith("warning: gateway_without_conditions.bpmn:")
    assert "[Flow_left]" in warnings[0] and "[Flow_right]" in warnings[1]
    assert "Process_route" in result.stdout
