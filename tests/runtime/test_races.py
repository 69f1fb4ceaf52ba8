"""Racing commands: nothing lost, nothing applied twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from threading import Barrier
from uuid import UUID

from procflow.model.instance import Token
from procflow.model.states import InstanceState
from procflow.runtime.access import SYSTEM
from procflow.runtime.commands import execute_action
from procflow.store.port import InstanceQuery
from tests.runtime.conftest import Deployed


def test_twenty_identical_idempotent_starts_create_one_instance(deployed: Deployed) -> None:
    barrier = Barrier(20)

    def start() -> str:
        barrier.wait()
        return str(deployed.start("two_desks", {"order": 7}, key="order-7").uuid)

    with ThreadPoolExecutor(20) as pool:
        uuids = list(pool.map(lambda _: start(), range(20)))
    assert len(set(uuids)) == 1
    with deployed.ctx.store.transaction() as txn:
        found = txn.search_instances(InstanceQuery(deployed.workspace, limit=100))
    assert [str(i.uuid) for i in found] == uuids[:1]


def _sign(deployed: Deployed, barrier: Barrier, instance: UUID, token: Token) -> None:
    barrier.wait()
    body = {f"signed_{token.node_id}": True}
    execute_action(deployed.ctx, SYSTEM, instance, token.uuid, "sign", body)


def test_concurrent_actions_on_one_instance_lose_no_update(deployed: Deployed) -> None:
    for _ in range(5):
        instance = deployed.start("two_desks")
        waiting = [t for t in instance.tokens if t.node_id in ("legal", "finance")]
        sign = partial(_sign, deployed, Barrier(2), instance.uuid)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(sign, waiting))
        final = deployed.load(instance.uuid)
        assert final.data == {"signed_legal": True, "signed_finance": True}
        assert final.state is InstanceState.FINISHED
        with deployed.ctx.store.transaction() as txn:
            actions = [r for r in txn.list_audit(instance.uuid) if r.type == "action_executed"]
        assert len(actions) == 2
