"""Talking to a running server for the CLI: one clear line and an exit code on any failure.

Exit codes scripts can rely on: 0 done, 1 the server refused (its problem is printed; a
rejected token says so), 2 bad usage, 3 the server could not be reached, 4 a batch finished
with failed items.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer

from procflow.config import DEMO_WORKSPACE_ID

DEFAULT_URL = "http://127.0.0.1:8080"
REFUSED, UNREACHABLE, ITEMS_FAILED = 1, 3, 4
TIMEOUT_SECONDS = 30

UrlOption = Annotated[
    str, typer.Option("--url", envvar="PROCFLOW_URL", help="the server's base URL")
]
TokenOption = Annotated[
    str, typer.Option("--token", envvar="PROCFLOW_TOKEN", help="a bearer token")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the server's JSON answer")]
WorkspaceOption = Annotated[
    str,
    typer.Option("--workspace", envvar="PROCFLOW_WORKSPACE", help="workspace id"),
]
DEFAULT_WORKSPACE = DEMO_WORKSPACE_ID


def request(
    method: str,
    url: str,
    token: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, Any] | None = None,
    accept: tuple[int, ...] = (),
) -> dict[str, Any]:
    """The JSON answer to ``method path``, or exit with one line saying what went wrong.
    Statuses in ``accept`` are answers too (e.g. 409 "exists already" while deploying)."""
    try:
        response = httpx.request(
            method,
            url.rstrip("/") + path,
            json=body,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as error:
        typer.echo(f"error: cannot reach {url}: {error}", err=True)
        raise typer.Exit(UNREACHABLE) from error
    answer = json_of(response)
    if response.is_error and response.status_code not in accept:
        refuse(response, answer)
    return answer


def refuse(response: httpx.Response, answer: dict[str, Any]) -> None:
    message = answer.get("message") or answer.get("title") or response.reason_phrase
    if response.status_code == 401:
        message = f"the server rejected the token ({message}); pass --token or PROCFLOW_TOKEN"
    typer.echo(f"error: {response.status_code} {message}", err=True)
    raise typer.Exit(REFUSED)


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {"content": value}


def get(url: str, token: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return request("GET", url, token, path, params=params)


def post(
    url: str, token: str, path: str, body: Any, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    return request("POST", url, token, path, body=body, params=params)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """Columns padded to their widest cell: for people (``--json`` is for scripts)."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [headers, *rows]]  # fmt: skip
    return "\n".join(lines)
