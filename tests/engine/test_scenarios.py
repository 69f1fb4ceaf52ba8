"""Determinism, untouched inputs, and saving/restoring between every step."""

from __future__ import annotations

import copy
from uuid import uuid4

from procflow.engine.events import ActionExecuted, Start
from procflow.engine.step import step
from procflow.model.instance import snapshot
from procflow.model.states import InstanceState
from tests.engine.conftest import (
    NOW,
    Scenario,
    live_at,
    loan_definition,
    new_instance,
    parse,
    save_restore,
)
from tests.engine.test_parallel import NESTED

DATA = {"applicant": {"name": "Ann", "income": 1000}, "loan": {"amount": 3000}}


def test_the_same_inputs_give_equal_results() -> None:
    definition = loan_definition()
    instance = new_instance(copy.deepcopy(DATA))
    first = step(definition, instance, Start("submitted"), NOW)
    second = step(definition, instance, Start("submitted"), NOW)
    assert first == second
    token = live_at(first.instance, "review")
    action = ActionExecuted(token.uuid, "approve", {"decision": {"ok": True}})
    assert step(definition, first.instance, action, NOW) == step(
        definition, second.instance, action, NOW
    )


def test_a_reloaded_definition_gives_the_same_results() -> None:
    instance = new_instance(copy.deepcopy(DATA))
    first = step(loan_definition(), instance, Start("submitted"), NOW)
    second = step(loan_definition(), instance, Start("submitted"), NOW)
    assert first == second


def test_different_instances_get_different_token_uuids() -> None:
    definition = loan_definition()
    one = step(definition, new_instance(dict(DATA)), Start("submitted"), NOW)
    two = step(definition, new_instance(dict(DATA)), Start("submitted"), NOW)
    assert {t.uuid for t in one.instance.tokens}.isdisjoint(t.uuid for t in two.instance.tokens)


def test_inputs_are_never_mutated() -> None:
    definition = loan_definition()
    data = copy.deepcopy(DATA)
    instance = new_instance(data)
    kept_instance, kept_data = copy.deepcopy(instance), copy.deepcopy(data)
    result = step(definition, instance, Start("submitted"), NOW)
    assert instance == kept_instance
    assert data == kept_data
    body = {"decision": {"notes": ["a", "b"]}, "applicant": {"name": None}}
    kept_body, kept_started = copy.deepcopy(body), copy.deepcopy(result.instance)
    token = live_at(result.instance, "review")
    finished = step(definition, result.instance, ActionExecuted(token.uuid, "reject", body), NOW)
    assert body == kept_body
    assert result.instance == kept_started
    assert finished.instance.data["applicant"] == {"income": 1000}


def test_save_restore_between_every_step_of_a_nested_process() -> None:
    scenario = Scenario(parse(NESTED))  # Scenario saves and restores after every step
    scenario.start()
    scenario.act("z", "ok")
    scenario.act("x", "ok")
    assert scenario.state() is InstanceState.FINISHED


def test_a_restored_instance_continues_exactly_like_the_original() -> None:
    definition = parse(NESTED)
    started = step(definition, new_instance({"n": 1}), Start("begin"), NOW).instance
    restored = save_restore(started)
    assert snapshot(restored) == snapshot(started)
    for action_at in ("x", "z"):
        token = live_at(started, action_at)
        event = ActionExecuted(token.uuid, "ok", {action_at: True})
        from_original = step(definition, started, event, NOW)
        from_restored = step(definition, restored, event, NOW)
        assert from_original == from_restored
        started, restored = from_original.instance, save_restore(from_restored.instance)
    assert started.state is InstanceState.FINISHED
    assert started.data == {"n": 1, "x": True, "z": True, "y": True}


def test_a_failed_instance_saves_and_restores_with_its_incident() -> None:
    text = """
    name: boom
    nodes:
      - {id: begin, type: start}
      - {id: boom, type: task, rules: [{set: {x: "input.nope"}}]}
      - {id: done, type: end}
    flows:
      - {from: begin, to: boom}
      - {from: boom, to: done}
    """
    scenario = Scenario(parse(text), {"id": str(uuid4())})
    scenario.start()
    assert scenario.state() is InstanceState.FAILED
    assert len(scenario.instance.incidents) == 1
