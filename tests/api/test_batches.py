"""Batches over HTTP on both stores: create (and dry run), progress, items, cancel, errors.

The batch is applied by a real ``Worker`` on the same store, as ``procflow worker`` would.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from procflow.api.app import create_app
from procflow.model.instance import ProcessInstance
from procflow.model.limits import DataLimits
from procflow.runtime import deploy, priority
from procflow.runtime.access import SYSTEM, Role
from procflow.runtime.batch_spec import BatchOperation, BatchSettings, BatchSpec
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget
from procflow.runtime.throttle import Pace
from procflow.runtime.worker import Worker
from procflow.store.port import IdempotencyRecord, InstanceQuery
from tests.api.conftest import Api, _settings
from tests.api.test_errors import assert_problem


def _batches(api: Api, workspace: Any = None) -> str:
    return f"/api/runtime/wks/{workspace or api.workspace}/batches"


def _create(api: Api, body: dict[str, Any], query: str = "", token: str | None = None) -> Any:
    path = _batches(api) + (f"?{query}" if query else "")
    return api.client.post(path, json=body, headers=api.headers(token))


def _unpaced(slice_size: int, lanes: int = 2) -> BatchSettings:
    """Slices that follow each other at once: no rate cap, duty cycle or back-off."""
    return BatchSettings(slice_size, items_per_second=0, lanes=lanes, duty_cycle=1, max_slowdown=1)


def _drain(api: Api, slice_size: int = 2) -> None:
    """Run the worker until nothing is due (no pause between slices)."""
    ctx = RuntimeContext(api.store, batches=_unpaced(slice_size))
    worker = Worker(ctx)
    while worker.run_once():
        pass


def _get(api: Api, batch_id: str) -> dict[str, Any]:
    response = api.client.get(f"{_batches(api)}/{batch_id}", headers=api.headers())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _items(api: Api, batch_id: str, query: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = "0"
    while cursor is not None:
        response = api.client.get(
            f"{_batches(api)}/{batch_id}/items?cursor={cursor}&limit=2&{query}",
            headers=api.headers(),
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["content"]) <= 2
        items.extend(page["content"])
        cursor = page["nextCursor"]
    return items


def _failed_runs(api: Api, count: int) -> list[str]:
    runs = [api.start("failing", {"a": 10 * (n + 1), "zero": 0}) for n in range(count)]
    assert all(run["state"] == "FAILED" for run in runs)
    return [run["uuid"] for run in runs]


COPY_FAILED = {
    "operation": "copyDataFrom",
    "filter": {"processName": "failing", "state": ["FAILED"]},
    "body": {"zero": 5},
}


def test_copy_batch_dry_run_then_for_real(api: Api) -> None:
    sources = _failed_runs(api, 5)
    before = api.stored_counts()
    dry = _create(api, COPY_FAILED, "dryRun=true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["total"] == 5
    samples = dry.json()["samples"]
    assert [s["sourceUuid"] for s in samples] == sources[:3]
    assert samples[0]["data"] == {"a": 10, "zero": 5}
    assert api.stored_counts() == before  # a dry run applies nothing

    created = _create(api, COPY_FAILED)
    assert created.status_code == 202, created.text
    batch = created.json()
    assert (batch["state"], batch["total"], batch["done"], batch["failed"]) == ("RUNNING", 5, 0, 0)
    assert created.headers["location"].endswith(batch["id"])
    _drain(api)
    progress = _get(api, batch["id"])
    assert (progress["state"], progress["done"], progress["failed"]) == ("COMPLETED", 5, 0)
    items = _items(api, batch["id"])
    assert [i["seq"] for i in items] == [1, 2, 3, 4, 5]
    assert [i["sourceUuid"] for i in items] == sources
    for item in items:
        copy = api.status(item["resultUuid"])
        assert copy["state"] == "FINISHED"
        assert copy["instanceMetadata"]["copiedFromUuid"] == item["sourceUuid"]
    assert api.data(items[1]["resultUuid"]) == {"a": 20, "zero": 5, "ratio": 4}


def test_explicit_uuids_record_failing_items_and_go_on(api: Api) -> None:
    [good] = _failed_runs(api, 1)
    foreign = api.client.post(
        api.start_path("failing", app=api.other_app, workspace=api.other_workspace),
        json={"a": 1, "zero": 0},
        headers=api.headers(api.mint({"*": frozenset(Role)})),
    ).json()["uuid"]
    missing = str(uuid4())
    body = {**COPY_FAILED, "filter": {"uuids": [missing, good, foreign, good]}}
    batch = _create(api, body).json()
    assert batch["total"] == 3  # the duplicate counts once
    _drain(api)
    assert (_get(api, batch["id"])["done"], _get(api, batch["id"])["failed"]) == (1, 2)
    items = {i["sourceUuid"]: i for i in _items(api, batch["id"])}
    for uuid in (missing, foreign):
        assert items[uuid]["state"] == "FAILED" and items[uuid]["resultUuid"] is None
        assert items[uuid]["error"]["code"] == "process_instance_not_found"
    assert items[good]["state"] == "DONE"
    assert [i["sourceUuid"] for i in _items(api, batch["id"], "state=FAILED")] == [missing, foreign]


def test_retry_batch_resolves_incidents_with_the_patch(api: Api) -> None:
    failed = _failed_runs(api, 3)
    finished = api.start("straight", {"a": 1, "b": 1})["uuid"]
    body = {"operation": "retry", "filter": {"uuids": [*failed, finished]}, "body": {"zero": 2}}
    batch = _create(api, body).json()
    _drain(api, slice_size=3)
    assert _get(api, batch["id"])["done"] == 3
    for uuid in failed:
        assert api.status(uuid)["state"] == "FINISHED"
    last = _items(api, batch["id"])[-1]
    assert last["error"]["code"] == "instance_state_conflict"
    assert api.status(finished)["state"] == "FINISHED"


def test_terminate_batch_over_a_search(api: Api) -> None:
    customer = {"customer": {"id": 1, "email": "a@example.com"}}
    waiting = [api.start("onboarding", customer)["uuid"] for _ in range(3)]
    body = {"operation": "terminate", "filter": {"processName": "onboarding", "state": "STARTED"},
            "body": {"reason": "outage"}}  # fmt: skip
    batch = _create(api, body).json()
    assert batch["total"] == 3
    _drain(api)
    for uuid in waiting:
        assert api.status(uuid)["state"] == "TERMINATED"
    audit = api.client.get(f"/api/runtime/process/{waiting[0]}/audit", headers=api.headers())
    assert any(e["type"] == "instance_terminated" for e in audit.json()["events"]), audit.text


CALLER = """
name: caller
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: callee}
  - {id: done, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: done}
"""
CALLEE = """
name: callee
nodes:
  - {id: begin, type: start}
  - {id: check, type: userTask, actions: [ok]}
  - {id: done, type: end}
flows:
  - {from: begin, to: check}
  - {from: check, to: done}
"""


def test_terminate_batch_over_the_children_of_one_parent(api: Api) -> None:
    app = uuid4()
    deploy.create_app(api.store, SYSTEM, api.workspace, f"calls-{app}", app)
    files = {"caller.yaml": CALLER.encode(), "callee.yaml": CALLEE.encode()}
    deploy.deploy_build(api.store, SYSTEM, api.workspace, app, files, activate=True,
                        now=datetime.now(UTC))  # fmt: skip
    parents = [api.start("caller", {}, app=app)["uuid"] for _ in range(2)]
    _drain(api)  # the worker's call_start jobs start the children
    children = [api.client.get(f"/api/runtime/process/{p}/status", headers=api.headers())
                .json()["children"][0]["uuid"] for p in parents]  # fmt: skip
    body = {"operation": "terminate", "filter": {"parentProcessInstanceUuid": parents[0]},
            "body": {"reason": "one family"}}  # fmt: skip
    created = _create(api, body)
    assert created.status_code == 202, created.text
    assert created.json()["total"] == 1
    _drain(api)
    [item] = _items(api, created.json()["id"])
    assert item["sourceUuid"] == children[0]
    states = [api.status(c)["state"] for c in children]
    assert states == ["TERMINATED", "STARTED"]
    by_root = _create(api, {**body, "filter": {"rootProcessInstanceUuid": parents[1]}},
                      "dryRun=true")  # fmt: skip
    assert by_root.status_code == 200 and by_root.json()["total"] == 1, by_root.text


def test_copy_batch_with_start_at(api: Api) -> None:
    sources = [api.start("straight", {"a": n, "b": 1})["uuid"] for n in range(2)]
    body = {"operation": "copyDataFrom", "filter": {"uuids": sources}, "processName": "onboarding",
            "query": {"startAt": "again", "withoutParams": ["total"]}}  # fmt: skip
    batch = _create(api, body).json()
    _drain(api)
    items = _items(api, batch["id"])
    assert [i["state"] for i in items] == ["DONE", "DONE"]
    copy = api.status(items[0]["resultUuid"])
    assert copy["processDefinitionName"] == "onboarding"
    assert copy["tokens"][0]["currentNodeId"] == "again"
    assert api.data(items[0]["resultUuid"]) == {"a": 0, "b": 1}


def test_a_filter_matching_nothing_is_202_with_total_0(api: Api) -> None:
    response = _create(api, {**COPY_FAILED, "filter": {"processName": "nothing-like-this"}})
    assert response.status_code == 202, response.text
    batch = response.json()
    assert (batch["total"], batch["state"]) == (0, "COMPLETED")
    assert _items(api, batch["id"]) == []


def test_over_the_item_limit_is_400_with_the_count(api: Api, tmp_path: Path) -> None:
    _failed_runs(api, 4)
    ctx = RuntimeContext(api.store, batches=BatchSettings(max_items=3))
    with TestClient(create_app(ctx, _settings(tmp_path), api.issuer)) as client:
        before = api.stored_counts()
        response = client.post(_batches(api), json=COPY_FAILED, headers=api.headers())
        body = assert_problem(response, 400)
        assert (body["code"], body["count"], body["limit"]) == ("batch_too_large", 4, 3)
        assert "4 items" in body["message"]
        uuids = {"operation": "terminate", "filter": {"uuids": [str(uuid4()) for _ in range(4)]}}
        assert client.post(_batches(api), json=uuids, headers=api.headers()).json()["count"] == 4
        assert api.stored_counts() == before


def test_cancel_stops_the_batch_and_a_finished_one_is_409(api: Api) -> None:
    _failed_runs(api, 4)
    batch = _create(api, COPY_FAILED).json()
    ctx = RuntimeContext(api.store, batches=_unpaced(2))
    Worker(ctx).run_once()  # one slice of two items
    cancel = api.client.post(f"{_batches(api)}/{batch['id']}/cancel", headers=api.headers())
    assert cancel.status_code == 200, cancel.text
    assert (cancel.json()["state"], cancel.json()["done"]) == ("CANCELLED", 2)
    _drain(api)
    after = _get(api, batch["id"])
    assert (after["state"], after["done"]) == ("CANCELLED", 2)
    assert [i["state"] for i in _items(api, batch["id"])] == ["DONE", "DONE", "PENDING", "PENDING"]
    again = api.client.post(f"{_batches(api)}/{batch['id']}/cancel", headers=api.headers())
    assert assert_problem(again, 409)["code"] == "batch_finished"
    empty = _create(api, {**COPY_FAILED, "filter": {"processName": "none"}}).json()
    done = api.client.post(f"{_batches(api)}/{empty['id']}/cancel", headers=api.headers())
    assert assert_problem(done, 409)["state"] == "COMPLETED"


def test_a_slice_queues_its_successor_when_the_throttle_says_and_hands_on_its_pace(
    api: Api,
) -> None:
    _failed_runs(api, 6)
    _create(api, COPY_FAILED)
    at = datetime(2100, 1, 1, tzinfo=UTC)  # a fixed clock: the due times are exact
    # Rate-capped only: 2 items, two lanes sharing 10 items/s: 0.4 s to the lane's next.
    batches = BatchSettings(2, items_per_second=10, lanes=2, duty_cycle=1)
    Worker(RuntimeContext(api.store, clock=lambda: at, batches=batches)).run_once()
    with api.store.transaction() as txn:
        queued = txn.claim_jobs("probe", at + timedelta(hours=1), 30, 10)
    by_lane = {(job.payload["lane"], job.payload["slice"]): job for job in queued}
    assert set(by_lane) == {(0, 2), (1, 1)}
    assert by_lane[0, 2].run_at == at + timedelta(seconds=0.4)
    assert by_lane[1, 1].run_at == at  # the first slice opens the other lane at once
    pace = Pace.from_payload(by_lane[0, 2].payload)
    assert pace.base_seconds_per_item is not None and pace.base_seconds_per_item > 0
    assert pace.slowdown == 1.0
    assert Pace.from_payload(by_lane[1, 1].payload) == pace


BAD_BODIES: list[tuple[Any, str]] = [
    ({"operation": "explode", "filter": {"uuids": []}}, "operation"),
    ({"operation": "retry"}, "filter"),
    ({"operation": "retry", "filter": {}}, "at least one"),
    ({"operation": "retry", "filter": {"uuids": ["nope"]}}, "UUID"),
    ({"operation": "retry", "filter": {"uuids": "x"}}, "list"),
    ({"operation": "retry", "filter": {"uuids": [], "state": "FAILED"}}, "combined"),
    ({"operation": "retry", "filter": {"state": ["MELTED"]}}, "states"),
    ({"operation": "retry", "filter": {"colour": "red"}}, "colour"),
    ({"operation": "retry", "filter": {"createdFrom": "yesterday"}}, "ISO 8601"),
    ({"operation": "retry", "filter": {"state": "FAILED"}, "body": [1]}, "body"),
    ({"operation": "retry", "filter": {"state": "FAILED"}, "surprise": 1}, "surprise"),
    ({"operation": "copyDataFrom", "filter": {"state": "FAILED"}, "query": {"x": 1}}, "x"),
    ({"operation": "retry", "filter": {"state": "FAILED"}, "dryRun": "yes"}, "dryRun"),
]


def test_bad_bodies_are_400_and_create_nothing(api: Api) -> None:
    _failed_runs(api, 1)
    before = api.stored_counts()
    for body, mentioned in BAD_BODIES:
        response = _create(api, body)
        problem = assert_problem(response, 400)
        assert mentioned in problem["message"], (body, problem["message"])
    empty = api.client.post(_batches(api), headers=api.headers())
    assert assert_problem(empty, 400)["code"] == "invalid_body"
    _drain(api)  # had anything been queued, the worker would now apply it
    assert api.stored_counts() == before


def test_unknown_and_foreign_batches_are_404(api: Api) -> None:
    batch = _create(api, {**COPY_FAILED, "filter": {"processName": "none"}}).json()
    other = api.mint({str(api.other_workspace): frozenset(Role)})
    for path, token in (
        (f"{_batches(api)}/{uuid4()}", None),
        (f"{_batches(api, api.other_workspace)}/{batch['id']}", other),
        (f"{_batches(api, api.other_workspace)}/{batch['id']}/items", other),
    ):
        response = api.client.get(path, headers=api.headers(token))
        assert assert_problem(response, 404)["code"] == "batch_not_found"
    blind = api.client.get(f"{_batches(api)}/{batch['id']}", headers=api.headers(other))
    assert assert_problem(blind, 404)["code"] == "workspace_not_found"


def test_roles(api: Api) -> None:
    reader = api.mint({str(api.workspace): frozenset({Role.READ, Role.START})})
    assert assert_problem(_create(api, COPY_FAILED, token=reader), 403)["role"] == "operate"
    operator = api.mint({str(api.workspace): frozenset({Role.OPERATE})})
    assert assert_problem(_create(api, COPY_FAILED, token=operator), 403)["role"] == "start"
    terminate = {"operation": "terminate", "filter": {"processName": "none"}}
    assert _create(api, terminate, token=operator).status_code == 202
    assert _create(api, COPY_FAILED, token="garbage").status_code == 401


def _drain_with(api: Api, ctx: RuntimeContext) -> None:
    worker = Worker(ctx)
    while worker.run_once():
        pass


def _copies_of(api: Api, source: str) -> list[ProcessInstance]:
    with api.store.read_transaction() as txn:
        everything = txn.search_instances(InstanceQuery(workspace_id=api.workspace, limit=1000))
    return [i for i in everything if str(i.lineage.copied_from_uuid) == source]


def test_a_copy_slice_records_its_failing_items_and_writes_the_rest_together(api: Api) -> None:
    """One slice of six items, started together: the two that fail (a missing source; a
    copy whose data is over the worker's limit) are recorded with their errors, and exactly
    their writes are missing; the others have one copy each with its whole audit trail."""
    sources = _failed_runs(api, 3)
    big = api.start("failing", {"a": 1, "zero": 0, "pad": "x" * 3000})["uuid"]
    missing = str(uuid4())
    uuids = [sources[0], missing, sources[1], big, sources[2], str(uuid4())]
    single = api.copy("failing", sources[0], {"zero": 5})  # the trail one copy leaves
    before = api.stored_counts()
    batch = _create(api, {**COPY_FAILED, "filter": {"uuids": uuids}}).json()
    limits = DataLimits(max_bytes=1000)
    batches = _unpaced(10)
    _drain_with(api, RuntimeContext(api.store, data_limits=limits, batches=batches))
    progress = _get(api, batch["id"])
    assert (progress["state"], progress["done"], progress["failed"]) == ("COMPLETED", 3, 3)
    items = _items(api, batch["id"])
    assert [i["state"] for i in items] == ["DONE", "FAILED", "DONE", "FAILED", "DONE", "FAILED"]
    assert items[3]["error"]["code"] == "data_too_large"
    assert items[1]["error"]["code"] == "process_instance_not_found"
    for item in (items[0], items[2], items[4]):
        [copy] = [c for c in _copies_of(api, item["sourceUuid"]) if str(c.uuid) != single["uuid"]]
        assert str(copy.uuid) == item["resultUuid"]
        assert copy.state.value == "FINISHED"
    assert _copies_of(api, big) == []
    with api.store.read_transaction() as txn:
        trail = len(txn.list_audit(UUID(single["uuid"])))
        assert len(txn.list_audit(UUID(items[0]["resultUuid"]))) == trail
    instances, audit = api.stored_counts()
    assert (instances, audit) == (before[0] + 3, before[1] + 3 * trail)


def test_a_slice_of_simple_copies_is_written_together_and_each_copy_announced_once(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    """Four copies that finish at once are collected: one INSERT of instances for the slice
    and no savepoint per item; after the commit, one "instance started" line per copy."""
    sources = _failed_runs(api, 4)
    batch = _create(api, {**COPY_FAILED, "filter": {"uuids": sources}}).json()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).upper().replace('"', ""))

    engine = api.store.engine  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", record)
    try:
        with caplog.at_level(logging.INFO, logger="procflow.runtime"):
            _drain(api, slice_size=10)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    items = _items(api, batch["id"])
    assert [i["state"] for i in items] == ["DONE"] * 4
    assert sum(s.startswith("INSERT INTO PROCESS_INSTANCES") for s in statements) == 1
    # The one around the slice's combined write; none for an item.
    assert sum(s.startswith("SAVEPOINT") for s in statements) == 1
    started = [r for r in caplog.records if r.getMessage() == "instance started"]
    assert sorted(r.__dict__["instance"] for r in started) == sorted(i["resultUuid"] for i in items)


def test_a_slice_whose_item_key_is_taken_goes_item_by_item(api: Api) -> None:
    """An item's idempotency key exists (an earlier run applied it, or something else took
    it): the slice's combined write is rolled back and its items start one by one, so the
    applied item answers its first copy, the foreign key fails its item, the rest copy once."""
    sources = _failed_runs(api, 3)
    earlier = api.copy("failing", sources[1], {"zero": 5})["uuid"]
    batch = _create(api, {**COPY_FAILED, "filter": {"uuids": sources}}).json()
    spec = BatchSpec(BatchOperation.COPY, body={"zero": 5})
    same = StartRequest(StartTarget(api.test_app, workspace_id=api.workspace), "failing",
                        body=spec.body, copy=spec.copy_of(UUID(sources[1])))  # fmt: skip
    with api.store.transaction() as txn:
        keys = [(f"batch:{batch['id']}:2", same.fingerprint(), earlier),
                (f"batch:{batch['id']}:3", "another request", earlier)]  # fmt: skip
        for key, fingerprint, instance in keys:
            txn.insert_idempotency(IdempotencyRecord(api.workspace, key, fingerprint,
                                                     UUID(instance)))  # fmt: skip
    before = api.stored_counts()
    _drain(api, slice_size=10)
    items = _items(api, batch["id"])
    assert [i["state"] for i in items] == ["DONE", "DONE", "FAILED"]
    assert items[1]["resultUuid"] == earlier
    assert items[2]["error"]["code"] == "idempotency_key_reused"
    assert [str(c.uuid) for c in _copies_of(api, sources[1])] == [earlier]
    assert len(_copies_of(api, sources[0])) == 1
    assert _copies_of(api, sources[2]) == []
    assert api.stored_counts()[0] == before[0] + 1
    assert (_get(api, batch["id"])["done"], _get(api, batch["id"])["failed"]) == (2, 1)


def test_copies_that_subscribe_start_on_their_own_within_the_slice(api: Api) -> None:
    """A copy that waits for a message is not one the slice collects: it starts alone (in a
    savepoint) after the others, which still go together; one waiting on an external task
    is collected with its task, one that fails again with its incident."""
    waiting = api.start("await_payment", {"orderId": "o-1"})["uuid"]
    charging = api.start("charge", {"amount": 3})["uuid"]
    [failed] = _failed_runs(api, 1)
    again = api.start("failing", {"a": "not a number", "zero": 0})["uuid"]
    uuids = [failed, waiting, charging, again]
    body = {"operation": "copyDataFrom", "filter": {"uuids": uuids}, "body": {"zero": 5}}
    batch = _create(api, body).json()
    _drain(api, slice_size=10)
    items = _items(api, batch["id"])
    assert [i["state"] for i in items] == ["DONE", "DONE", "DONE", "DONE"]
    assert api.status(items[0]["resultUuid"])["state"] == "FINISHED"
    # The fix did not help this one: its copy failed again, with its own incident.
    copy_again = api.status(items[3]["resultUuid"])
    assert (
        copy_again["state"] == "FAILED"
        and copy_again["instanceMetadata"]["copiedFromUuid"] == again
    )
    assert api.status(items[1]["resultUuid"])["state"] == "STARTED"
    assert api.status(items[2]["resultUuid"])["state"] == "STARTED"
    with api.store.read_transaction() as txn:
        [task] = txn.list_external_tasks(UUID(items[2]["resultUuid"]))
    assert task.topic == "payments"
    [token] = api.status(items[1]["resultUuid"])["tokens"]
    assert token["statusCurrentNode"] == "WAITING_MESSAGE_EVENT"
    # Both subscriptions are real: "all" delivers the message to the source and its copy.
    sent = api.client.post(f"/api/runtime/wks/{api.workspace}/messages",
                           json={"messageName": "payment-received", "correlationKey": "o-1",
                                 "all": True}, headers=api.headers())  # fmt: skip
    assert sent.status_code == 200, sent.text
    assert len(sent.json()["correlated"]) == 2, sent.text


def test_two_workers_share_a_batch_and_apply_each_item_once(api: Api) -> None:
    """Two lanes of slices on two workers at once: every item once, counters exact."""
    sources = _failed_runs(api, 24)
    batch = _create(api, COPY_FAILED).json()
    ctx = RuntimeContext(api.store, batches=_unpaced(3, lanes=2))
    threads = [threading.Thread(target=_drain_with, args=(api, ctx)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    _drain_with(api, ctx)  # a chain whose job was claimed late by the other thread
    progress = _get(api, batch["id"])
    assert (progress["state"], progress["done"], progress["failed"]) == ("COMPLETED", 24, 0)
    items = _items(api, batch["id"])
    assert sorted(i["sourceUuid"] for i in items) == sorted(sources)
    assert all(len(_copies_of(api, source)) == 1 for source in sources)


@pytest.mark.postgres_only
def test_concurrent_slices_claim_different_items(api: Api) -> None:
    """SKIP LOCKED: a slice in progress holds its items; another slice takes the next ones,
    and sees the held ones still pending (their slice decides after them)."""
    _failed_runs(api, 5)
    batch_id = UUID(_create(api, COPY_FAILED).json()["id"])
    with api.store.transaction() as first:
        held = first.claim_batch_items(batch_id, 2)
        with api.store.transaction() as second:
            taken = second.claim_batch_items(batch_id, 10)
            assert second.has_pending_items(batch_id)
    assert [i.seq for i in held] == [1, 2]
    assert [i.seq for i in taken] == [3, 4, 5]


def test_a_slice_runs_at_a_lower_priority_and_the_thread_gets_its_own_back() -> None:
    """Lowered only where it can be raised back (CAP_SYS_NICE or RLIMIT_NICE)."""
    thread = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, thread)
    during = min(19, before + 5) if priority.may_restore() else before
    with priority.lowered(5):
        assert os.getpriority(os.PRIO_PROCESS, thread) == during
    assert os.getpriority(os.PRIO_PROCESS, thread) == before
    with priority.lowered(0):
        assert os.getpriority(os.PRIO_PROCESS, thread) == before
