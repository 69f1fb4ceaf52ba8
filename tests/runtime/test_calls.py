"""Call activities over a real store with the worker (no HTTP): the hand-over jobs between
parent and child, each in its own command, and the cascades down a call tree."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from procflow.engine.calls import CALL_DEPTH_EXCEEDED, child_uuid
from procflow.model.instance import ProcessInstance, WaitKind
from procflow.model.states import InstanceState, NodeStatus
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.child_jobs import CALL_START, CHILD_ENDED
from procflow.runtime.children import start_child
from procflow.runtime.commands import execute_action, hold, terminate, unhold
from procflow.runtime.context import RuntimeContext
from procflow.runtime.worker import Worker
from procflow.store.port import Store
from tests.call_definitions import RECURSE
from tests.runtime.conftest import Deployed

PARENT = """
name: parent
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: child, outputKey: result}
  - {id: done, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: done}
"""
CHILD = """
name: child
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: grandchild}
  - {id: review, type: userTask, actions: [ok]}
  - {id: done, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: review}
  - {from: review, to: done}
"""
GRANDCHILD = """
name: grandchild
nodes:
  - {id: begin, type: start}
  - {id: wait, type: userTask, actions: [ok]}
  - {id: done, type: end}
flows:
  - {from: begin, to: wait}
  - {from: wait, to: done}
"""


@pytest.fixture
def tree(store: Store) -> Deployed:
    workspace, app = uuid4(), uuid4()
    deploy.create_workspace(store, SYSTEM, "calls", workspace)
    deploy.create_app(store, SYSTEM, workspace, "calls", app)
    files = {"parent.yaml": PARENT, "child.yaml": CHILD, "grandchild.yaml": GRANDCHILD,
             "recurse.yaml": RECURSE}  # fmt: skip
    encoded = {name: text.encode() for name, text in files.items()}
    deploy.deploy_build(store, SYSTEM, workspace, app, encoded, activate=True,
                        now=datetime.now(UTC))  # fmt: skip
    return Deployed(RuntimeContext(store, max_call_depth=3), workspace, app)


def drain(tree: Deployed) -> None:
    worker = Worker(tree.ctx)
    for _ in range(50):
        if worker.run_once() == 0:
            return


def child_of(tree: Deployed, parent: ProcessInstance) -> ProcessInstance:
    [wait] = [w for w in tree.load(parent.uuid).waits if w.kind is WaitKind.CALL]
    return tree.load(child_uuid(parent.uuid, wait.id))


def act(tree: Deployed, instance: ProcessInstance, node: str) -> None:
    [token] = [t for t in tree.load(instance.uuid).live_tokens if t.node_id == node]
    execute_action(tree.ctx, SYSTEM, instance.uuid, token.uuid, "ok", {"by": node})


def test_a_call_tree_runs_down_and_its_ends_come_back_up(tree: Deployed) -> None:
    parent = tree.start("parent", {"n": 1})
    assert parent.state is InstanceState.STARTED
    assert [t.status for t in parent.live_tokens] == [NodeStatus.EXECUTING]
    drain(tree)
    child = child_of(tree, parent)
    grandchild = child_of(tree, child)
    assert child.calling.parent_uuid == parent.uuid and child.calling.root_uuid == parent.uuid
    assert grandchild.calling.parent_uuid == child.uuid
    assert grandchild.calling.root_uuid == parent.uuid and grandchild.calling.depth == 2
    assert grandchild.data == {"n": 1}
    with tree.ctx.store.read_transaction() as txn:
        assert [c.uuid for c in txn.children_of(parent.uuid)] == [child.uuid]
    act(tree, grandchild, "wait")
    drain(tree)
    assert tree.load(child.uuid).data == {"n": 1, "by": "wait"}
    act(tree, child, "review")
    drain(tree)
    done = tree.load(parent.uuid)
    assert done.state is InstanceState.FINISHED
    assert done.data == {"n": 1, "result": {"n": 1, "by": "review"}}
    with tree.ctx.store.read_transaction() as txn:
        assert not txn.list_jobs(parent.uuid) and not txn.list_jobs(child.uuid)


def test_a_start_job_run_twice_starts_one_child(tree: Deployed) -> None:
    parent = tree.start("parent")
    with tree.ctx.store.read_transaction() as txn:
        [job] = [j for j in txn.list_jobs(parent.uuid) if j.kind == CALL_START]
    drain(tree)
    child = child_of(tree, parent)
    # The same job once more (as after a lost claim): the child exists, nothing new.
    with tree.ctx.store.transaction() as txn:
        start_child(tree.ctx, txn, job, datetime.now(UTC))
        assert [c.uuid for c in txn.children_of(parent.uuid)] == [child.uuid]


def test_terminating_the_root_terminates_the_whole_tree(tree: Deployed) -> None:
    parent = tree.start("parent")
    drain(tree)
    child = child_of(tree, parent)
    grandchild = child_of(tree, child)
    terminate(tree.ctx, SYSTEM, parent.uuid, "enough")
    drain(tree)
    states = [tree.load(i.uuid).state for i in (parent, child, grandchild)]
    assert states == [InstanceState.TERMINATED] * 3
    with tree.ctx.store.read_transaction() as txn:
        # The children's ends were told to a parent already ended: nothing is left queued.
        assert not [j for j in txn.list_jobs(parent.uuid) if j.kind == CHILD_ENDED]


def test_hold_and_unhold_cascade_down_the_tree(tree: Deployed) -> None:
    parent = tree.start("parent")
    drain(tree)
    child = child_of(tree, parent)
    grandchild = child_of(tree, child)
    hold(tree.ctx, SYSTEM, parent.uuid)
    drain(tree)
    held = [tree.load(i.uuid).state for i in (parent, child, grandchild)]
    assert held == [InstanceState.ON_HOLD] * 3
    unhold(tree.ctx, SYSTEM, parent.uuid)
    drain(tree)
    running = [tree.load(i.uuid).state for i in (parent, child, grandchild)]
    assert running == [InstanceState.STARTED] * 3


def test_recursion_past_the_depth_limit_is_an_incident(tree: Deployed) -> None:
    root = tree.start("recurse")
    drain(tree)
    deepest = root
    for _ in range(3):
        deepest = child_of(tree, deepest)
    assert deepest.calling.depth == 3
    assert deepest.state is InstanceState.FAILED
    assert deepest.incidents[-1].type == CALL_DEPTH_EXCEEDED
    # The failure climbs: each caller gets child_failed.
    assert tree.load(root.uuid).state is InstanceState.FAILED
    assert tree.load(root.uuid).incidents[-1].type == "child_failed"
