"""What every service needs: the store, the definition catalog and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from procflow.model.limits import DEFAULT_LIMITS, DataLimits
from procflow.runtime.batch_spec import BatchSettings
from procflow.runtime.catalog import Catalog
from procflow.store.port import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RuntimeContext:
    store: Store
    catalog: Catalog = field(default_factory=Catalog)
    clock: Callable[[], datetime] = utc_now
    # How often a command is retried when another writer saved the instance first.
    max_conflict_retries: int = 5
    # What every saved instance document must satisfy (PROCFLOW_MAX_DATA_BYTES, nesting).
    data_limits: DataLimits = DEFAULT_LIMITS
    # How fast this process's worker applies batches (PROCFLOW_BATCH_*).
    batches: BatchSettings = field(default_factory=BatchSettings)
    # How deep call activities may nest (PROCFLOW_MAX_CALL_DEPTH): the root is depth 0.
    max_call_depth: int = 50
