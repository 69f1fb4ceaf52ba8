"""Builds and their parsed definitions, read through a cache.

Builds are immutable once stored, so a build id always maps to the same definitions and
each definition is parsed and CEL-compiled once per process. Only the *active build*
pointer changes: reads that show it (queries) read it from the store; starts take it from a
cache and their insert checks, in the same statement, that it is still the active one
(``StoreTxn.insert_instance(while_active=True)``); when it is not, the start forgets the
entry and runs again. That holds across replicas with no notification between them.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Generic, TypeVar
from uuid import UUID

from procflow.model.build import Build, DefinitionSource
from procflow.model.definition import ProcessDefinition
from procflow.model.errors import (
    AppNotFound,
    BuildNotFound,
    DefinitionInvalid,
    DefinitionProblem,
    NoActiveBuild,
    ProcessDefinitionNotFound,
    WorkspaceNotFound,
)
from procflow.model.formats import parse_definition_file
from procflow.store.port import StoreTxn


@dataclass(frozen=True)
class ResolvedDefinition:
    build: Build
    source: DefinitionSource
    definition: ProcessDefinition


def parse_source(source: DefinitionSource) -> ProcessDefinition:
    for definition in parse_definition_file(source.text.encode(), source.file_name):
        if definition.name == source.name:
            return definition
    problem = DefinitionProblem(source.file_name, f"no process named {source.name!r}")
    raise DefinitionInvalid([problem])


K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value
            if len(self._entries) > self._capacity:
                self._entries.popitem(last=False)


class Catalog:
    def __init__(self, capacity: int = 512) -> None:
        self._builds: _Lru[UUID, Build] = _Lru(capacity)
        self._definitions: _Lru[UUID, ProcessDefinition] = _Lru(capacity * 4)
        # app id -> its workspace, once seen in the store. Apps never move to another
        # workspace and are never deleted, so a confirmed membership stays true; this saves
        # two queries on every start.
        self._app_workspaces: _Lru[UUID, UUID] = _Lru(capacity * 4)
        # (workspace, app) -> the build last read as active; checked by every start's insert.
        self._active_builds: _Lru[tuple[UUID, UUID], UUID] = _Lru(capacity * 4)

    def build(self, txn: StoreTxn, build_id: UUID) -> Build:
        build = self._builds.get(build_id)
        if build is None:
            build = txn.get_build(build_id)
            if build is None:
                # No details: a build of a workspace the caller cannot see answers this very
                # body too (runtime/starting.py), and the two must not differ.
                raise BuildNotFound()
            self._builds.put(build_id, build)
        return build

    def definition(self, source: DefinitionSource) -> ProcessDefinition:
        definition = self._definitions.get(source.id)
        if definition is None:
            definition = parse_source(source)
            self._definitions.put(source.id, definition)
        return definition

    def resolve(self, build: Build, process_name: str) -> ResolvedDefinition:
        source = build.definition_named(process_name)
        if source is None:
            raise ProcessDefinitionNotFound(processName=process_name)
        return ResolvedDefinition(build, source, self.definition(source))

    def definition_in(self, build: Build, definition_id: UUID) -> ProcessDefinition:
        source = next(d for d in build.definitions if d.id == definition_id)
        return self.definition(source)

    def active_build(self, txn: StoreTxn, workspace_id: UUID, app_id: UUID) -> Build:
        if self._app_workspaces.get(app_id) != workspace_id:
            check_app_in_workspace(txn, workspace_id, app_id)
            self._app_workspaces.put(app_id, workspace_id)
        build_id = txn.get_active_build_id(workspace_id, app_id)
        if build_id is None:
            raise NoActiveBuild(appId=str(app_id))
        return self.build(txn, build_id)

    def cached_active_build(self, txn: StoreTxn, workspace_id: UUID, app_id: UUID) -> Build:
        """``active_build`` from the cache, for a start whose insert re-checks it."""
        build_id = self._active_builds.get((workspace_id, app_id))
        if build_id is not None and self._app_workspaces.get(app_id) == workspace_id:
            return self.build(txn, build_id)
        build = self.active_build(txn, workspace_id, app_id)
        self._active_builds.put((workspace_id, app_id), build.id)
        return build

    def forget_active_build(self, workspace_id: UUID, app_id: UUID) -> None:
        self._active_builds.discard((workspace_id, app_id))

    def pinned_build(self, txn: StoreTxn, app_id: UUID, build_id: UUID) -> Build:
        build = self.build(txn, build_id)
        if build.app_id != app_id:
            raise BuildNotFound()
        return build


def check_app_in_workspace(txn: StoreTxn, workspace_id: UUID, app_id: UUID) -> None:
    if txn.get_workspace(workspace_id) is None:
        raise WorkspaceNotFound(workspaceId=str(workspace_id))
    app = txn.get_app(app_id)
    if app is None or app.workspace_id != workspace_id:
        raise AppNotFound(appId=str(app_id))
