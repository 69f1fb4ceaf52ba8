"""Request ids, trace context, the access log and the metrics, seen from outside: the JSON log
lines a real ``procflow serve`` writes and what its /metrics answers."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from procflow.model.states import InstanceState
from procflow.runtime import metrics
from procflow.runtime.access import Role
from tests.api.conftest import Api
from tests.api.served import DEMO_APP, DEMO_WORKSPACE, Served, serve

APP = f"/api/runtime/wks/{DEMO_WORKSPACE}/app/{DEMO_APP}"
LOAN = {"applicant": {"name": "Ada", "income": 5000}, "loan": {"amount": 12000}}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("observed")) as served:
        yield served


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("quiet"), PROCFLOW_ACCESS_LOG="0") as served:
        yield served


def _entries(served: Served, request_id: str, *, wait: bool = True) -> list[dict[str, Any]]:
    """The request's log lines. The access line is written after the answer is sent, so a
    client can read the log before it is there: wait (briefly) for the line that ends it."""
    deadline = time.monotonic() + 5
    while True:
        lines = (json.loads(line) for line in served.log_lines() if line.startswith("{"))
        found = [entry for entry in lines if entry.get("requestId") == request_id]
        done = any(entry["logger"] == "procflow.access" for entry in found)
        if done or not wait or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def _client(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.base, headers={"Authorization": f"Bearer {served.token()}"})


def test_request_id_is_echoed_or_generated(server: Served) -> None:
    with _client(server) as client:
        given = client.get("/health/live", headers={"X-Request-ID": "abc-123"})
        assert given.headers["x-request-id"] == "abc-123"
        made = client.get("/health/live")
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
        # An id that could forge a log line is replaced, never echoed.
        forged = client.get("/health/live", headers={"X-Request-ID": "x" * 200})
        assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
        refused = client.get(f"/api/runtime/process/{uuid4()}/status")
        assert refused.status_code == 404 and "x-request-id" in refused.headers


def test_every_line_of_a_request_carries_its_id_and_trace(server: Served) -> None:
    request_id = uuid4().hex
    headers = {"X-Request-ID": request_id, "traceparent": TRACEPARENT}
    with _client(server) as client:
        started = client.post(
            f"{APP}/process-name/loan_application/start", json=LOAN, headers=headers
        )
    assert started.status_code == 200
    entries = _entries(server, request_id)
    messages = {entry["msg"] for entry in entries}
    assert {"instance started", "request"} <= messages  # a runtime line and the access line
    assert all(entry["traceId"] == TRACE_ID for entry in entries)
    assert all(entry["parentSpanId"] == "00f067aa0ba902b7" for entry in entries)
    access = next(entry for entry in entries if entry["msg"] == "request")
    assert access["logger"] == "procflow.access" and access["level"] == "info"
    assert access["method"] == "POST"
    assert (
        access["route"]
        == "/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}/start"
    )
    assert access["status"] == 200
    assert access["durationMs"] > 0
    assert access["workspace"] == DEMO_WORKSPACE
    assert access["subject"] == "tester"
    assert access["problem"] is None


def test_an_invalid_traceparent_is_ignored(server: Served) -> None:
    request_id = uuid4().hex
    with _client(server) as client:
        client.get(
            "/health/live", headers={"X-Request-ID": request_id, "traceparent": "00-zz-1-01"}
        )
    (access,) = _entries(server, request_id)
    assert "traceId" not in access


def test_refused_requests_are_logged_at_info_with_their_problem_code(server: Served) -> None:
    request_id = uuid4().hex
    anonymous = httpx.get(
        f"{server.base}/api/runtime/process/{uuid4()}/status", headers={"X-Request-ID": request_id}
    )
    assert anonymous.status_code == 401
    (access,) = _entries(server, request_id)
    assert (access["level"], access["status"], access["problem"]) == (
        "info",
        401,
        "unauthenticated",
    )
    assert access["route"] == "/api/runtime/process/{uuid}/status"
    assert access["subject"] is None


def test_the_access_log_can_be_turned_off_but_refusals_stay(quiet: Served) -> None:
    ok_id, refused_id = uuid4().hex, uuid4().hex
    with _client(quiet) as client:
        assert client.get("/health/live", headers={"X-Request-ID": ok_id}).status_code == 200
        bad = client.post(
            f"{APP}/process-name/loan_application/start",
            content=b"[1]",
            headers={"X-Request-ID": refused_id},
        )
    assert bad.status_code == 400
    (refusal,) = _entries(quiet, refused_id)  # logged after the first request's line would be
    assert _entries(quiet, ok_id, wait=False) == []
    assert (refusal["msg"], refusal["level"], refusal["problem"]) == (
        "request refused",
        "info",
        "invalid_body",
    )


def _samples(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    # /metrics on the API port needs an admin on every workspace (docs/operations.md).
    admin = {"Authorization": f"Bearer {served.token()}"}
    text = httpx.get(f"{served.base}/metrics", headers=admin).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_the_readme_story(server: Served) -> None:
    before = _samples(server)
    process = {"process": "loan_application"}
    with _client(server) as client:
        key = {"Idempotency-Key": uuid4().hex}
        first = client.post(
            f"{APP}/process-name/loan_application/start", json=LOAN, headers=key
        ).json()
        client.post(f"{APP}/process-name/loan_application/start", json=LOAN, headers=key)
        review = next(t for t in first["tokens"] if t["currentNodeId"] == "review")
        client.post(
            f"/api/runtime/process/{first['uuid']}/token/{review['uuid']}/action/approve/execute",
            json={},
        )
        client.post(
            f"{APP}/process-name/loan_application/start/copyDataFrom/{first['uuid']}", json={}
        )
        client.get("/docs")
    after = _samples(server)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("procflow_instance_starts_total", **process) == 2  # the replay started nothing
    assert grew("procflow_idempotent_replays_total", **process) == 1
    assert grew("procflow_copy_data_from_starts_total", **process) == 1
    assert grew("procflow_actions_total", action="approve", **process) == 1
    assert grew("procflow_instance_completions_total", **process) == 1
    assert _value(after, "procflow_instances", state="STARTED", **process) >= 1
    assert _value(after, "procflow_build_info", python=_python(after), version="0.1.0") == 1
    docs = {"method": "GET", "route": "/docs", "status": "200"}
    assert grew("procflow_http_request_duration_seconds_count", **docs) == 1
    assert not any(
        dict(labels).get("route") == "unmatched"
        and name.endswith("_count")
        and dict(labels).get("status") == "200"
        for name, labels in after
    )


def _python(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> str:
    return next(dict(labels)["python"] for name, labels in samples if name == "procflow_build_info")


ASYNC = (
    "name: async_one\nnodes:\n  - {id: b, type: start}\n"
    "  - {id: t, type: task, async: true, rules: [{set: {one: '1'}}]}\n"
    "  - {id: e, type: end}\nflows: [{from: b, to: t}, {from: t, to: e}]\n"
)


def _family(api: Api, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    admin = api.headers(api.mint({"*": frozenset({Role.ADMIN})}))
    text = api.client.get("/metrics", headers=admin).text
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_job_queue_depth_and_oldest_due_age_by_kind(api: Api) -> None:
    # The api fixture runs no worker: the async job stays queued.
    path = f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds"
    files = {"async_one.yaml": ASYNC}
    assert (
        api.client.post(
            path, json={"files": files, "activate": True}, headers=api.headers()
        ).status_code
        == 201
    )
    api.start("async_one", {})
    depth = _family(api, "procflow_job_queue_depth")
    age = _family(api, "procflow_job_oldest_due_age_seconds")
    assert sum(depth.values()) == 1
    ((labels, count),) = depth.items()
    assert count == 1 and dict(labels)["kind"]
    assert age[labels] >= 0


def test_incidents_and_failures_by_process(api: Api) -> None:
    before_incidents = sum(_family(api, "procflow_incidents_total").values())
    failed = api.start("failing", {"a": 1, "zero": 0})
    assert failed["state"] == "FAILED"
    incidents = _family(api, "procflow_incidents_total")
    assert sum(incidents.values()) == before_incidents + 1
    assert any(dict(labels)["process"] == "failing" for labels in incidents)
    failures = _family(api, "procflow_instance_failures_total")
    assert failures[(("process", "failing"),)] >= 1


def test_the_live_gauge_is_not_a_query_per_scrape(api: Api, tmp_path: Path) -> None:
    """Between resyncs only this process's transitions move it; a resync reads the truth."""
    now = [0.0]
    gauge = metrics.LiveInstances(clock=lambda: now[0])
    gauge.bind(api.store, resync_seconds=60)

    def started() -> float:
        (family,) = gauge.collect()
        return sum(
            s.value
            for s in family.samples
            if s.labels == {"process": "onboarding", "state": "STARTED"}
        )

    baseline = started()
    # Started through the API: the module's gauge hears of it, this private one does not.
    api.start("onboarding", {"customer": {"id": 1, "email": "a@b.c"}})
    assert started() == baseline  # no query: the snapshot stands
    gauge.moved("onboarding", None, InstanceState.STARTED)
    assert started() == baseline + 1  # moved by a transition
    now[0] = 61.0
    api.start("onboarding", {"customer": {"id": 2, "email": "b@b.c"}})
    assert started() == baseline + 2  # resynced: both rows counted, the local move replaced
