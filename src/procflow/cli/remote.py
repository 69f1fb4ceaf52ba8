"""Commands that act on a running server over its HTTP API (``--url`` and ``--token``, or
``PROCFLOW_URL`` and ``PROCFLOW_TOKEN``).

Exit codes: see ``cli/http.py`` (0 done, 1 refused, 2 bad usage, 3 unreachable).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from procflow.cli.http import (
    DEFAULT_URL,
    REFUSED,
    UNREACHABLE,
    JsonOption,
    TokenOption,
    UrlOption,
    get,
    post,
)

__all__ = ["DEFAULT_URL", "REFUSED", "UNREACHABLE", "instance_app", "post"]

instance_app = typer.Typer(
    help="Operate instances on a running server: terminate, hold, unhold, retry.",
    no_args_is_help=True,
)


def report(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    open_incidents = [i for i in answer.get("incidents", []) if i.get("resolvedAt") is None]
    line = f"{answer.get('uuid')}  {answer.get('state')}  {answer.get('processDefinitionName')}"
    if open_incidents:
        line += f"  open incidents: {', '.join(str(i['id']) for i in open_incidents)}"
    typer.echo(line)


def patch_of(assignments: list[str]) -> dict[str, Any]:
    """``--set a.b=1 --set c='"x"'``: each value is JSON (a bare word is taken as a string);
    dotted paths build nested objects, as a merge patch."""
    patch: dict[str, Any] = {}
    for assignment in assignments:
        path, sep, raw = assignment.partition("=")
        if not sep or not path:
            raise typer.BadParameter(f"expected path=value, got {assignment!r}", param_hint="--set")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        *parents, leaf = path.split(".")
        target = patch
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return patch


@instance_app.command()
def terminate(
    uuid: str,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    reason: Annotated[str, typer.Option(help="why, kept in the audit log")] = "",
    as_json: JsonOption = False,
) -> None:
    """Terminate an instance: its tokens end, its timers and tasks are cancelled."""
    report(post(url, token, f"/api/runtime/process/{uuid}/terminate", {"reason": reason}), as_json)


@instance_app.command()
def hold(uuid: str, url: UrlOption = DEFAULT_URL, token: TokenOption = "",
         as_json: JsonOption = False) -> None:  # fmt: skip
    """Put an instance on hold: nothing moves it until it is unheld."""
    report(post(url, token, f"/api/runtime/process/{uuid}/hold", {}), as_json)


@instance_app.command()
def unhold(uuid: str, url: UrlOption = DEFAULT_URL, token: TokenOption = "",
           as_json: JsonOption = False) -> None:  # fmt: skip
    """Let an instance on hold run again (timers that came due meanwhile fire now)."""
    report(post(url, token, f"/api/runtime/process/{uuid}/unhold", {}), as_json)


@instance_app.command()
def retry(
    uuid: str,
    incident: Annotated[int, typer.Option(help="the incident id (default: the open one)")] = 0,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="path=value merged into the data")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    as_json: JsonOption = False,
) -> None:
    """Retry a failed instance: merge the --set values, re-run the failed step."""
    patch = patch_of(set_ or [])
    incident_id = incident or _open_incident(url, token, uuid)
    path = f"/api/runtime/process/{uuid}/incidents/{incident_id}/retry"
    report(post(url, token, path, {"data": patch}), as_json)


def _open_incident(url: str, token: str, uuid: str) -> int:
    status = get(url, token, f"/api/runtime/process/{uuid}/status")
    open_ids = [i["id"] for i in status.get("incidents", []) if i.get("resolvedAt") is None]
    if len(open_ids) != 1:
        typer.echo(f"error: {len(open_ids)} open incidents; name one with --incident", err=True)
        raise typer.Exit(REFUSED)
    return int(open_ids[0])
