"""``procflow deploy --url``: upload a build to a running server (the admin role)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import typer

from procflow.cli.http import request


def deploy_over_http(
    url: str,
    token: str,
    workspace: UUID,
    app_id: UUID,
    files: dict[str, bytes],
    *,
    activate: bool,
    create: bool,
) -> None:
    if create:
        # 409: it exists already, which is what we want. 403: only a global admin creates
        # workspaces; a workspace admin's token goes on, and a missing workspace then
        # answers the app's creation with a clear 404.
        request("POST", url, token, "/api/admin/workspaces",
                body={"id": str(workspace), "name": str(workspace)}, accept=(403, 409))  # fmt: skip
        request("POST", url, token, f"/api/admin/wks/{workspace}/apps",
                body={"id": str(app_id), "name": str(app_id)}, accept=(409,))  # fmt: skip
    texts = {name: _text(name, data) for name, data in files.items()}
    build = request("POST", url, token, f"/api/admin/wks/{workspace}/app/{app_id}/builds",
                    body={"files": texts, "activate": activate})  # fmt: skip
    for warning in build.get("warnings", []):
        typer.echo(f"warning: {_placed(warning)}", err=True)
    names = ", ".join(d["name"] for d in build["processDefinitions"])
    state = "active" if build.get("active") else "not active"
    again = " (identical to an existing build)" if build.get("existing") else ""
    typer.echo(f"build {build['buildId']} ({state}, {build['checksum']}){again}: {names}")


def _placed(warning: dict[str, Any]) -> str:
    """A warning of the deploy answer, written as the local deploy writes it."""
    where = str(warning.get("file", ""))
    if warning.get("line") is not None:
        where += f":{warning['line']}"
    if warning.get("elementId") is not None:
        where += f" [{warning['elementId']}]"
    return f"{where}: {warning.get('message', '')}"


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        typer.echo(f"error: {name} is not UTF-8 text", err=True)
        raise typer.Exit(1) from error
