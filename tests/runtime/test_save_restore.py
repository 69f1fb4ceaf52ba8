"""Scenario tests through the real store: after every command, the instance read back from
the database equals the one the command returned (SpiffWorkflow's save_restore idea)."""

from __future__ import annotations

from datetime import UTC, datetime

from procflow.model.instance import ProcessInstance, snapshot
from procflow.model.states import InstanceState
from procflow.runtime.access import SYSTEM
from procflow.runtime.commands import execute_action
from procflow.runtime.demo import DEMO_APP, DEMO_WORKSPACE, seed_demo
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.runtime.worker import Worker
from tests.runtime.conftest import Deployed


def _assert_stored_equals(deployed: Deployed, instance: ProcessInstance) -> None:
    assert snapshot(deployed.load(instance.uuid)) == snapshot(instance)
    assert deployed.load(instance.uuid) == instance


def test_demo_loan_round_trips_through_the_store_at_every_step(deployed: Deployed) -> None:
    store = deployed.ctx.store
    assert seed_demo(store, datetime.now(UTC)) is not None
    body = {
        "applicant": {"name": "Zoë", "income": 4000},
        "loan": {"amount": 9000},
        "notes": ["ünïcode", {"nested": [1, 2.5, None, True]}],
    }
    request = StartRequest(
        StartTarget(DEMO_APP, workspace_id=DEMO_WORKSPACE), "loan_application", body
    )
    started = start_process(deployed.ctx, SYSTEM, request).instance
    _assert_stored_equals(deployed, started)
    waiting = next(t for t in started.live_tokens if t.node_id == "review")
    view = execute_action(
        deployed.ctx, SYSTEM, started.uuid, waiting.uuid, "approve", {"decision": {"by": "sam"}}
    )
    assert view.instance.state is InstanceState.FINISHED
    _assert_stored_equals(deployed, view.instance)


def test_async_chain_round_trips_between_jobs(deployed: Deployed) -> None:
    instance = deployed.start("async_chain")
    _assert_stored_equals(deployed, instance)
    worker = Worker(deployed.ctx)
    while worker.run_once():
        current = deployed.load(instance.uuid)
        assert current.version > instance.version
        instance = current
    assert instance.state is InstanceState.FINISHED
