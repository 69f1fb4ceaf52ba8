"""``procflow instances ...``: look at instances on a running server, copy and operate them."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from procflow.cli import remote
from procflow.cli.http import (
    DEFAULT_URL,
    DEFAULT_WORKSPACE,
    JsonOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    get,
    post,
    table,
)

instances_app = typer.Typer(
    help="Instances on a running server: list, show, audit, copy, terminate, hold, retry.",
    no_args_is_help=True,
)
for _command in (remote.terminate, remote.hold, remote.unhold, remote.retry):
    instances_app.command()(_command)

# An instance in one of these states never writes another audit event by itself.
SETTLED = {"FINISHED", "TERMINATED", "DISMISSED", "EXPIRED"}
AUDIT_TAIL = 5

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="path=value merged into the data (repeat; values are JSON)"),
]


def _echo_json(answer: Any) -> None:
    typer.echo(json.dumps(answer, indent=2))


@instances_app.command("list")
def list_instances(
    workspace: WorkspaceOption = DEFAULT_WORKSPACE,
    process: Annotated[str | None, typer.Option(help="process name")] = None,
    state: Annotated[list[str] | None, typer.Option(help="instance state (repeat)")] = None,
    created_from: Annotated[str | None, typer.Option(help="ISO 8601, inclusive")] = None,
    created_to: Annotated[str | None, typer.Option(help="ISO 8601, exclusive")] = None,
    lineage_root: Annotated[str | None, typer.Option(help="a lineage root uuid")] = None,
    parent: Annotated[str | None, typer.Option(help="children of this instance (calls)")] = None,
    root: Annotated[str | None, typer.Option(help="the call tree below this root")] = None,
    limit: Annotated[int, typer.Option(help="how many (one page)")] = 50,
    cursor: Annotated[str | None, typer.Option(help="the page after this cursor")] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    as_json: JsonOption = False,
) -> None:
    """Search instances: a table, oldest first; the next page's cursor at the end."""
    params = {"processName": process, "state": state or None, "createdFrom": created_from,
              "createdTo": created_to, "lineageRootUuid": lineage_root, "limit": limit,
              "parentProcessInstanceUuid": parent, "rootProcessInstanceUuid": root,
              "cursor": cursor}  # fmt: skip
    query = {k: v for k, v in params.items() if v is not None}
    answer = get(url, token, f"/api/runtime/wks/{workspace}/process-instances", query)
    if as_json:
        _echo_json(answer)
        return
    rows = [[str(i["processInstanceId"]), i["uuid"], i["processDefinitionName"], i["state"],
             i["createdAt"][:19]] for i in answer["content"]]  # fmt: skip
    typer.echo(table(rows, ["ID", "UUID", "PROCESS", "STATE", "CREATED"]))
    if answer.get("nextCursor"):
        typer.echo(f"more: --cursor {answer['nextCursor']}")


@instances_app.command()
def show(uuid: str, url: UrlOption = DEFAULT_URL, token: TokenOption = "",
         as_json: JsonOption = False) -> None:  # fmt: skip
    """State, tokens, incidents and the last audit events of one instance."""
    status = get(url, token, f"/api/runtime/process/{uuid}/status")
    events = get(url, token, f"/api/runtime/process/{uuid}/audit")["events"]
    if as_json:
        _echo_json({"status": status, "audit": events[-AUDIT_TAIL:]})
        return
    meta = status["instanceMetadata"]
    typer.echo(table([
        ["uuid", status["uuid"]],
        ["process", f"{status['processDefinitionName']} (build {status['buildId']})"],
        ["state", status["state"]],
        ["created", status["createdAt"]],
        ["updated", status["updatedAt"]],
        ["copied from", meta.get("copiedFromUuid") or "-"],
        ["called by", meta.get("parentProcessInstanceUuid") or "-"],
    ], ["", ""]).split("\n", 1)[1])  # fmt: skip
    tokens = [[str(t["id"]), t["currentNodeId"], t["state"], t["statusCurrentNode"], t["uuid"]]
              for t in status["tokens"]]  # fmt: skip
    _show_section("tokens", tokens)
    incidents = [[str(i["id"]), i.get("type", ""), i.get("nodeId") or "",
                  "open" if i.get("resolvedAt") is None else "resolved", i.get("message", "")]
                 for i in status.get("incidents", [])]  # fmt: skip
    _show_section("incidents", incidents)
    children = [[c["uuid"], c["name"], c["state"]] for c in status.get("children", [])]
    _show_section("children", children)
    typer.echo(f"audit (last {min(AUDIT_TAIL, len(events))} of {len(events)}):")
    for event in events[-AUDIT_TAIL:]:
        typer.echo("  " + _audit_line(event))


def _show_section(title: str, rows: list[list[str]]) -> None:
    typer.echo(f"{title}:" + ("" if rows else " none"))
    if rows:
        lines = table(rows, [""] * len(rows[0])).split("\n")[1:]
        typer.echo("\n".join("  " + line for line in lines))


def _audit_line(event: dict[str, Any]) -> str:
    details = json.dumps(event["details"], separators=(",", ":")) if event["details"] else ""
    node = event["nodeId"] or "-"
    return f"{event['seq']:>6}  {event['at'][:23]}  {event['type']:<22} {node}  {details}".rstrip()


@instances_app.command()
def audit(
    uuid: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep printing new events")
    ] = False,
    interval: Annotated[float, typer.Option(help="seconds between polls with --follow")] = 1.0,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    as_json: JsonOption = False,
) -> None:
    """The instance's audit log; with --follow, new events as they come, until the instance
    is settled (finished, terminated, dismissed, expired) or Ctrl-C."""
    last_seq = 0
    while True:
        events = get(url, token, f"/api/runtime/process/{uuid}/audit")["events"]
        for event in (e for e in events if e["seq"] > last_seq):
            typer.echo(json.dumps(event) if as_json else _audit_line(event))
            last_seq = event["seq"]
        if not follow or _settled(url, token, uuid):
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


def _settled(url: str, token: str, uuid: str) -> bool:
    return get(url, token, f"/api/runtime/process/{uuid}/status")["state"] in SETTLED


@instances_app.command()
def copy(
    uuid: str,
    set_: SetOption = None,
    start_at: Annotated[str | None, typer.Option(help="start at this node (resume)")] = None,
    process: Annotated[str | None, typer.Option(help="process to start (default: same)")] = None,
    app: Annotated[str | None, typer.Option(help="app to start in (default: same)")] = None,
    params_to_copy: Annotated[
        str | None, typer.Option(help="copy only these paths (a,b.c)")
    ] = None,
    without_params: Annotated[str | None, typer.Option(help="copy all but these paths")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the data, start nothing")
    ] = False,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    as_json: JsonOption = False,
) -> None:
    """Start a new instance with this one's data, --set values merged on top (copyDataFrom)."""
    source = get(url, token, f"/api/runtime/process/{uuid}/status")
    path = (f"/api/runtime/wks/{source['workspaceId']}/app/{app or source['applicationId']}"
            f"/process-name/{process or source['processDefinitionName']}"
            f"/start/copyDataFrom/{uuid}")  # fmt: skip
    params = {"startAt": start_at, "paramsToCopy": params_to_copy,
              "withoutParams": without_params, "dryRun": "true" if dry_run else None}  # fmt: skip
    answer = post(url, token, path, remote.patch_of(set_ or []),
                  {k: v for k, v in params.items() if v is not None})  # fmt: skip
    if as_json or dry_run:
        _echo_json(answer)
        return
    remote.report(answer, as_json=False)
