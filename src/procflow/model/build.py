"""Workspaces, apps and builds: the deployment units that definitions live in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


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
