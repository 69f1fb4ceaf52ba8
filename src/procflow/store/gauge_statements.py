"""The read-only aggregates behind the store-backed gauges of ``/metrics``.

Kept apart from ``statements`` because they read only columns that every schema version
keeps (instances' ``definition_name`` and ``state``, jobs' ``kind`` and ``run_at``).
"""

from __future__ import annotations

from sqlalchemy import bindparam, case, func, select

from procflow.model.states import FINAL_INSTANCE_STATES
from procflow.store.schema import jobs, process_instances

_pi = process_instances.c
_j = jobs.c

COUNT_LIVE_INSTANCES = (
    select(_pi.definition_name, _pi.state, func.count())
    .where(_pi.state.not_in([s.value for s in FINAL_INSTANCE_STATES]))
    .group_by(_pi.definition_name, _pi.state)
)

JOB_QUEUE_STATS = select(
    _j.kind,
    func.count(),
    func.min(case((_j.run_at <= bindparam("now"), _j.run_at), else_=None)),
).group_by(_j.kind)
