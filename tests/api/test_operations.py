"""Operations: Prometheus metrics and structured JSON logs."""

from __future__ import annotations

import json
import logging

import pytest

from procflow.logs import JsonFormatter
from procflow.runtime.access import Role
from tests.api.conftest import Api


def _sample(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_count_starts_completions_failures_and_latency(api: Api) -> None:
    operator = api.headers(api.mint({"*": frozenset({Role.ADMIN})}))
    before = api.client.get("/metrics", headers=operator).text
    api.start("straight", {"a": 1, "b": 2})
    api.start("failing", {"a": 1, "zero": 0})
    after = api.client.get("/metrics", headers=operator).text
    assert (
        _sample(after, "procflow_instance_starts_total")
        - _sample(before, "procflow_instance_starts_total")
        == 2
    )
    assert (
        _sample(after, "procflow_instance_completions_total")
        - _sample(before, "procflow_instance_completions_total")
        == 1
    )
    assert (
        _sample(after, "procflow_instance_failures_total")
        - _sample(before, "procflow_instance_failures_total")
        == 1
    )
    assert (
        'route="/api/runtime/wks/{workspaceId}/app/{appId}/process-name/{processName}/start"'
        in after
    )
    assert "procflow_job_lag_seconds_bucket" in after


def test_json_log_lines_carry_the_instance_uuid(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="procflow.runtime"):
        started = api.start("straight", {"a": 1, "b": 2})
    [record] = [r for r in caplog.records if r.getMessage() == "instance started"]
    line = json.loads(JsonFormatter().format(record))
    assert line["instance"] == started["uuid"]
    assert line["level"] == "info" and line["msg"] == "instance started"
    assert line["state"] == "FINISHED"


def test_a_message_start_is_counted_and_logged_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    operator = api.headers(api.mint({"*": frozenset({Role.ADMIN})}))
    before = api.client.get("/metrics", headers=operator).text
    with caplog.at_level(logging.INFO, logger="procflow.runtime"):
        answer = api.client.post(
            f"/api/runtime/wks/{api.workspace}/messages",
            json={"messageName": "customer-signed-up", "data": {"email": "a@b.c"}},
            headers=api.headers(),
        ).json()
    [started] = answer["started"]
    after = api.client.get("/metrics", headers=operator).text
    starts = "procflow_instance_starts_total"
    assert _sample(after, starts) - _sample(before, starts) == 1
    lines = [r for r in caplog.records if r.getMessage() == "instance started"]
    assert [json.loads(JsonFormatter().format(r))["instance"] for r in lines] == [
        started["processInstanceUuid"]
    ]
