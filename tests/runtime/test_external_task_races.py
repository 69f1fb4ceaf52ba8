"""A worker's answer racing an operator's terminate: one of them wins, neither deadlocks.

A completion locks the instance and then its task (one statement on PostgreSQL,
``FOR UPDATE OF`` in that order); a terminate locks the instance and then deletes the task
rows. Were the order ever reversed, the two would deadlock and PostgreSQL would abort one
with an error instead of queueing them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier
from uuid import UUID

from procflow.model.errors import ExternalTaskNotFound, InstanceStateConflict
from procflow.model.states import InstanceState
from procflow.runtime import deploy
from procflow.runtime import external_tasks as service
from procflow.runtime.access import SYSTEM
from procflow.runtime.commands import terminate
from tests.runtime.conftest import Deployed

PAY = """
name: pay
nodes: [{id: begin, type: start}, {id: charge, type: task, topic: pay}, {id: done, type: end}]
flows: [{from: begin, to: charge}, {from: charge, to: done}]
"""
ROUNDS = 20


def _fetch_one(deployed: Deployed) -> UUID:
    request = service.FetchRequest("w1", 1, (service.TopicRequest("pay", 60_000),))
    [locked] = service.fetch_and_lock(deployed.ctx, request, None)
    return locked.task.id


def _complete(deployed: Deployed, barrier: Barrier, task_id: UUID) -> str:
    barrier.wait()
    try:
        service.complete(deployed.ctx, SYSTEM, task_id, "w1", {"paid": True})
    except ExternalTaskNotFound:
        return "task gone"
    return "completed"


def _terminate(deployed: Deployed, barrier: Barrier, instance_uuid: UUID) -> str:
    barrier.wait()
    try:
        terminate(deployed.ctx, SYSTEM, instance_uuid, "race")
    except InstanceStateConflict:
        return "already ended"
    return "terminated"


def test_a_completion_and_a_terminate_of_one_instance_queue_and_one_wins(
    deployed: Deployed,
) -> None:
    now = datetime.now(UTC)
    files = {"pay.yaml": PAY.encode()}
    deploy.deploy_build(deployed.ctx.store, SYSTEM, deployed.workspace, deployed.app, files,
                        activate=True, now=now)  # fmt: skip
    outcomes: set[InstanceState] = set()
    for _ in range(ROUNDS):
        instance = deployed.start("pay")
        task_id = _fetch_one(deployed)
        barrier = Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            racing = [
                pool.submit(_complete, deployed, barrier, task_id),
                pool.submit(_terminate, deployed, barrier, instance.uuid),
            ]
            answers = {answer.result(timeout=30) for answer in racing}
        final = deployed.load(instance.uuid)
        outcomes.add(final.state)
        if final.state is InstanceState.FINISHED:
            assert answers == {"completed", "already ended"}
            assert final.data == {"paid": True}
        else:
            assert final.state is InstanceState.TERMINATED
            assert answers == {"terminated", "task gone"}
            assert "paid" not in final.data
        with deployed.ctx.store.transaction() as txn:
            assert txn.list_external_tasks(instance.uuid) == []
    assert outcomes <= {InstanceState.FINISHED, InstanceState.TERMINATED}
