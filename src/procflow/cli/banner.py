"""What ``procflow serve`` prints: where it listens, a dev token and curl lines to paste."""

from __future__ import annotations

from datetime import timedelta

import typer

from procflow.config import DEMO_APP_ID, DEMO_WORKSPACE_ID
from procflow.runtime.access import Role
from procflow.runtime.tokens import TokenIssuer


def print_banner(issuer: TokenIssuer, host: str, port: int, *, demo: bool) -> None:
    base = f"http://{host}:{port}"
    typer.echo(f"Procflow listening on {base}  (API docs: {base}/docs)")
    if not demo:
        return
    token = issuer.mint("demo", {DEMO_WORKSPACE_ID: frozenset(Role)}, timedelta(hours=12))
    start = (
        f"{base}/api/runtime/wks/{DEMO_WORKSPACE_ID}/app/{DEMO_APP_ID}"
        "/process-name/loan_application/start"
    )
    body = '{"applicant": {"name": "Ada", "income": 5000}, "loan": {"amount": 12000}}'
    typer.echo(f"""
Demo workspace {DEMO_WORKSPACE_ID}, app {DEMO_APP_ID} (loan_application).
A dev token, valid 12 hours (mint more: procflow token --workspace {DEMO_WORKSPACE_ID}):

  export TOKEN={token}

Start a loan application:

  curl -s -X POST {start} \\
    -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
    -d '{body}'

Then follow the walk-through in README.md (data, action, copyDataFrom, lineage).
""")
