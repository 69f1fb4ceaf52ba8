"""The operator's CLI against a real ``procflow serve`` (SQLite, embedded worker): instances
list/show/audit/copy, batch create/show/cancel, deploy --url, and its failures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from procflow.runtime.access import ANY_WORKSPACE, Role
from procflow.runtime.tokens import TokenIssuer, load_or_create_secret
from tests.api.served import PROCFLOW
from tests.cli.test_instance_commands import _start, _token
from tests.cli_runner import CliResult, run_cli

WORKSPACE = "00000000-0000-0000-0000-000000000001"
LOANS = Path(__file__).resolve().parents[2] / "examples/loans/loan_application.yaml"


def _cli(*args: str, base: str, token: str) -> CliResult:
    return run_cli(*args, "--url", base, "--token", token)


def _cli_process(*args: str, base: str, token: str) -> subprocess.CompletedProcess[str]:
    """The real executable, for what only a shell sees: its exit code and its stderr."""
    return subprocess.run(
        [str(PROCFLOW), *args, "--url", base, "--token", token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _json(result: CliResult) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _global_token(log: Path) -> str:
    """The banner's token is the demo workspace's; creating a workspace needs every one."""
    issuer = TokenIssuer(load_or_create_secret(log.parent / "data"), "procflow", "procflow")
    return issuer.mint("tester", {ANY_WORKSPACE: frozenset(Role)})


def _own_workspace(base: str, token: str) -> tuple[str, str]:
    """A workspace and app of this test's own, with the demo's loan_application: a batch
    over "every FAILED loan_application" must not reach other tests' instances."""
    workspace, app = str(uuid4()), str(uuid4())
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        made = http.post("/api/admin/workspaces", json={"id": workspace, "name": "batch"})
        assert made.status_code == 201, made.text
        made = http.post(f"/api/admin/wks/{workspace}/apps", json={"id": app, "name": "loans"})
        assert made.status_code == 201, made.text
        files = {"loan_application.yaml": LOANS.read_text()}
        build = http.post(f"/api/admin/wks/{workspace}/app/{app}/builds",
                          json={"files": files, "activate": True})  # fmt: skip
        assert build.status_code == 201, build.text
    return workspace, app


def test_list_show_audit_and_copy(server: tuple[str, Path]) -> None:
    base, log = server
    token = _token(log)
    failed = _start(base, token, "not a number")["uuid"]
    listed = _cli("instances", "list", "--state", "FAILED", base=base, token=token)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "UUID", "PROCESS", "STATE", "CREATED"]
    assert any(failed in row and "FAILED" in row for row in rows)
    as_json = _json(_cli("instances", "list", "--json", "--limit", "1", base=base, token=token))
    assert len(as_json["content"]) == 1

    shown = _cli("instances", "show", failed, base=base, token=token)
    assert shown.returncode == 0, shown.stderr
    assert "FAILED" in shown.stdout and "incidents:" in shown.stdout and "open" in shown.stdout
    assert "audit (last" in shown.stdout and "instance_created" in shown.stdout

    audit = _cli("instances", "audit", failed, base=base, token=token)
    assert audit.returncode == 0 and "instance_started" in audit.stdout

    dry = _json(_cli("instances", "copy", failed, "--set", "applicant.income=4000", "--dry-run",
                     base=base, token=token))  # fmt: skip
    assert dry["dryRun"] is True and dry["data"]["applicant"]["income"] == 4000
    copied = _cli("instances", "copy", failed, "--set", "applicant.income=4000",
                  base=base, token=token)  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    new_uuid, state, process = copied.stdout.split()[:3]
    assert (state, process) == ("STARTED", "loan_application") and new_uuid != failed
    resumed = _json(_cli("instances", "copy", failed, "--start-at", "review", "--json",
                         "--set", "applicant.income=4000", base=base, token=token))  # fmt: skip
    assert [t["currentNodeId"] for t in resumed["tokens"]] == ["review"]
    # Waiting at a user task never settles by itself: terminated, --follow ends by itself.
    ended = _cli("instances", "terminate", new_uuid, base=base, token=token)
    assert ended.returncode == 0 and "TERMINATED" in ended.stdout
    follow = _cli("instances", "audit", new_uuid, "--follow", "--interval", "0.1",
                  base=base, token=token)  # fmt: skip
    assert follow.returncode == 0 and follow.stdout.rstrip().splitlines()[-1].split()[2] == (
        "instance_terminated"
    )
    bad_node = _cli("instances", "copy", failed, "--start-at", "nowhere", base=base, token=token)
    assert bad_node.returncode == 1 and "startAt" in bad_node.stderr


def test_batch_dry_run_for_real_and_progress(server: tuple[str, Path]) -> None:
    base, log = server
    token = _global_token(log)
    workspace, app = _own_workspace(base, token)
    failed = [_start(base, token, "not a number", workspace, app)["uuid"] for _ in range(3)]
    filters = ["--workspace", workspace, "--process", "loan_application", "--state", "FAILED"]
    dry = _cli("batch", "create", "copyDataFrom", *filters, "--set", "applicant.income=4000",
               "--dry-run", base=base, token=token)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("dry run: 3 items would be applied")
    created = _cli("batch", "create", "copyDataFrom", *filters, "--set", "applicant.income=4000",
                   "--wait", base=base, token=token)  # fmt: skip
    assert created.returncode == 0, created.stderr + created.stdout
    batch_id = created.stdout.split()[1]
    assert "COMPLETED: 3 done, 0 failed of 3" in created.stdout
    shown = _json(
        _cli("batch", "show", batch_id, "--workspace", workspace, "--json", base=base, token=token)
    )
    assert (shown["state"], shown["done"]) == ("COMPLETED", 3)
    items = _cli(
        "batch", "show", batch_id, "--workspace", workspace, "--items", base=base, token=token
    )
    assert all(uuid in items.stdout for uuid in failed)
    finished = _cli("batch", "cancel", batch_id, "--workspace", workspace, base=base, token=token)
    assert finished.returncode == 1 and finished.stderr.startswith("error: 409")

    retry = _cli("batch", "create", "retry", "--workspace", workspace, "--uuid", failed[0],
                 "--uuid", "not-a-uuid", base=base, token=token)  # fmt: skip
    assert retry.returncode == 1 and "UUID" in retry.stderr
    unknown = "00000000-0000-0000-0000-00000000dead"
    partial = _cli("batch", "create", "retry", "--workspace", workspace, "--uuid", failed[0],
                   "--uuid", unknown,
                   "--set", "applicant.income=5000", "--wait", base=base, token=token)  # fmt: skip
    assert partial.returncode == 4, partial.stdout + partial.stderr  # an item failed
    assert "1 done, 1 failed of 2" in partial.stdout and unknown in partial.stdout


def test_deploy_over_http_and_failures_are_one_clear_line(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base, log = server
    token = _token(log)
    definition = tmp_path / "tiny.yaml"
    definition.write_text(
        "name: tiny\nnodes:\n  - {id: s, type: start}\n  - {id: e, type: end}\n"
        "flows:\n  - {from: s, to: e}\n"
    )
    target = ["--workspace", WORKSPACE, "--app", "00000000-0000-0000-0000-0000000000b7"]
    first = _cli("deploy", str(definition), *target, "--activate", base=base, token=token)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("build ") and "(active, sha256:" in first.stdout
    again = _cli("deploy", str(definition), *target, base=base, token=token)
    assert "identical to an existing build" in again.stdout
    assert again.stdout.split()[1] == first.stdout.split()[1]

    for args in (("instances", "list"), ("batch", "show", WORKSPACE), ("deploy", str(definition),
                                                                   *target)):  # fmt: skip
        rejected = _cli_process(*args, base=base, token="nope")
        assert rejected.returncode == 1, args
        assert rejected.stderr.count("\n") == 1 and "rejected the token" in rejected.stderr
        unreachable = _cli_process(*args, base="http://127.0.0.1:1", token=token)
        assert unreachable.returncode == 3 and unreachable.stderr.startswith("error: cannot reach")
        assert "Traceback" not in rejected.stderr + unreachable.stderr
    missing = subprocess.run([str(PROCFLOW), "export", str(tmp_path / "missing.yaml")],
                             capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"error: cannot read {tmp_path / 'missing.yaml'}: No such file or directory"
    ]


def test_deploy_over_http_prints_the_answer_s_warnings(server: tuple[str, Path]) -> None:
    base, log = server
    drawn = (
        Path(__file__).resolve().parents[1] / "bpmn/files/modelers/gateway_without_conditions.bpmn"
    )
    target = ["--workspace", WORKSPACE, "--app", "00000000-0000-0000-0000-0000000000c8"]
    result = _cli("deploy", str(drawn), *target, base=base, token=_token(log))
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2 and all(w.startswith("warning: ") for w in warnings), warnings
    assert "gateway_without_conditions.bpmn:" in warnings[0] and "[Flow_left]" in warnings[0]
    assert "Process_route" in result.stdout
