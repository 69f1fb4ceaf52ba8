"""Timers in the YAML format: each node kind parses, and each refusal names the node and line."""

from __future__ import annotations

import pytest

from procflow.model.definition import (
    BoundaryEvent,
    EventBasedGateway,
    ProcessDefinition,
    StartNode,
    TimerCatchNode,
)
from procflow.model.errors import DefinitionInvalid, DefinitionProblem
from procflow.model.timers import TimerKind, TimerSpec
from procflow.model.yaml_format import parse_definition_text

# Every timer form: a cron start beside a plain one, a user task with an interrupting and a
# non-interrupting boundary timer, an event-based gateway racing two catch timers.
WAITS = """\
name: waits
expiryTime: P7D
nodes:
  - {id: begin, type: start}
  - {id: weekdays, type: start, timer: {cron: "0 9 * * MON-FRI"}}
  - {id: review, type: userTask, actions: [done]}
  - id: remind
    type: boundaryTimer
    attachedTo: review
    interrupting: false
    timer: {cycle: R3/PT1H}
  - {id: too_late, type: boundaryTimer, attachedTo: review, timer: {date: 2027-01-01T09:00:00Z}}
  - {id: nudge, type: task}
  - {id: race, type: eventGateway}
  - {id: computed, type: timer, timer: {duration: "=input.wait"}}
  - {id: month, type: timer, name: A month, timer: {duration: P1M}}
  - {id: end, type: end}
flows:
  - {from: begin, to: review}
  - {from: weekdays, to: review}
  - {from: review, to: race}
  - {from: remind, to: nudge}
  - {from: nudge, to: end}
  - {from: too_late, to: end}
  - {from: race, to: computed}
  - {from: race, to: month}
  - {from: computed, to: end}
  - {from: month, to: end}
"""


def parse(text: str) -> ProcessDefinition:
    return parse_definition_text(text, "waits.yaml")


def problems(text: str) -> list[DefinitionProblem]:
    with pytest.raises(DefinitionInvalid) as caught:
        parse(text)
    return list(caught.value.problems)


def only(found: list[DefinitionProblem], fragment: str, element_id: str) -> DefinitionProblem:
    matching = [p for p in found if fragment in p.message and p.element_id == element_id]
    assert len(matching) == 1, [str(p) for p in found]
    return matching[0]


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_every_timer_form_parses() -> None:
    definition = parse(WAITS)
    assert definition.expiry_time == "P7D"
    assert definition.nodes["weekdays"] == StartNode(
        "weekdays", timer=TimerSpec(TimerKind.CRON, "0 9 * * MON-FRI")
    )
    assert definition.nodes["remind"] == BoundaryEvent(
        "remind", "", "review", TimerSpec(TimerKind.CYCLE, "R3/PT1H"), interrupting=False
    )
    # An unquoted YAML timestamp stays the ISO text that was written.
    too_late = definition.nodes["too_late"]
    assert isinstance(too_late, BoundaryEvent)
    assert too_late.timer == TimerSpec(TimerKind.DATE, "2027-01-01T09:00:00Z")
    assert too_late.interrupting
    assert definition.nodes["race"] == EventBasedGateway("race")
    month = definition.nodes["month"]
    assert month == TimerCatchNode("month", "A month", TimerSpec(TimerKind.DURATION, "P1M"))
    computed = definition.nodes["computed"]
    assert isinstance(computed, TimerCatchNode)
    assert computed.timer.expression is not None
    assert computed.timer.value == "input.wait"


def test_boundaries_are_indexed_by_their_activity() -> None:
    definition = parse(WAITS)
    assert [b.id for b in definition.boundaries_of("review")] == ["remind", "too_late"]
    assert definition.boundaries_of("nudge") == ()


def test_nodes_after_a_boundary_event_are_reachable() -> None:
    # "nudge" is only reached through the boundary event "remind".
    assert "nudge" in parse(WAITS).nodes


def replace(old: str, new: str) -> str:
    assert old in WAITS
    return WAITS.replace(old, new)


@pytest.mark.parametrize(
    ("old", "new", "element_id", "fragment"),
    [
        ("{duration: P1M}", "{duration: 1 month}", "month", "'1 month' is not an ISO 8601"),
        ("{duration: P1M}", "{date: 2027-02-30T00:00:00Z}", "month", "not an ISO 8601 date"),
        ("{cycle: R3/PT1H}", "{cycle: R3/PT}", "remind", "not an ISO 8601 duration"),
        ('{cron: "0 9 * * MON-FRI"}', '{cron: "0 9 * *"}', "weekdays", "five cron fields"),
        ("{duration: P1M}", "{cycle: R/PT1H}", "month", "not a cycle"),
        ("{duration: P1M}", '{cron: "* * * * *"}', "month", "not a cron"),
        ("interrupting: false", "interrupting: true", "remind", "only a non-interrupting"),
        (
            "{date: 2027-01-01T09:00:00Z}",
            '{cron: "* * * * *"}',
            "too_late",
            "a boundary timer takes a duration, a date or a cycle, not a cron",
        ),
        ('{cron: "0 9 * * MON-FRI"}', "{duration: PT1H}", "weekdays", "not a duration"),
        (
            '{cron: "0 9 * * MON-FRI"}}',
            '{cron: "0 9 * * MON-FRI"}, mandatoryParams: [a]}',
            "weekdays",
            "cannot have mandatoryParams",
        ),
        (
            '{cron: "0 9 * * MON-FRI"}}',
            '{cron: "0 9 * * MON-FRI"}, startCondition: cron}',
            "weekdays",
            "cannot have a startCondition",
        ),
        ("attachedTo: review", "attachedTo: ghost", "remind", "unknown activity 'ghost'"),
        ("attachedTo: review", "attachedTo: race", "remind", "not to eventGateway 'race'"),
        (
            "{from: remind, to: nudge}",
            "{from: remind, to: nudge}\n  - {from: begin, to: remind}",
            "remind",
            "cannot have incoming flows",
        ),
        (
            "{from: too_late, to: end}",
            "{from: too_late, to: end}\n  - {from: too_late, to: nudge}",
            "too_late",
            "several outgoing flows",
        ),
        ("{from: too_late, to: end}", "{from: review, to: review}", "too_late", "no outgoing flow"),
        (
            "{from: race, to: month}",
            "{from: race, to: nudge}",
            "Flow_race_nudge",
            "must lead to a timer or message catch event, not to task 'nudge'",
        ),
        ("{from: race, to: month}", "{from: nudge, to: month}", "race", "at least two outgoing"),
        (
            "{from: computed, to: end}",
            "{from: computed, to: end}\n  - {from: begin, to: computed}",
            "computed",
            "cannot have other incoming flows",
        ),
        ("expiryTime: P7D", "expiryTime: seven days", "waits", "expiryTime: duration"),
        ('"=input.wait"', '"=wait"', "computed", "unknown variable(s) wait"),
    ],
)
def test_each_refusal_names_the_node(old: str, new: str, element_id: str, fragment: str) -> None:
    text = replace(old, new)
    problem = only(problems(text), fragment, element_id)
    if element_id in ("Flow_race_nudge", "waits"):
        return
    assert problem.line == line_of(text, f"id: {element_id}")


def test_juel_gets_a_hint_to_cel() -> None:
    problem = only(problems(replace("{duration: P1M}", '{duration: "${wait}"}')), "JUEL", "month")
    assert "=<CEL>" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("{duration: P1M}", "{duration: P1M, date: 2027-01-01T00:00:00Z}", "too many properties"),
        ("{duration: P1M}", "{}", "should be non-empty"),
        ("{duration: P1M}", "{every: P1M}", "'every' was unexpected"),
        ("type: timer, name: A month, timer: {duration: P1M}", "type: timer", "'timer'"),
        ("    attachedTo: review\n", "", "'attachedTo' is a required property"),
        ("interrupting: false", "interrupting: no-way", "is not of type 'boolean'"),
        ("expiryTime: P7D", "expiryTime: 7", "is not of type 'string'"),
    ],
)
def test_shape_is_checked_by_the_schema(old: str, new: str, fragment: str) -> None:
    found = problems(replace(old, new))
    assert any(fragment in p.message for p in found), [str(p) for p in found]


def test_two_plain_starts_still_need_conditions_but_a_timer_start_does_not() -> None:
    assert len(parse(WAITS).start_nodes) == 2
    text = replace(
        "- {id: begin, type: start}", "- {id: begin, type: start}\n  - {id: b2, type: start}"
    )
    text = text.replace(
        "  - {from: begin, to: review}", "  - {from: begin, to: review}\n  - {from: b2, to: review}"
    )
    found = problems(text)
    assert {p.element_id for p in found if "each needs a startCondition" in p.message} == {
        "begin",
        "b2",
    }
