"""BPMN embedded subprocesses and multi-instance loop characteristics: read (nested, with
Procflow's attributes or Zeebe's extension), refused with a reason, and written back."""

from __future__ import annotations

from procflow.model.bpmn import parse_bpmn
from procflow.model.bpmn.writer import export_bpmn
from procflow.model.definition import SubProcessNode
from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import document, line_of

ZEEBE = ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'


def with_zeebe(data: bytes) -> bytes:
    return data.replace(b"<bpmn:definitions ", f"<bpmn:definitions{ZEEBE} ".encode(), 1)


def flows(*pairs: tuple[str, str]) -> str:
    return "".join(f'<bpmn:sequenceFlow id="F_{a}_{b}" sourceRef="{a}" targetRef="{b}" />\n'
                   for a, b in pairs)  # fmt: skip


def body(loop: str = "", inner_loop: str = "", sub_attributes: str = "") -> str:
    return f"""
  <bpmn:process id="orders" isExecutable="true">
    <bpmn:startEvent id="begin" />
    <bpmn:subProcess id="each"{sub_attributes}>
      {loop}
      <bpmn:startEvent id="eachStart" />
      <bpmn:serviceTask id="pack" procflow:topic="packing">{inner_loop}</bpmn:serviceTask>
      <bpmn:subProcess id="deeper">
        <bpmn:startEvent id="deepStart" />
        <bpmn:endEvent id="deepEnd" />
        {flows(("deepStart", "deepEnd"))}
      </bpmn:subProcess>
      <bpmn:endEvent id="eachEnd" />
      {flows(("eachStart", "pack"), ("pack", "deeper"), ("deeper", "eachEnd"))}
    </bpmn:subProcess>
    <bpmn:boundaryEvent id="tooLate" attachedToRef="each">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="done" />
    <bpmn:endEvent id="late" />
    {flows(("begin", "each"), ("each", "done"), ("tooLate", "late"))}
  </bpmn:process>
"""


PROCFLOW_LOOP = """<bpmn:multiInstanceLoopCharacteristics isSequential="true"
        procflow:collection="input.orders" procflow:elementVariable="order"
        procflow:outputElement="input.order.id" procflow:outputCollection="ids">
        <bpmn:completionCondition>input.nrOfCompletedInstances == 2</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>"""

ZEEBE_LOOP = """<bpmn:multiInstanceLoopCharacteristics>
        <bpmn:extensionElements>
          <zeebe:loopCharacteristics inputCollection="= parcels" inputElement="parcel"
            outputCollection="labels" outputElement="=label" />
        </bpmn:extensionElements>
      </bpmn:multiInstanceLoopCharacteristics>"""


def test_a_nested_subprocess_is_read_into_one_flat_node_map_with_scopes() -> None:
    [process] = parse_bpmn(document(body(PROCFLOW_LOOP)), "orders.bpmn")
    definition = process.definition
    assert isinstance(definition.nodes["each"], SubProcessNode)
    inner = {"eachStart": "each", "pack": "each", "deeper": "each", "eachEnd": "each"}
    assert definition.scopes == {**inner, "deepStart": "deeper", "deepEnd": "deeper"}
    assert [start.id for start in definition.start_nodes] == ["begin"]
    assert [start.id for start in definition.inner_starts["deeper"]] == ["deepStart"]
    loop = definition.loops["each"]
    assert (loop.collection.source, loop.element_variable, loop.sequential) == (
        "input.orders", "order", True)  # fmt: skip
    assert loop.output_element is not None and loop.output_element.source == "input.order.id"
    assert loop.output_collection == "ids"
    assert loop.completion_condition is not None


def test_a_zeebe_loop_reads_variable_paths_as_cel() -> None:
    [process] = parse_bpmn(with_zeebe(document(body(inner_loop=ZEEBE_LOOP))), "z.bpmn")
    loop = process.definition.loops["pack"]
    assert loop.collection.source == "input.parcels"
    assert (loop.element_variable, loop.output_collection) == ("parcel", "labels")
    assert loop.output_element is not None and loop.output_element.source == "input.label"
    assert not loop.sequential


def test_feel_in_a_zeebe_loop_is_refused_with_the_way_out() -> None:
    feel = ZEEBE_LOOP.replace("= parcels", "= filter(parcels, x > 1)")
    data = with_zeebe(document(body(inner_loop=feel)))
    find(problems_of(data), "not FEEL", "pack", line_of(data, 'outputElement="=label"'))


def test_a_loop_without_a_collection_is_refused() -> None:
    data = document(body(inner_loop="<bpmn:multiInstanceLoopCharacteristics />"))
    find(problems_of(data), "needs procflow:collection", "pack",
         line_of(data, "<bpmn:multiInstanceLoopCharacteristics />"))  # fmt: skip


def test_an_event_subprocess_is_refused_with_a_reason() -> None:
    data = document(body(sub_attributes=' triggeredByEvent="true"'))
    problems = problems_of(data)
    find(problems, "event subprocess (triggeredByEvent) is not supported yet", "each",
         line_of(data, 'triggeredByEvent="true"'))  # fmt: skip
    assert len(problems) == 1, [str(p) for p in problems]


def test_an_empty_subprocess_is_refused_for_want_of_a_start_event() -> None:
    text = body().replace('<bpmn:startEvent id="eachStart" />', "")
    text = text.replace(flows(("eachStart", "pack")), "")
    data = document(text)
    find(problems_of(data), "a subprocess needs a start event", "each", line_of(data,
         '<bpmn:subProcess id="each"'))  # fmt: skip


def test_subprocesses_and_loops_are_written_back_nested_and_read_the_same() -> None:
    [process] = parse_bpmn(document(body(PROCFLOW_LOOP)), "orders.bpmn")
    exported = export_bpmn(process.definition)
    [again] = parse_bpmn(exported, "again.bpmn")
    assert again.definition == process.definition
    text = exported.decode()
    assert text.index('<bpmn:subProcess id="deeper"') > text.index('<bpmn:subProcess id="each"')
    assert 'bpmnElement="each"' in text and 'id="BPMNPlane_deeper"' in text


MULTI_CALL = """
  <bpmn:process id="orders" isExecutable="true">
    <bpmn:startEvent id="begin" />
    <bpmn:callActivity id="check" calledElement="checker">
      <bpmn:multiInstanceLoopCharacteristics isSequential="true"
          procflow:collection="input.orders" procflow:elementVariable="order"
          procflow:outputElement="input.verdict" procflow:outputCollection="verdicts" />
    </bpmn:callActivity>
    <bpmn:endEvent id="done" />
    <bpmn:sequenceFlow id="F1" sourceRef="begin" targetRef="check" />
    <bpmn:sequenceFlow id="F2" sourceRef="check" targetRef="done" />
  </bpmn:process>
  <bpmn:process id="checker" isExecutable="true">
    <bpmn:startEvent id="cBegin" />
    <bpmn:endEvent id="cDone" />
    <bpmn:sequenceFlow id="F3" sourceRef="cBegin" targetRef="cDone" />
  </bpmn:process>
"""


def test_a_call_activity_takes_a_loop_and_writes_it_back() -> None:
    processes = parse_bpmn(document(MULTI_CALL), "calls.bpmn")
    [orders] = [p for p in processes if p.definition.name == "orders"]
    loop = orders.definition.loops["check"]
    assert loop.sequential and loop.element_variable == "order"
    assert loop.output_collection == "verdicts"
    [again] = parse_bpmn(export_bpmn(orders.definition), "again.bpmn")
    assert again.definition.loops["check"] == loop
