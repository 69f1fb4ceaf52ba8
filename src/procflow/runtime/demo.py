"""The demo workspace that ``procflow serve`` deploys on first start."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from uuid import UUID

from procflow.config import DEMO_APP_ID, DEMO_WORKSPACE_ID
from procflow.model.build import App, Build, Workspace
from procflow.runtime import deploy, timer_starts
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
    """Create the demo workspace, app and active build unless the workspace exists.

    All of it is written in one transaction, so a replica killed half-way leaves nothing
    rather than a demo workspace without a build. Replicas starting together may all find
    no demo and all try: one insert wins, the others roll back and find it seeded.
    """
    if _is_seeded(store):
        return None
    directory = demo_dir()
    if not directory.is_dir():
        return None
    build = deploy.new_build(DEMO_WORKSPACE, DEMO_APP, definition_files(directory), now)
    try:
        with store.transaction() as txn:
            if txn.get_workspace(DEMO_WORKSPACE) is not None:
                return None
            txn.insert_workspace(Workspace(DEMO_WORKSPACE, "demo"))
            txn.insert_app(App(DEMO_APP, DEMO_WORKSPACE, "loans"))
            txn.insert_build(build)
            timer_starts.activate(txn, build, now)
    except Exception:
        # The store's own error type (a unique violation) is not part of the port: what
        # matters is whether a concurrent seeder committed the demo.
        if _is_seeded(store):
            return None
        raise
    return build


def _is_seeded(store: Store) -> bool:
    with store.transaction() as txn:
        return txn.get_workspace(DEMO_WORKSPACE) is not None
