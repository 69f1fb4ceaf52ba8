"""Prometheus metrics (exposed by the API at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from procflow.model.states import InstanceState

STARTS = Counter("procflow_instance_starts", "Instances started", ["process"])
COMPLETIONS = Counter("procflow_instance_completions", "Instances that reached FINISHED")
FAILURES = Counter("procflow_instance_failures", "Instances that reached FAILED")
CONFLICT_RETRIES = Counter(
    "procflow_command_conflict_retries",
    "Commands run again because another writer changed the instance first",
)
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


def observe_transition(before: InstanceState, after: InstanceState) -> None:
    if before == after:
        return
    if after is InstanceState.FINISHED:
        COMPLETIONS.inc()
    elif after is InstanceState.FAILED:
        FAILURES.inc()


def observe_start(process: str) -> None:
    """Counted once per new instance; its first transitions are observed by the pipeline."""
    STARTS.labels(process=process).inc()
