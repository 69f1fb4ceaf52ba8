"""Timers through the store and the worker, with a fake clock: each fires exactly once,
a cancelled one never, one due while its instance is on hold fires on unhold, and a timer
start event starts one instance per due time of the app's active build."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from procflow.model.states import InstanceState
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.commands import execute_action, hold, unhold
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.runtime.worker import Worker, WorkerSettings
from procflow.store.port import InstanceQuery, Store

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

WAIT = """
name: wait
nodes:
  - {id: begin, type: start}
  - {id: pause, type: timer, timer: {duration: PT1M}}
  - {id: done, type: end}
flows:
  - {from: begin, to: pause}
  - {from: pause, to: done}
"""

REVIEW = """
name: review
nodes:
  - {id: begin, type: start}
  - {id: review, type: userTask, actions: [ok]}
  - {id: late, type: boundaryTimer, attachedTo: review, timer: {duration: PT1H}}
  - {id: escalated, type: end}
  - {id: done, type: end}
flows:
  - {from: begin, to: review}
  - {from: review, to: done}
  - {from: late, to: escalated}
"""

TICK = """
name: tick
nodes:
  - {id: every_minute, type: start, timer: {cycle: R3/PT1M}}
  - {id: done, type: end}
flows:
  - {from: every_minute, to: done}
"""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Deployment:
    def __init__(self, store: Store, files: dict[str, str]) -> None:
        self.store = store
        self.clock = Clock()
        self.ctx = RuntimeContext(store, clock=self.clock)
        self.workspace, self.app = uuid4(), uuid4()
        deploy.create_workspace(store, SYSTEM, "timers", self.workspace)
        deploy.create_app(store, SYSTEM, self.workspace, "timers", self.app)
        self.deploy(files)

    def deploy(self, files: dict[str, str]) -> None:
        encoded = {name: text.encode() for name, text in files.items()}
        deploy.deploy_build(
            self.store, SYSTEM, self.workspace, self.app, encoded, activate=True, now=self.clock()
        )

    def start(self, process: str) -> UUID:
        request = StartRequest(StartTarget(self.app, workspace_id=self.workspace), process, {})
        return start_process(self.ctx, SYSTEM, request).instance.uuid

    def worker(self, name: str = "w") -> Worker:
        return Worker(self.ctx, WorkerSettings(worker_id=name))

    def drain(self) -> None:
        worker = self.worker()
        while worker.run_once():
            pass

    def state(self, uuid: UUID) -> InstanceState:
        with self.store.transaction() as txn:
            instance = txn.get_instance(uuid)
        assert instance is not None
        return instance.state

    def instances(self, process: str) -> int:
        with self.store.transaction() as txn:
            query = InstanceQuery(self.workspace, definition_name=process, limit=1000)
            return len(txn.search_instances(query))

    def audit_count(self, uuid: UUID, type_: str) -> int:
        with self.store.transaction() as txn:
            return sum(1 for record in txn.list_audit(uuid) if record.type == type_)


def test_a_timer_fires_once_when_due_and_not_before(store: Store) -> None:
    world = Deployment(store, {"wait.yaml": WAIT})
    uuid = world.start("wait")
    world.clock.advance(seconds=59)
    world.drain()
    assert world.state(uuid) is InstanceState.STARTED
    world.clock.advance(seconds=1)
    world.drain()
    assert world.state(uuid) is InstanceState.FINISHED
    assert world.audit_count(uuid, "timer_fired") == 1
    with store.transaction() as txn:
        assert txn.list_jobs(uuid) == []


def test_a_timer_whose_token_left_is_deleted_and_never_fires(store: Store) -> None:
    world = Deployment(store, {"review.yaml": REVIEW})
    uuid = world.start("review")
    with store.transaction() as txn:
        [job] = txn.list_jobs(uuid)
        instance = txn.get_instance(uuid)
    assert instance is not None and job.kind == "timer"
    token = next(t for t in instance.tokens if t.node_id == "review")

    execute_action(world.ctx, SYSTEM, uuid, token.uuid, "ok", {})
    with store.transaction() as txn:
        assert txn.list_jobs(uuid) == []
    world.clock.advance(hours=2)
    world.drain()
    assert world.audit_count(uuid, "boundary_event_triggered") == 0


def test_a_timer_due_while_on_hold_fires_on_unhold(store: Store) -> None:
    world = Deployment(store, {"wait.yaml": WAIT})
    uuid = world.start("wait")
    hold(world.ctx, SYSTEM, uuid)
    world.clock.advance(minutes=5)
    assert world.worker().run_once() == 0  # held: not even claimed
    assert world.state(uuid) is InstanceState.ON_HOLD
    unhold(world.ctx, SYSTEM, uuid)
    world.drain()
    assert world.state(uuid) is InstanceState.FINISHED


def test_a_timer_claimed_before_a_hold_is_parked_not_lost(store: Store) -> None:
    world = Deployment(store, {"wait.yaml": WAIT})
    uuid = world.start("wait")
    world.clock.advance(minutes=1)
    worker = world.worker()
    [job] = worker._claim()
    hold(world.ctx, SYSTEM, uuid)
    worker._run_job(job)
    assert world.state(uuid) is InstanceState.ON_HOLD
    with store.transaction() as txn:
        [parked] = txn.list_jobs(uuid)
    assert parked.id == job.id
    unhold(world.ctx, SYSTEM, uuid)
    world.drain()
    assert world.state(uuid) is InstanceState.FINISHED
    assert world.audit_count(uuid, "timer_fired") == 1


def test_racing_workers_fire_each_due_timer_exactly_once(store: Store) -> None:
    world = Deployment(store, {"wait.yaml": WAIT})
    uuids = [world.start("wait") for _ in range(30)]
    world.clock.advance(minutes=1)
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        worker = Worker(world.ctx, WorkerSettings(worker_id=name, batch_size=4))
        barrier.wait()
        while worker.run_once():
            pass

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {world.state(uuid) for uuid in uuids} == {InstanceState.FINISHED}
    assert [world.audit_count(uuid, "timer_fired") for uuid in uuids] == [1] * 30


def test_a_timer_start_event_starts_one_instance_per_due_time(store: Store) -> None:
    world = Deployment(store, {"tick.yaml": TICK})
    world.drain()
    assert world.instances("tick") == 0
    for minute in (1, 2, 3):
        world.clock.now = T0 + timedelta(minutes=minute)
        world.drain()
        world.drain()
        assert world.instances("tick") == minute
    world.clock.advance(hours=1)
    world.drain()
    assert world.instances("tick") == 3  # R3: three due times, three instances


def test_racing_workers_start_one_instance_per_timer_start_due_time(store: Store) -> None:
    world = Deployment(store, {"tick.yaml": TICK})
    world.clock.advance(minutes=1)
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        worker = Worker(world.ctx, WorkerSettings(worker_id=name))
        barrier.wait()
        worker.run_once()

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert world.instances("tick") == 1


def test_a_new_active_build_replaces_the_timer_starts_of_the_old_one(store: Store) -> None:
    world = Deployment(store, {"tick.yaml": TICK})
    world.deploy({"tick.yaml": TICK.replace("R3/PT1M", "R1/PT10M")})
    world.clock.advance(minutes=5)
    world.drain()
    assert world.instances("tick") == 0  # the old build's PT1M schedule is gone
    world.clock.advance(minutes=5)
    world.drain()
    assert world.instances("tick") == 1


def test_occurrences_missed_while_no_worker_ran_are_skipped_not_burst(store: Store) -> None:
    world = Deployment(store, {"tick.yaml": TICK.replace("R3/PT1M", "R/PT1M")})
    world.clock.advance(minutes=30)  # the worker was down for half an hour
    world.drain()
    assert world.instances("tick") == 1
    world.clock.advance(minutes=1)
    world.drain()
    assert world.instances("tick") == 2


THEN_TASK = """
name: then_task
nodes:
  - {id: begin, type: start}
  - {id: pause, type: timer, timer: {duration: PT1S}}
  - {id: stamp, type: task, async: true, rules: [{set: {stamped: "true"}}]}
  - {id: done, type: end}
flows:
  - {from: begin, to: pause}
  - {from: pause, to: stamp}
  - {from: stamp, to: done}
"""


def test_a_timer_job_continued_into_a_task_runs_the_task(store: Store) -> None:
    """The timer's job row becomes the task's (one claim): it must run as a task."""
    world = Deployment(store, {"then_task.yaml": THEN_TASK})
    uuid = world.start("then_task")
    world.clock.advance(seconds=1)
    assert world.worker().run_once() == 1
    assert world.state(uuid) is InstanceState.FINISHED
    assert world.audit_count(uuid, "task_executed") == 1
