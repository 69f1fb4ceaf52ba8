"""The demo workspace that ``procflow serve`` deploys on first start."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from uuid import UUID

from procflow.config import DEMO_APP_ID, DEMO_WORKSPACE_ID
from procflow.model.build import Build
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.store.port import Store

DEMO_WORKSPACE = UUID(DEMO_WORKSPACE_ID)
DEMO_APP = UUID(DEMO_APP_ID)
DEFINITION_SUFFIXES = (".yaml", ".yml", ".json", ".bpmn")


def demo_dir() -> Path:
    """``examples/loans`` of the source tree, or ``PROCFLOW_DEMO_DIR``."""
    configured = os.environ.get("PROCFLOW_DEMO_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "examples" / "loans"


def definition_files(directory: Path) -> dict[str, bytes]:
    return {
        path.name: path.read_bytes()
        for path in sorted(directory.iterdir())
        if path.suffix in DEFINITION_SUFFIXES
    }


def seed_demo(store: Store, now: datetime) -> Build | None:
    """Create the demo workspace, app and active build unless the workspace exists."""
    with store.transaction() as txn:
        if txn.get_workspace(DEMO_WORKSPACE) is not None:
            return None
    directory = demo_dir()
    if not directory.is_dir():
        return None
    deploy.create_workspace(store, SYSTEM, "demo", DEMO_WORKSPACE)
    deploy.create_app(store, SYSTEM, DEMO_WORKSPACE, "loans", DEMO_APP)
    return deploy.deploy_build(
        store,
        SYSTEM,
        DEMO_WORKSPACE,
        DEMO_APP,
        definition_files(directory),
        activate=True,
        now=now,
    )
