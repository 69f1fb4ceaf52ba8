"""What a batch is asked to do: the operation, its parameters, and which instances.

A spec is saved with the batch as a JSON document, so that the worker that runs a slice,
in any process and after any restart, applies exactly what the caller asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from procflow.model.data import JsonObject
from procflow.runtime.copying import CopySpec
from procflow.runtime.throttle import ThrottleSettings
from procflow.store.port import InstanceQuery

# At most this many instances in one batch (API.md); more answers 400 with the count.
MAX_BATCH_ITEMS = 100_000


class BatchOperation(StrEnum):
    COPY = "copyDataFrom"
    RETRY = "retry"
    TERMINATE = "terminate"


class BatchState(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class ItemState(StrEnum):
    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


@dataclass(frozen=True)
class BatchSpec:
    operation: BatchOperation
    # copyDataFrom: merged on top of each copy; retry: the data patch; terminate: {"reason"}.
    body: JsonObject = field(default_factory=dict)
    # copyDataFrom: where each copy starts; by default the source's own app and process.
    app_id: UUID | None = None
    process_name: str | None = None
    params_to_copy: tuple[str, ...] | None = None
    without_params: tuple[str, ...] = ()
    start_at: str | None = None

    def copy_of(self, source_uuid: UUID) -> CopySpec:
        return CopySpec(source_uuid, self.params_to_copy, self.without_params, self.start_at)

    def to_document(self) -> dict[str, Any]:
        return {
            "operation": self.operation.value,
            "body": self.body,
            "appId": str(self.app_id) if self.app_id else None,
            "processName": self.process_name,
            "paramsToCopy": list(self.params_to_copy) if self.params_to_copy is not None else None,
            "withoutParams": list(self.without_params),
            "startAt": self.start_at,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> BatchSpec:
        to_copy = doc.get("paramsToCopy")
        return cls(
            operation=BatchOperation(doc["operation"]),
            body=doc.get("body") or {},
            app_id=UUID(doc["appId"]) if doc.get("appId") else None,
            process_name=doc.get("processName"),
            params_to_copy=tuple(to_copy) if to_copy is not None else None,
            without_params=tuple(doc.get("withoutParams") or ()),
            start_at=doc.get("startAt"),
        )


@dataclass(frozen=True)
class BatchFilter:
    """Either a search (the instance search's parameters) or an explicit list of uuids."""

    query: InstanceQuery | None = None
    uuids: tuple[UUID, ...] | None = None

    def describe(self) -> dict[str, Any]:
        if self.uuids is not None:
            return {"uuids": len(self.uuids)}
        assert self.query is not None
        q = self.query
        return {
            "processName": q.definition_name,
            "state": [s.value for s in q.states],
            "createdFrom": q.created_from.isoformat() if q.created_from else None,
            "createdTo": q.created_to.isoformat() if q.created_to else None,
            "lineageRootUuid": str(q.lineage_root_uuid) if q.lineage_root_uuid else None,
        }


@dataclass(frozen=True)
class BatchRequest:
    workspace_id: UUID
    spec: BatchSpec
    filter: BatchFilter
    dry_run: bool = False


@dataclass(frozen=True)
class BatchSettings:
    """How big a batch may be and how gently the worker applies it: ``slice_size`` items per
    transaction, and a rest after each slice that the throttle (``runtime/throttle.py``)
    decides from the rate cap, the duty cycle and the contention it measured, so that live
    traffic keeps its latency while a batch runs (docs/operations.md)."""

    slice_size: int = 50
    items_per_second: float = 500.0
    max_items: int = MAX_BATCH_ITEMS
    # Chains of slices that run side by side (on as many workers), taking different items.
    lanes: int = 2
    # How much lower (in nice steps) a slice's thread runs than the rest of the worker.
    nice: int = 10
    # The most of its time a lane keeps its worker and connection busy (1: no cap).
    duty_cycle: float = 1.0
    # How far the contention back-off may divide the duty cycle (1: no back-off), and how
    # much slower than its best a slice's items must be to count as contended.
    max_slowdown: float = 4.0
    contention_tolerance: float = 1.0

    @property
    def throttle(self) -> ThrottleSettings:
        return ThrottleSettings(
            self.items_per_second, self.duty_cycle, self.max_slowdown, self.contention_tolerance
        )
