"""Workspaces, apps and builds: creating them and deploying definition files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from procflow.model.build import App, Build, DefinitionSource, Workspace, build_checksum
from procflow.model.call_graph import call_problems
from procflow.model.definition import ProcessDefinition
from procflow.model.errors import (
    BuildAlreadyExists,
    BuildNotFound,
    ConflictError,
    DefinitionInvalid,
    DefinitionProblem,
    WorkspaceNotFound,
)
from procflow.model.formats import definition_text, parse_definition_file
from procflow.runtime import timer_starts
from procflow.runtime.access import Principal, Role
from procflow.runtime.catalog import check_app_in_workspace
from procflow.store.port import Store, StoreTxn


def create_workspace(
    store: Store, principal: Principal, name: str, workspace_id: UUID | None = None
) -> Workspace:
    principal.require_global_admin()
    workspace = Workspace(workspace_id or uuid4(), name)
    with store.transaction() as txn:
        if txn.get_workspace(workspace.id) is not None:
            raise ConflictError("A workspace with this id already exists.")
        txn.insert_workspace(workspace)
    return workspace


def create_app(
    store: Store, principal: Principal, workspace_id: UUID, name: str, app_id: UUID | None = None
) -> App:
    principal.require(workspace_id, Role.ADMIN, WorkspaceNotFound())
    app = App(app_id or uuid4(), workspace_id, name)
    with store.transaction() as txn:
        if txn.get_workspace(workspace_id) is None:
            raise WorkspaceNotFound(workspaceId=str(workspace_id))
        existing = txn.get_app(app.id)
        if existing is not None:
            _raise_taken(principal, existing.workspace_id, ConflictError(APP_EXISTS))
        txn.insert_app(app)
    return app


APP_EXISTS = "An app with this id already exists."


def _raise_taken(principal: Principal, owner: UUID, conflict: ConflictError) -> None:
    """An id taken in a workspace the caller cannot see answers exactly what any request
    into such a workspace answers, so that ids never reveal another workspace's content."""
    if not principal.sees(owner):
        raise WorkspaceNotFound()
    raise conflict


def parse_build_files(files: Mapping[str, bytes]) -> tuple[DefinitionSource, ...]:
    """Validate every file; report the problems of all files together, then fail."""
    return read_build_files(files).sources


@dataclass(frozen=True)
class ReadBuild:
    sources: tuple[DefinitionSource, ...]
    # What deploys but may not run as drawn (``ProcessDefinition.warnings``), file by file.
    warnings: tuple[DefinitionProblem, ...] = ()


def read_build_files(files: Mapping[str, bytes]) -> ReadBuild:
    """``parse_build_files``, with the definitions' deploy warnings."""
    problems: list[DefinitionProblem] = []
    warnings: list[DefinitionProblem] = []
    sources: list[DefinitionSource] = []
    seen: dict[str, str] = {}
    deployed: list[tuple[ProcessDefinition, str]] = []
    for file_name in sorted(files):
        try:
            # Parsed from the text as stored, so a later load reads exactly what was checked.
            text = definition_text(files[file_name], file_name)
            definitions = parse_definition_file(text.encode(), file_name)
        except DefinitionInvalid as error:
            problems.extend(error.problems)
            continue
        for definition in definitions:
            if definition.name in seen:
                problems.append(
                    DefinitionProblem(
                        file_name,
                        f"process name {definition.name!r} is already defined in "
                        f"{seen[definition.name]}",
                    )
                )
            seen[definition.name] = file_name
            deployed.append((definition, file_name))
            sources.append(DefinitionSource(uuid4(), definition.name, file_name, text))
            warnings.extend(definition.warnings)
    if not problems:  # a file that failed to parse would make its processes look missing
        problems.extend(call_problems(deployed))
    if not files:
        problems.append(DefinitionProblem("(build)", "a build needs at least one file"))
    if problems:
        raise DefinitionInvalid(problems)
    return ReadBuild(tuple(sources), tuple(warnings))


def new_build(
    workspace_id: UUID,
    app_id: UUID,
    files: Mapping[str, bytes],
    now: datetime,
    build_id: UUID | None = None,
) -> Build:
    """A validated, checksummed build of ``files``; nothing is written."""
    return _new_build(workspace_id, app_id, files, now, build_id)[0]


def _new_build(
    workspace_id: UUID,
    app_id: UUID,
    files: Mapping[str, bytes],
    now: datetime,
    build_id: UUID | None,
) -> tuple[Build, tuple[DefinitionProblem, ...]]:
    read = read_build_files(files)
    texts = {name: definition_text(data, name) for name, data in files.items()}
    checksum = build_checksum(texts)
    return Build(
        build_id or uuid4(), workspace_id, app_id, checksum, now, read.sources
    ), read.warnings


def deploy_build(
    store: Store,
    principal: Principal,
    workspace_id: UUID,
    app_id: UUID,
    files: Mapping[str, bytes],
    *,
    activate: bool,
    now: datetime,
    build_id: UUID | None = None,
) -> Build:
    return deploy_or_reuse(
        store, principal, workspace_id, app_id, files, activate=activate, now=now,
        build_id=build_id,
    ).build  # fmt: skip


@dataclass(frozen=True)
class Deployed:
    build: Build
    # True when an identical build (same checksum) of the app existed and was answered.
    existing: bool = False
    # Deployed, but told: what may not run as the modeler meant.
    warnings: tuple[DefinitionProblem, ...] = ()


def deploy_or_reuse(
    store: Store,
    principal: Principal,
    workspace_id: UUID,
    app_id: UUID,
    files: Mapping[str, bytes],
    *,
    activate: bool,
    now: datetime,
    build_id: UUID | None = None,
) -> Deployed:
    """Deploy ``files``; the same files deployed again answer the app's existing build
    (activated if asked) instead of a duplicate, unless a new ``build_id`` is named."""
    principal.require(workspace_id, Role.ADMIN, WorkspaceNotFound())
    build, warnings = _new_build(workspace_id, app_id, files, now, build_id)
    with store.transaction() as txn:
        check_app_in_workspace(txn, workspace_id, app_id)
        same = txn.find_build_by_checksum(app_id, build.checksum) if build_id is None else None
        if same is not None:
            existing_build = _require_build_of_app(txn, app_id, same)
            if activate:
                timer_starts.activate(txn, existing_build, now)
            return Deployed(existing_build, existing=True, warnings=warnings)
        existing = txn.get_build(build.id)
        if existing is not None:
            _raise_taken(
                principal, existing.workspace_id, BuildAlreadyExists(buildId=str(build.id))
            )
        txn.insert_build(build)
        if activate:
            timer_starts.activate(txn, build, now)
    return Deployed(build, warnings=warnings)


def activate_build(
    store: Store,
    principal: Principal,
    workspace_id: UUID,
    app_id: UUID,
    build_id: UUID,
    now: datetime,
) -> None:
    principal.require(workspace_id, Role.ADMIN, WorkspaceNotFound())
    with store.transaction() as txn:
        check_app_in_workspace(txn, workspace_id, app_id)
        build = _require_build_of_app(txn, app_id, build_id)
        timer_starts.activate(txn, build, now)


def _require_build_of_app(txn: StoreTxn, app_id: UUID, build_id: UUID) -> Build:
    build = txn.get_build(build_id)
    if build is None or build.app_id != app_id:
        raise BuildNotFound(buildId=str(build_id))
    return build
