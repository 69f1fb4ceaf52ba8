"""Writing definitions as BPMN: round trips, diagram interchange, kept drawings."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from procflow.model.bpmn import export_bpmn, export_bpmn_process, parse_bpmn
from procflow.model.definition import ProcessDefinition
from procflow.model.yaml_format import parse_definition_text
from tests.bpmn.documents import REVIEW

ROOT = Path(__file__).resolve().parents[2]
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}

LOOPING = """\
name: rework
description: Fix until it passes, then finish.
nodes:
  - id: begin
    type: start
    name: Begin
    startCondition: api
    mandatoryParams: [case.id]
    schema: {type: object, properties: {case: {type: object}}}
  - {id: begin_web, type: start, startCondition: web}
  - id: work
    type: task
    name: Do the work
    async: true
    rules:
      - name: count
        set: {attempts: "input.attempts + 1", "last.note": "'again'"}
  - {id: check, type: exclusiveGateway, name: "Good enough?", default: again}
  - {id: fix, type: userTask, name: Fix it, actions: [fixed, give_up]}
  - {id: done, type: end}
  - {id: dropped, type: end, name: Dropped}
flows:
  - {from: begin, to: work}
  - {from: begin_web, to: work}
  - {from: work, to: check}
  - {id: good, from: check, to: done, condition: "input.attempts > 2", name: "yes"}
  - {id: again, from: check, to: fix}
  - {id: fixed, from: fix, to: work, action: fixed}
  - {id: give_up, from: fix, to: dropped, action: give_up}
"""


def loans() -> ProcessDefinition:
    text = (ROOT / "examples/loans/loan_application.yaml").read_text()
    return parse_definition_text(text, "loan_application.yaml")


def reimport(data: bytes) -> ProcessDefinition:
    [process] = parse_bpmn(data, "exported.bpmn")
    return process.definition


def test_yaml_example_round_trips_through_bpmn() -> None:
    definition = loans()
    assert reimport(export_bpmn(definition)) == definition


def test_every_feature_round_trips_including_loops() -> None:
    definition = parse_definition_text(LOOPING, "rework.yaml")
    exported = export_bpmn(definition, process_id="Process_rework")
    assert reimport(exported) == definition
    assert parse_bpmn(exported, "exported.bpmn")[0].id == "Process_rework"


def test_export_has_a_shape_per_node_and_an_edge_per_flow() -> None:
    definition = parse_definition_text(LOOPING, "rework.yaml")
    root = etree.fromstring(export_bpmn(definition))
    [plane] = root.findall("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    assert plane.get("bpmnElement") == root.find("bpmn:process", NS).get("id")  # type: ignore[union-attr]
    shapes = {s.get("bpmnElement"): s for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}
    assert set(shapes) == set(definition.nodes)
    assert set(edges) == {flow.id for flow in definition.flows}
    sizes = {node_id: bounds_of(shape)[2:] for node_id, shape in shapes.items()}
    assert sizes["begin"] == sizes["done"] == (36, 36)
    assert sizes["work"] == sizes["fix"] == (100, 80)
    assert sizes["check"] == (50, 50)
    assert all(len(edge.findall("di:waypoint", NS)) >= 2 for edge in edges.values())


def test_auto_layout_goes_left_to_right_without_overlaps() -> None:
    root = etree.fromstring(export_bpmn(loans()))
    boxes = {
        shape.get("bpmnElement"): bounds_of(shape)
        for shape in root.iterfind(".//bpmndi:BPMNShape", NS)
    }
    assert boxes["submitted"][0] < boxes["score"][0] < boxes["route"][0] < boxes["checks"][0]
    assert boxes["checks"][0] < boxes["fraud"][0] < boxes["checks_done"][0] < boxes["review"][0]
    placed = list(boxes.values())
    for index, first in enumerate(placed):
        for second in placed[index + 1 :]:
            assert not overlaps(first, second), (first, second)


def test_nodes_list_their_incoming_and_outgoing_flows_like_bpmn_io() -> None:
    root = etree.fromstring(export_bpmn(loans()))
    review = root.find(".//bpmn:userTask[@id='review']", NS)
    assert review is not None
    assert [e.text for e in review.findall("bpmn:incoming", NS)] == ["Flow_checks_done_review"]
    assert [e.text for e in review.findall("bpmn:outgoing", NS)] == [
        "Flow_review_approved",
        "Flow_review_rejected",
    ]
    condition = root.find(".//bpmn:sequenceFlow[@id='too_risky']/bpmn:conditionExpression", NS)
    assert condition is not None
    xsi_type = "{http://www.w3.org/2001/XMLSchema-instance}type"
    assert condition.get(xsi_type) == "bpmn:tFormalExpression"


def test_bpmn_in_bpmn_out_keeps_the_modelers_drawing() -> None:
    [review] = parse_bpmn(REVIEW, "review.bpmn")
    exported = export_bpmn_process(review)
    assert drawn_bounds(exported) == drawn_bounds(REVIEW)
    assert waypoints(exported) == waypoints(REVIEW)
    [again] = parse_bpmn(exported, "again.bpmn")
    assert (again.id, again.definition) == (review.id, review.definition)
    assert "Überprüfung des Antrags" in exported.decode("utf-8")


def test_loan_example_keeps_its_drawing_and_labels() -> None:
    source = (ROOT / "examples/loans/loan_application.bpmn").read_bytes()
    [process] = parse_bpmn(source, "loan_application.bpmn")
    exported = export_bpmn_process(process)
    assert drawn_bounds(exported) == drawn_bounds(source)
    assert exported.count(b"BPMNLabel>") == source.count(b"BPMNLabel>")


def test_nodes_missing_from_the_drawing_are_laid_out() -> None:
    [review] = parse_bpmn(REVIEW, "review.bpmn")
    partial = {key: value for key, value in review.diagram.items() if key != "Event_declined"}
    root = etree.fromstring(export_bpmn(review.definition, review.id, partial))
    shapes = root.findall(".//bpmndi:BPMNShape", NS)
    assert {shape.get("bpmnElement") for shape in shapes} == set(review.definition.nodes)
    declined = root.find(".//bpmndi:BPMNShape[@bpmnElement='Event_declined']", NS)
    assert declined is not None
    assert bounds_of(declined)[2:] == (36, 36)


def test_process_id_is_made_from_a_name_that_is_not_an_xml_id() -> None:
    definition = ProcessDefinition.create(
        "9:lives", list(loans().nodes.values()), list(loans().flows)
    )
    [process] = parse_bpmn(export_bpmn(definition), "lives.bpmn")
    assert process.id == "Process_9_lives"
    assert process.definition == definition


def bounds_of(shape: etree._Element) -> tuple[int, int, int, int]:
    bounds = shape.find("dc:Bounds", NS)
    assert bounds is not None
    return (
        int(float(bounds.get("x", ""))),
        int(float(bounds.get("y", ""))),
        int(float(bounds.get("width", ""))),
        int(float(bounds.get("height", ""))),
    )


def overlaps(first: tuple[int, int, int, int], second: tuple[int, int, int, int]) -> bool:
    (x1, y1, w1, h1), (x2, y2, w2, h2) = first, second
    return x1 < x2 + w2 and x2 < x1 + w1 and y1 < y2 + h2 and y2 < y1 + h1


def drawn_bounds(data: bytes) -> dict[str | None, tuple[int, int, int, int]]:
    root = etree.fromstring(data)
    return {s.get("bpmnElement"): bounds_of(s) for s in root.iterfind(".//bpmndi:BPMNShape", NS)}


def waypoints(data: bytes) -> dict[str | None, list[tuple[str | None, str | None]]]:
    root = etree.fromstring(data)
    return {
        edge.get("bpmnElement"): [(p.get("x"), p.get("y")) for p in edge.findall("di:waypoint", NS)]
        for edge in root.iterfind(".//bpmndi:BPMNEdge", NS)
    }
