"""What ``procflow serve`` prints: where it listens, a dev token and curl lines to paste."""

from __future__ import annotations

from datetime import timedelta

import typer

from procflow.config import DEMO_APP_ID, DEMO_WORKSPACE_ID
from procflow.runtime.access import Role
from procflow.runtime.tokens import TokenIssuer

# Pulls one field out of a JSON answer with the python3 that runs procflow (no jq needed).
_PICK = "python3 -c 'import sys,json; print(json.load(sys.stdin){})'"


def walkthrough(base: str, token: str) -> str:
    app = f"{base}/api/runtime/wks/{DEMO_WORKSPACE_ID}/app/{DEMO_APP_ID}"
    auth = '-H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json"'
    token_pick = _PICK.format('["tokens"][0]["uuid"]')
    return f"""
  export TOKEN={token}
  export APP={app}

  # 1. start a loan application; it waits for an underwriter
  ID=$(curl -s -X POST $APP/process-name/loan_application/start {auth} \\
    -d '{{"applicant": {{"name": "Ada", "income": 5000}}, "loan": {{"amount": 12000}}}}' \\
    | {_PICK.format('["uuid"]')}); echo $ID

  # 2. look at its data and state
  curl -s {base}/api/runtime/process/$ID/data -H "Authorization: Bearer $TOKEN"
  curl -s {base}/api/runtime/process/$ID/status -H "Authorization: Bearer $TOKEN"

  # 3. approve it (execute the user task's action)
  TK=$(curl -s {base}/api/runtime/process/$ID/status -H "Authorization: Bearer $TOKEN" \\
    | {token_pick})
  curl -s -X POST {base}/api/runtime/process/$ID/token/$TK/action/approve/execute {auth} \\
    -d '{{"decision": {{"by": "sam"}}}}'

  # 4. start a new instance with the data copied from the first, a body merged on top
  COPY=$(curl -s -X POST $APP/process-name/loan_application/start/copyDataFrom/$ID {auth} \\
    -d '{{"retryReason": "manual-rerun"}}' | {_PICK.format('["uuid"]')}); echo $COPY

  # 5. see the copy chain
  curl -s {base}/api/runtime/process/$COPY/lineage -H "Authorization: Bearer $TOKEN"
"""


def print_banner(issuer: TokenIssuer, host: str, port: int, *, demo: bool) -> None:
    base = f"http://{host}:{port}"
    typer.echo(f"Procflow listening on {base}  (API docs: {base}/docs, console: {base}/console/)")
    if not demo:
        return
    token = issuer.mint("demo", {DEMO_WORKSPACE_ID: frozenset(Role)}, timedelta(hours=12))
    typer.echo(
        f"\nDemo workspace {DEMO_WORKSPACE_ID}, app {DEMO_APP_ID} (loan_application)."
        f"\nA dev token valid 12 hours is below; mint more with"
        f" `procflow token --workspace {DEMO_WORKSPACE_ID}`. Sign in to {base}/console/ with it,"
        f" or paste these lines:"
    )
    typer.echo(walkthrough(base, token))
