"""An HTTP start never picks a timer start event unless there is nothing else to pick."""

from __future__ import annotations

import pytest

from procflow.engine.start import choose_start_node
from procflow.model.errors import StartConditionMissing, StartNodeNotFound
from procflow.model.yaml_format import parse_definition_text


def definition(*starts: str) -> str:
    nodes = "".join(f"  - {start}\n" for start in starts)
    used = [s.split(",")[0].removeprefix("{id: ") for s in starts]
    flows = "".join(f"  - {{from: {s}, to: end}}\n" for s in used)
    return f"name: p\nnodes:\n{nodes}  - {{id: end, type: end}}\nflows:\n{flows}"


PLAIN = "{id: a, type: start}"
CRON = '{id: b, type: start, timer: {cron: "0 9 * * *"}}'
CYCLE = "{id: c, type: start, timer: {cycle: R/PT1H}}"


def choose(text: str, data: dict[str, object] | None = None) -> str:
    parsed = parse_definition_text(text, "p.yaml")
    return choose_start_node(parsed, data or {}).id


def test_http_start_uses_the_start_node_without_a_timer() -> None:
    assert choose(definition(CRON, PLAIN, CYCLE)) == "a"


def test_start_condition_is_not_needed_beside_timer_starts() -> None:
    assert choose(definition(PLAIN, CRON), {"startCondition": "anything"}) == "a"


def test_the_single_timer_start_is_used_when_every_start_has_a_timer() -> None:
    assert choose(definition(CRON)) == "b"


def test_several_timer_starts_alone_are_refused_as_before() -> None:
    with pytest.raises(StartConditionMissing):
        choose(definition(CRON, CYCLE))
    with pytest.raises(StartNodeNotFound):
        choose(definition(CRON, CYCLE), {"startCondition": "b"})
