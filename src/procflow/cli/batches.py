"""``procflow batch ...``: bulk copyDataFrom, retry or terminate on a running server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from procflow.cli.http import (
    DEFAULT_URL,
    DEFAULT_WORKSPACE,
    ITEMS_FAILED,
    JsonOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    get,
    post,
    table,
)
from procflow.cli.remote import patch_of

batch_app = typer.Typer(
    help="Batches: copyDataFrom, retry or terminate many instances, durably, with progress.",
    no_args_is_help=True,
)

FAILED_SHOWN = 10


def _path(workspace: str, batch_id: str = "") -> str:
    return f"/api/runtime/wks/{workspace}/batches" + (f"/{batch_id}" if batch_id else "")


def _filter(
    uuids: list[str], uuids_file: Path | None, process: str | None, states: list[str]
) -> dict[str, Any]:
    chosen = list(uuids)
    if uuids_file is not None:
        try:
            chosen += [line.strip() for line in uuids_file.read_text().splitlines()
                       if line.strip()]  # fmt: skip
        except OSError as error:
            raise typer.BadParameter(f"cannot read {uuids_file}: {error.strerror}") from error
    if chosen:
        return {"uuids": chosen}
    search: dict[str, Any] = {"processName": process, "state": states or None}
    return {k: v for k, v in search.items() if v is not None}


@batch_app.command()
def create(
    operation: Annotated[str, typer.Argument(help="copyDataFrom, retry or terminate")],
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    process: Annotated[str | None, typer.Option(help="filter: process name")] = None,
    state: Annotated[list[str] | None, typer.Option(help="filter: state (repeat)")] = None,
    uuid: Annotated[list[str] | None, typer.Option(help="an instance (repeat)")] = None,
    uuids_file: Annotated[Path | None, typer.Option(help="a file of uuids, one a line")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="path=value: copy body or retry patch")
    ] = None,
    start_at: Annotated[str | None, typer.Option(help="copies start at this node")] = None,
    target_process: Annotated[str | None, typer.Option(help="copies start this process")] = None,
    reason: Annotated[str | None, typer.Option(help="terminate: why (audit log)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count and preview only")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="show progress until it ends")] = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    as_json: JsonOption = False,
) -> None:
    """Create a batch over a search (--process, --state) or explicit --uuid/--uuids-file."""
    body: dict[str, Any] = {
        "operation": operation,
        "filter": _filter(uuid or [], uuids_file, process, state or []),
        "body": patch_of(set_ or []) if reason is None else {"reason": reason},
        "processName": target_process,
        "query": {"startAt": start_at} if start_at else {},
        "dryRun": dry_run,
    }
    answer = post(url, token, _path(workspace), {k: v for k, v in body.items() if v is not None})
    if as_json and not wait:
        typer.echo(json.dumps(answer, indent=2))
        return
    if dry_run:
        _print_dry_run(answer)
        return
    typer.echo(f"batch {answer['id']} {answer['state']}: {answer['total']} items")
    if wait:
        _follow(url, token, workspace, answer, as_json)


def _print_dry_run(answer: dict[str, Any]) -> None:
    typer.echo(f"dry run: {answer['total']} items would be applied; nothing was changed")
    for sample in answer["samples"]:
        shown = sample["error"] or json.dumps(sample["data"]) if sample["data"] is not None else ""
        typer.echo(f"  {sample['sourceUuid']}  {sample['state'] or '-'}  {shown}".rstrip())


@batch_app.command()
def show(
    batch_id: str,
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="a progress bar to the end")
    ] = False,
    items: Annotated[bool, typer.Option("--items", help="list every item")] = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    as_json: JsonOption = False,
) -> None:
    """A batch's progress (and its failed items); --follow draws a progress bar."""
    batch = get(url, token, _path(workspace, batch_id))
    if follow:
        _follow(url, token, workspace, batch, as_json)
        return
    if as_json:
        typer.echo(json.dumps(batch, indent=2))
        return
    _print_progress(batch)
    _print_items(url, token, workspace, batch_id, None if items else "FAILED")
    _exit_for(batch)


def _print_progress(batch: dict[str, Any]) -> None:
    typer.echo(f"batch {batch['id']} {batch['operation']} {batch['state']}: "
               f"{batch['done']} done, {batch['failed']} failed of {batch['total']}")  # fmt: skip


def _print_items(url: str, token: str, workspace: str, batch_id: str, state: str | None) -> None:
    params: dict[str, Any] = {"limit": FAILED_SHOWN if state else 1000}
    if state:
        params["state"] = state
    found = get(url, token, _path(workspace, batch_id) + "/items", params)["content"]
    rows = [[str(i["seq"]), i["sourceUuid"], i["state"], i["resultUuid"] or "",
             (i["error"] or {}).get("message", "")] for i in found]  # fmt: skip
    if rows:
        typer.echo(table(rows, ["SEQ", "SOURCE", "STATE", "RESULT", "ERROR"]))


def _follow(url: str, token: str, workspace: str, batch: dict[str, Any], as_json: bool) -> None:
    finished = batch["done"] + batch["failed"]
    with typer.progressbar(length=max(batch["total"], 1), label="applying") as bar:
        bar.update(finished)
        while batch["state"] == "RUNNING":
            time.sleep(0.5)
            batch = get(url, token, _path(workspace, batch["id"]))
            now_finished = batch["done"] + batch["failed"]
            bar.update(now_finished - finished)
            finished = now_finished
    if as_json:
        typer.echo(json.dumps(batch, indent=2))
    else:
        _print_progress(batch)
        _print_items(url, token, workspace, batch["id"], "FAILED")
    _exit_for(batch)


def _exit_for(batch: dict[str, Any]) -> None:
    if batch["state"] != "RUNNING" and batch["failed"]:
        raise typer.Exit(ITEMS_FAILED)


@batch_app.command()
def cancel(batch_id: str, workspace: WorkspaceOption = DEFAULT_WORKSPACE,
           url: UrlOption = DEFAULT_URL, token: TokenOption = "",
           as_json: JsonOption = False) -> None:  # fmt: skip
    """Stop a running batch: applied items stay applied, the rest are not applied."""
    answer = post(url, token, _path(workspace, batch_id) + "/cancel", {})
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    else:
        _print_progress(answer)
