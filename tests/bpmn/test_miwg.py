"""The OMG MIWG reference models (/work/shared/bpmn-miwg): files with timer events.

No MIWG process with a timer uses only supported elements (each also has messages, errors,
subprocesses, pools or empty timer definitions), so each file, read with every process (a
pool skipped on deploy included: reference/C.1.0 deploys, its timer is in such a pool), must
be refused, never crash, and every problem must name its element and line; well-formed timers
must not be blamed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from procflow.model.bpmn import parse_bpmn
from procflow.model.definition import BoundaryEvent, TimerCatchNode
from procflow.model.errors import DefinitionInvalid

MIWG = Path("/work/shared/bpmn-miwg")
FILES = sorted(MIWG.glob("*/*.bpmn")) if MIWG.exists() else []
WITH_TIMERS = [path for path in FILES if b"timerEventDefinition" in path.read_bytes()]

# Timer events of the suite whose value is well formed; refusals must come from elsewhere.
WELL_FORMED_TIMERS = {
    "C.9.1.bpmn": ["BoundaryEvent_1", "BoundaryEvent_2"],  # R6/P1D non-interrupting, P7D
    "C.9.2.bpmn": ["TimerEvent_Timeout"],  # P7D on a user task
}

pytestmark = pytest.mark.skipif(not FILES, reason="the MIWG suite is not on this machine")


def test_the_suite_has_files_with_timers() -> None:
    assert len(WITH_TIMERS) >= 10


@pytest.mark.parametrize("path", WITH_TIMERS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_file_with_timers_is_refused_with_placed_problems(path: Path) -> None:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_bpmn(path.read_bytes(), path.name, every_process=True)
    problems = caught.value.problems
    assert problems
    for problem in problems:
        assert problem.message.strip()
        if problem.element_id is not None:
            assert problem.line is not None, str(problem)
    blamed = {problem.element_id for problem in problems}
    for element_id in WELL_FORMED_TIMERS.get(path.name, []):
        assert element_id not in blamed, [str(p) for p in problems if p.element_id == element_id]


@pytest.mark.parametrize("name", ["B.1.0.bpmn", "C.6.0.bpmn"])
def test_empty_time_date_is_reported_as_empty(name: str) -> None:
    path = MIWG / "reference" / name
    with pytest.raises(DefinitionInvalid) as caught:
        parse_bpmn(path.read_bytes(), name)
    assert any("the date timer is empty" in p.message for p in caught.value.problems)


def test_bpmn_io_export_with_a_valueless_timer_says_so() -> None:
    path = MIWG / "bpmn.io-18.6.1" / "C.9.2-export.bpmn"
    with pytest.raises(DefinitionInvalid) as caught:
        parse_bpmn(path.read_bytes(), path.name)
    [problem] = [p for p in caught.value.problems if p.element_id == "Event_0s3q36a"]
    assert "has none of timeDuration, timeDate, timeCycle" in problem.message


def test_timer_events_of_a_miwg_model_deploy_once_the_rest_is_supported() -> None:
    """C.9.2's user task with its 7-day boundary timer, cut out of the reference model and
    given the Procflow action a user task needs, deploys as drawn."""
    source = (MIWG / "reference" / "C.9.2.bpmn").read_text()
    start = source.index('<bpmn2:boundaryEvent id="TimerEvent_Timeout"')
    boundary = source[start : source.index("</bpmn2:boundaryEvent>", start)]
    boundary += "</bpmn2:boundaryEvent>"
    data = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:procflow="https://procflow.dev/schema/bpmn" id="D" targetNamespace="t">
  <bpmn2:process id="decide" isExecutable="true">
    <bpmn2:startEvent id="Start" />
    <bpmn2:userTask id="UserTask_DecideOnApplication">
      <bpmn2:extensionElements><procflow:action name="decide" /></bpmn2:extensionElements>
    </bpmn2:userTask>
    {boundary}
    <bpmn2:endEvent id="Done" />
    <bpmn2:endEvent id="ErrorEndEvent_Timeout" />
    <bpmn2:sequenceFlow id="f1" sourceRef="Start" targetRef="UserTask_DecideOnApplication" />
    <bpmn2:sequenceFlow id="f2" sourceRef="UserTask_DecideOnApplication" targetRef="Done" />
    <bpmn2:sequenceFlow id="Flow_03n7pdb" sourceRef="TimerEvent_Timeout"
                        targetRef="ErrorEndEvent_Timeout" />
  </bpmn2:process>
</bpmn2:definitions>""".encode()
    [process] = parse_bpmn(data, "C.9.2-cut.bpmn")
    timeout = process.definition.nodes["TimerEvent_Timeout"]
    assert isinstance(timeout, BoundaryEvent)
    assert timeout.timer is not None
    assert (timeout.timer.kind, timeout.timer.value, timeout.interrupting) == (
        "duration",
        "P7D",
        True,
    )
    assert not any(isinstance(n, TimerCatchNode) for n in process.definition.nodes.values())
