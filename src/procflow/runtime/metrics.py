"""Prometheus metrics (exposed by the API at ``/metrics``; docs/operations.md lists them).

Counters count what this process did. The two gauges that describe the whole system (live
instances by process and state, the job queue) are read from the store, never by a table
scan per scrape: live instances are a snapshot refreshed at most every
``resync_seconds`` and moved by this process's own transitions in between; the job queue
is one aggregate over the (small, indexed) ``jobs`` table.
"""

from __future__ import annotations

import platform
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import REGISTRY, Counter, Histogram, Info
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from procflow import __version__
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState
from procflow.store.port import Store

STARTS = Counter("procflow_instance_starts", "Instances started", ["process"])
COMPLETIONS = Counter(
    "procflow_instance_completions", "Instances that reached FINISHED", ["process"]
)
FAILURES = Counter("procflow_instance_failures", "Instances that reached FAILED", ["process"])
COPY_STARTS = Counter(
    "procflow_copy_data_from_starts", "Instances started by copyDataFrom", ["process"]
)
IDEMPOTENT_REPLAYS = Counter(
    "procflow_idempotent_replays",
    "Starts answered with an earlier instance (same Idempotency-Key)",
    ["process"],
)
CONFLICT_RETRIES = Counter(
    "procflow_conflict_retries",
    "Commands re-run because another writer saved the instance (or key) first",
    ["command"],
)
ACTIONS = Counter("procflow_actions", "User-task actions executed", ["process", "action"])
INCIDENTS = Counter("procflow_incidents", "Incidents raised", ["process", "type"])
JOB_LAG = Histogram(
    "procflow_job_lag_seconds",
    "Delay between a job becoming due and a worker claiming it",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REQUEST_LATENCY = Histogram(
    "procflow_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BUILD_INFO = Info("procflow_build", "The running Procflow")
BUILD_INFO.info({"version": __version__, "python": platform.python_version()})


def observe_start(instance: ProcessInstance) -> None:
    STARTS.labels(process=instance.definition_name).inc()
    LIVE.moved(instance.definition_name, None, instance.state)
    _observe_outcome(instance, incidents_before=0)


def observe_transition(before: ProcessInstance, after: ProcessInstance) -> None:
    if before.state != after.state:
        LIVE.moved(after.definition_name, before.state, after.state)
    _observe_outcome(after, incidents_before=len(before.incidents), changed=before.state)


def _observe_outcome(
    after: ProcessInstance, *, incidents_before: int, changed: InstanceState | None = None
) -> None:
    if after.state is not changed:
        if after.state is InstanceState.FINISHED:
            COMPLETIONS.labels(process=after.definition_name).inc()
        elif after.state is InstanceState.FAILED:
            FAILURES.labels(process=after.definition_name).inc()
    for incident in after.incidents[incidents_before:]:
        INCIDENTS.labels(process=after.definition_name, type=incident.type).inc()


def observe_start_request(process: str, copied: bool, replayed: bool) -> None:
    """What only the HTTP layer knows about a start: how it was asked for."""
    if replayed:
        IDEMPOTENT_REPLAYS.labels(process=process).inc()
    elif copied:
        COPY_STARTS.labels(process=process).inc()


def observe_action(process: str, action: str) -> None:
    ACTIONS.labels(process=process, action=action).inc()


def observe_conflict_retry(command: str) -> None:
    CONFLICT_RETRIES.labels(command=command).inc()


class LiveInstances(Collector):
    """``procflow_instances{process,state}``: instances not in a final state."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._counts: Tally[tuple[str, str]] = Tally()
        self._synced_at: float | None = None
        self.store: Store | None = None
        self.resync_seconds = 30.0

    def bind(self, store: Store, resync_seconds: float) -> None:
        with self._lock:
            self.store, self.resync_seconds, self._synced_at = store, resync_seconds, None

    def moved(self, process: str, before: InstanceState | None, after: InstanceState) -> None:
        with self._lock:
            if before is not None and not before.is_final:
                self._counts[(process, before.value)] -= 1
            if not after.is_final:
                self._counts[(process, after.value)] += 1

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "procflow_instances",
            "Instances not in a final state, by process and state",
            labels=["process", "state"],
        )
        if self.store is None:
            # A process that serves no API (``procflow worker --metrics-port``) would only
            # know its own moves, which are no count at all: it reports none.
            yield family
            return
        self._resync_if_stale()
        with self._lock:
            for (process, state), count in sorted(self._counts.items()):
                family.add_metric([process, state], max(0, count))
        yield family

    def _resync_if_stale(self) -> None:
        store, now = self.store, self._clock()
        assert store is not None
        if self._synced_at is not None and now - self._synced_at < self.resync_seconds:
            return
        with store.read_transaction() as txn:
            rows = txn.count_live_instances()
        with self._lock:
            self._counts = Tally({(r.process, r.state): r.count for r in rows})
            self._synced_at = now


class JobQueue(Collector):
    """``procflow_job_queue_depth{kind}`` and ``procflow_job_oldest_due_age_seconds{kind}``."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.store: Store | None = None
        self._now = now

    def bind(self, store: Store, now: Callable[[], datetime]) -> None:
        self.store, self._now = store, now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "procflow_job_queue_depth", "Jobs waiting or running, by kind", labels=["kind"]
        )
        age = GaugeMetricFamily(
            "procflow_job_oldest_due_age_seconds",
            "How long the oldest due, unclaimed job has been due, by kind (0: none due)",
            labels=["kind"],
        )
        if self.store is not None:
            now = self._now()
            with self.store.read_transaction() as txn:
                stats = txn.job_queue_stats(now)
            for stat in stats:
                depth.add_metric([stat.kind], stat.queued)
                oldest = stat.oldest_due_at
                age.add_metric([stat.kind], (now - oldest).total_seconds() if oldest else 0.0)
        yield depth
        yield age


def _utc_now() -> datetime:
    return datetime.now(UTC)


LIVE = LiveInstances()
JOBS = JobQueue(_utc_now)
REGISTRY.register(LIVE)
REGISTRY.register(JOBS)


def bind_store(store: Store, now: Callable[[], datetime], resync_seconds: float) -> None:
    """Point the store-backed gauges at the store this process serves."""
    LIVE.bind(store, resync_seconds)
    JOBS.bind(store, now)
