"""Invalid commands raise a domain error; valid ones move the instance through its states."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from procflow.engine.events import ActionExecuted, Event, JobCompleted, Start, Terminate
from procflow.engine.step import step
from procflow.model.errors import (
    InstanceNotRunning,
    InstanceStateConflict,
    StartNodeNotFound,
    TokenNotFound,
    TokenNotWaiting,
    WaitNotFound,
)
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState, NodeStatus, TokenState
from tests.engine.conftest import NOW, Scenario, audits_of, live_at, new_instance, parse

PROCESS = """
    name: process
    nodes:
      - {id: begin, type: start}
      - {id: fork, type: parallelGateway}
      - {id: review, type: userTask, actions: [ok]}
      - {id: job, type: task, async: true}
      - {id: short, type: task}
      - {id: join, type: parallelGateway}
      - {id: done, type: end}
    flows:
      - {from: begin, to: fork}
      - {from: fork, to: review}
      - {from: fork, to: job}
      - {from: fork, to: short}
      - {from: review, to: join}
      - {from: job, to: join}
      - {from: short, to: join}
      - {from: join, to: done}
"""


def started() -> Scenario:
    scenario = Scenario(parse(PROCESS))
    scenario.start()
    return scenario


def test_starting_twice_is_refused() -> None:
    scenario = started()
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, scenario.instance, Start("begin"), NOW)


def test_starting_at_a_node_that_is_not_a_start_node_is_refused() -> None:
    for node_id in ("review", "missing"):
        with pytest.raises(StartNodeNotFound):
            step(parse(PROCESS), new_instance(), Start(node_id), NOW)


def test_actions_and_jobs_need_a_started_instance() -> None:
    instance = new_instance()
    events: list[Event] = [ActionExecuted(uuid4(), "ok"), JobCompleted("w1")]
    for event in events:
        with pytest.raises(InstanceNotRunning):
            step(parse(PROCESS), instance, event, NOW)


def test_an_unknown_token_is_not_found() -> None:
    scenario = started()
    with pytest.raises(TokenNotFound):
        step(scenario.definition, scenario.instance, ActionExecuted(uuid4(), "ok"), NOW)


def test_a_job_for_a_wait_the_instance_no_longer_has_is_ignored() -> None:
    scenario = started()
    with pytest.raises(WaitNotFound):
        step(scenario.definition, scenario.instance, JobCompleted("w999"), NOW)


def test_actions_on_tokens_that_do_not_wait_at_a_user_task_are_refused() -> None:
    scenario = started()
    joined = live_at(scenario.instance, "join")
    executing = live_at(scenario.instance, "job")
    forked = scenario.instance.token_by_id(1)
    assert forked is not None
    assert forked.state is TokenState.INACTIVE
    for token in (joined, executing, forked):
        with pytest.raises(TokenNotWaiting) as caught:
            step(scenario.definition, scenario.instance, ActionExecuted(token.uuid, "ok"), NOW)
        assert caught.value.details["tokenUuid"] == str(token.uuid)


def test_terminate_a_started_instance() -> None:
    scenario = started()
    result = scenario.terminate("customer withdrew")
    assert scenario.state() is InstanceState.TERMINATED
    states = {t.node_id: t.state for t in scenario.instance.tokens}
    assert states["review"] is TokenState.TERMINATED
    assert states["job"] is TokenState.TERMINATED
    assert states["join"] is TokenState.TERMINATED
    assert states["fork"] is TokenState.INACTIVE
    [audit] = audits_of(result, "instance_terminated")
    assert audit.details == {"reason": "customer withdrew", "by": None}
    assert scenario.instance.waits == ()
    again = step(scenario.definition, scenario.instance, Terminate(), NOW)
    assert not again.changed
    assert again.instance is scenario.instance
    token = next(t for t in scenario.instance.tokens if t.node_id == "review")
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, scenario.instance, ActionExecuted(token.uuid, "ok"), NOW)


def test_terminate_a_created_instance() -> None:
    result = step(parse(PROCESS), new_instance(), Terminate(), NOW)
    assert result.instance.state is InstanceState.TERMINATED
    assert result.instance.tokens == ()


@pytest.mark.parametrize(
    "state", [InstanceState.FINISHED, InstanceState.FAILED, InstanceState.TERMINATED]
)
def test_nothing_moves_a_final_instance(state: InstanceState) -> None:
    instance: ProcessInstance = replace(new_instance(), state=state)
    for event in (Start("begin"), ActionExecuted(uuid4(), "ok")):
        with pytest.raises(InstanceNotRunning):
            step(parse(PROCESS), instance, event, NOW)


def test_a_finished_instance_cannot_be_terminated() -> None:
    instance: ProcessInstance = replace(new_instance(), state=InstanceState.FINISHED)
    with pytest.raises(InstanceStateConflict) as caught:
        step(parse(PROCESS), instance, Terminate(), NOW)
    assert caught.value.details == {"state": "FINISHED"}


def test_an_on_hold_instance_refuses_actions_but_can_be_terminated() -> None:
    scenario = started()
    held = replace(scenario.instance, state=InstanceState.ON_HOLD)
    token = live_at(held, "review")
    with pytest.raises(InstanceNotRunning):
        step(scenario.definition, held, ActionExecuted(token.uuid, "ok"), NOW)
    assert step(scenario.definition, held, Terminate(), NOW).instance.state is (
        InstanceState.TERMINATED
    )


def test_the_full_life_of_an_instance() -> None:
    scenario = started()
    assert scenario.waiting() == [
        ("job", NodeStatus.EXECUTING),
        ("join", NodeStatus.WAITING_JOIN),
        ("review", NodeStatus.ARRIVED),
    ]
    scenario.complete_job("job")
    scenario.act("review", "ok")
    assert scenario.state() is InstanceState.FINISHED
    assert scenario.instance.live_tokens == ()
