"""Who may do what: a principal's roles per workspace.

Visibility and permission are different questions. A principal with no role at all in a
workspace must not learn that anything there exists, so callers answer "not found"; a
principal that sees the workspace but lacks the role gets "forbidden".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from procflow.model.errors import Forbidden, NotFoundError

ANY_WORKSPACE = "*"


class Role(StrEnum):
    START = "start"
    READ = "read"
    ACTION = "action"
    # Terminate, hold, unhold, retry incidents (and batches).
    OPERATE = "operate"
    # Fetch, lock, complete and fail external tasks.
    WORKER = "worker"
    # Implies every other role.
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    subject: str
    # Workspace uuid (as text) or ANY_WORKSPACE -> roles there.
    roles: Mapping[str, frozenset[Role]]
    # When the credential that proved this principal stops being valid (Unix time), if known.
    expires_at: float | None = None

    def roles_in(self, workspace_id: UUID) -> frozenset[Role]:
        return self.roles.get(str(workspace_id), frozenset()) | self.roles.get(
            ANY_WORKSPACE, frozenset()
        )

    def sees(self, workspace_id: UUID) -> bool:
        return bool(self.roles_in(workspace_id))

    def may(self, workspace_id: UUID, role: Role) -> bool:
        roles = self.roles_in(workspace_id)
        return role in roles or Role.ADMIN in roles

    def require(self, workspace_id: UUID, role: Role, hidden: NotFoundError) -> None:
        """Raise ``hidden`` when the workspace is invisible, ``Forbidden`` without the role."""
        if not self.sees(workspace_id):
            raise hidden
        if not self.may(workspace_id, role):
            raise Forbidden(role=role.value)

    def require_global_admin(self) -> None:
        if Role.ADMIN not in self.roles.get(ANY_WORKSPACE, frozenset()):
            raise Forbidden(role=Role.ADMIN.value, workspace=ANY_WORKSPACE)


SYSTEM = Principal("system", {ANY_WORKSPACE: frozenset(Role)})
