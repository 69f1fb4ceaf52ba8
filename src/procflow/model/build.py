"""Workspaces, apps and builds: the deployment units that definitions live in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid5


@dataclass(frozen=True)
class Workspace:
    id: UUID
    name: str


@dataclass(frozen=True)
class App:
    id: UUID
    workspace_id: UUID
    name: str


@dataclass(frozen=True)
class DefinitionSource:
    """One deployed definition: its text as uploaded, kept so a build can be re-parsed."""

    id: UUID
    name: str
    file_name: str
    text: str


BUILD_STATUS_COMMITTED = "COMMITTED"


@dataclass(frozen=True)
class Build:
    id: UUID
    workspace_id: UUID
    app_id: UUID
    checksum: str
    created_at: datetime
    definitions: tuple[DefinitionSource, ...]
    status: str = BUILD_STATUS_COMMITTED

    def definition_named(self, name: str) -> DefinitionSource | None:
        return next((d for d in self.definitions if d.name == name), None)


def build_checksum(files: dict[str, str]) -> str:
    """sha256 over the files sorted by name, so the same sources give the same checksum."""
    digest = hashlib.sha256()
    for name in sorted(files):
        for part in (name, files[name]):
            encoded = part.encode()
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
    return "sha256:" + digest.hexdigest()


# Stable ids FlowX clients keep across builds: derived, never stored, so every build of an
# app (past and future) gives a process, or a user-task action, the same id.
_STABLE_IDS = UUID("5f0c2d1e-7a4b-4c8e-9b1a-2d3e4f5a6b7c")


def resource_definition_id(app_id: UUID, process_name: str) -> UUID:
    """FlowX ``resourceDefinitionId``: the process's id across the app's builds."""
    return uuid5(_STABLE_IDS, f"{app_id}/{process_name}")


def ui_action_id(app_id: UUID, process_name: str, node_id: str, action: str) -> UUID:
    """FlowX ``uiActionFlowxUuid``: a user-task action's id across the app's builds."""
    return uuid5(_STABLE_IDS, f"{app_id}/{process_name}/{node_id}/{action}")
