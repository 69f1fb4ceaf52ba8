"""copyDataFrom: the data a new instance inherits from an existing one.

The source is read inside the starting transaction, so the copy is the source's committed
data at that moment (never a half-written step). The source is only read, never written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from procflow.model.data import JsonObject, merge_patch, narrowed
from procflow.model.errors import ProcessInstanceNotFound
from procflow.model.instance import Lineage, ProcessInstance
from procflow.runtime.access import Principal, Role
from procflow.store.port import StoreTxn


@dataclass(frozen=True)
class CopySpec:
    source_uuid: UUID
    # None copies everything; otherwise only these dotted paths.
    params_to_copy: tuple[str, ...] | None = None
    without_params: tuple[str, ...] = ()
    # Resume downstream: the copy starts with one token at this node, not at a start node.
    start_at: str | None = None

    def as_request_part(self) -> dict[str, Any]:
        part: dict[str, Any] = {
            "source": str(self.source_uuid),
            "paramsToCopy": list(self.params_to_copy) if self.params_to_copy is not None else None,
            "withoutParams": list(self.without_params),
        }
        if self.start_at is not None:
            # Only when given, so that keys stored before startAt existed still match.
            part["startAt"] = self.start_at
        return part


def read_source(
    txn: StoreTxn, principal: Principal, workspace_id: UUID, spec: CopySpec
) -> ProcessInstance:
    """The source instance, or the same 404 whether it is missing, foreign or unreadable."""
    source = txn.get_instance(spec.source_uuid)
    if source is None or source.workspace_id != workspace_id:
        raise ProcessInstanceNotFound()
    if not principal.may(workspace_id, Role.READ):
        raise ProcessInstanceNotFound()
    return source


def copied_data(source: ProcessInstance, spec: CopySpec, body: JsonObject) -> JsonObject:
    data = narrowed(source.data, spec.params_to_copy, spec.without_params)
    merged: JsonObject = merge_patch(data, body)
    return merged


def lineage_of_copy(source: ProcessInstance) -> Lineage:
    root = source.lineage.lineage_root_uuid or source.uuid
    return Lineage(copied_from_uuid=source.uuid, lineage_root_uuid=root)
