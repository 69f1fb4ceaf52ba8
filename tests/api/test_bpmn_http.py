"""BPMN processes end to end over HTTP: the demo's .bpmn twin runs like its YAML form."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_start import LOAN

YAML_NAME, BPMN_NAME = "loan_application", "loan_application_bpmn"
RISKY = {"applicant": {"name": "Bo", "income": 1000}, "loan": {"amount": 90000}}


def _history(api: Api, uuid: str) -> list[tuple[str, str | None]]:
    events = api.client.get(f"/api/runtime/process/{uuid}/audit", headers=api.headers()).json()
    return [(e["type"], e["nodeId"]) for e in events["events"] if e["type"] != "instance_created"]


def _tokens(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (t["id"], t["state"], t["statusCurrentNode"], t["currentNodeId"]) for t in body["tokens"]
    ]


def _run(api: Api, name: str, data: dict[str, Any], action: str | None) -> dict[str, Any]:
    body = api.start(name, data, app=api.demo_app)
    if action is not None:
        body = api.act(body["uuid"], action, {"decision": {"by": "sam"}})
    return body


@pytest.mark.parametrize(("data", "action"), [(LOAN, "approve"), (LOAN, "reject"), (RISKY, None)])
def test_yaml_and_bpmn_forms_give_identical_histories(
    api: Api, data: dict[str, Any], action: str | None
) -> None:
    yaml_run = _run(api, YAML_NAME, data, action)
    bpmn_run = _run(api, BPMN_NAME, data, action)
    assert bpmn_run["state"] == yaml_run["state"] == "FINISHED"
    assert _tokens(bpmn_run) == _tokens(yaml_run)
    assert api.data(bpmn_run["uuid"]) == api.data(yaml_run["uuid"])
    assert _history(api, bpmn_run["uuid"]) == _history(api, yaml_run["uuid"])


def test_bpmn_process_copy_data_from(api: Api) -> None:
    source = api.start(BPMN_NAME, LOAN, app=api.demo_app)
    copy_path = (
        f"/api/runtime/wks/{api.workspace}/app/{api.demo_app}/process-name/"
        f"{BPMN_NAME}/start/copyDataFrom/{source['uuid']}"
    )
    response = api.client.post(copy_path, json={"loan": {"amount": 1000}}, headers=api.headers())
    assert response.status_code == 200, response.text
    copy = response.json()
    assert copy["instanceMetadata"]["copiedFromUuid"] == source["uuid"]
    data = api.data(copy["uuid"])
    assert data["loan"] == {"amount": 1000}
    assert data["risk"]["band"] == "low"


BPMN_IO_FILE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:procflow="https://procflow.dev/schema/bpmn"
  id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="bpmn-js">
  <bpmn:process id="Process_pruefung" name="pruefung" isExecutable="false">
    <bpmn:startEvent id="StartEvent_1" name="Antrag eingegangen">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:exclusiveGateway id="Gateway_1" name="Betrag hoch?" default="Flow_low">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_high</bpmn:outgoing>
      <bpmn:outgoing>Flow_low</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="Activity_1" name="Überprüfung des Antrags">
      <bpmn:extensionElements><procflow:action name="ok" /></bpmn:extensionElements>
      <bpmn:incoming>Flow_high</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_1" name="Fertig">
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:incoming>Flow_low</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Gateway_1" />
    <bpmn:sequenceFlow id="Flow_high" name="ja" sourceRef="Gateway_1" targetRef="Activity_1">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">
        input.betrag &gt; 1000
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_low" sourceRef="Gateway_1" targetRef="EndEvent_1" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_1" targetRef="EndEvent_1" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_pruefung">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="152" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def test_uploaded_bpmn_io_file_deploys_and_runs(api: Api) -> None:
    upload = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"pruefung.bpmn": BPMN_IO_FILE}, "activate": True},
        headers=api.headers(),
    )
    assert upload.status_code == 201, upload.text
    low = api.start("pruefung", {"betrag": 10})
    assert low["state"] == "FINISHED"
    high = api.start("pruefung", {"betrag": 5000})
    assert [t["currentNodeId"] for t in high["tokens"]] == ["Activity_1"]
    assert api.act(high["uuid"], "ok", {})["state"] == "FINISHED"


def test_invalid_bpmn_upload_names_element_and_line(api: Api) -> None:
    broken = BPMN_IO_FILE.replace('targetRef="Activity_1"', 'targetRef="Ghost"')
    response = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"pruefung.bpmn": broken}},
        headers=api.headers(),
    )
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert any(p["elementId"] == "Flow_high" and p["line"] for p in problems)


def test_upload_answers_deploy_warnings_placed_by_element_and_line(api: Api) -> None:
    unconditioned = BPMN_IO_FILE.replace('default="Flow_low"', "")
    response = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"pruefung.bpmn": unconditioned}, "activate": True},
        headers=api.headers(),
    )
    assert response.status_code == 201, response.text
    [warning] = response.json()["warnings"]
    line = next(
        n for n, text in enumerate(unconditioned.splitlines(), 1) if 'id="Flow_low"' in text
    )
    assert warning["file"] == "pruefung.bpmn"
    assert (warning["elementId"], warning["line"]) == ("Flow_low", line)
    assert "taken as true, in document order" in warning["message"]
    # The same files again: the existing build, with the same warning.
    again = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"pruefung.bpmn": unconditioned}},
        headers=api.headers(),
    )
    assert again.status_code == 200 and again.json()["warnings"] == [warning]


def test_a_camunda_model_with_juel_conditions_deploys_over_http_and_routes(api: Api) -> None:
    juel = (
        BPMN_IO_FILE.replace("input.betrag &gt; 1000", "${betrag &gt; 1000 &amp;&amp; !geprueft}")
        .replace('default="Flow_low"', "")
        .replace(
            '<bpmn:sequenceFlow id="Flow_low" sourceRef="Gateway_1" targetRef="EndEvent_1" />',
            '<bpmn:sequenceFlow id="Flow_low" sourceRef="Gateway_1" targetRef="EndEvent_1">'
            "<bpmn:conditionExpression>${betrag le 1000 or geprueft}</bpmn:conditionExpression>"
            "</bpmn:sequenceFlow>",
        )
    )
    response = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"pruefung.bpmn": juel}, "activate": True},
        headers=api.headers(),
    )
    assert response.status_code == 201, response.text
    warnings = {w["elementId"]: w["message"] for w in response.json()["warnings"]}
    assert set(warnings) == {"Flow_high", "Flow_low"}
    assert "runs as the CEL '((input.betrag <= 1000) || input.geprueft)'" in warnings["Flow_low"]
    high = api.start("pruefung", {"betrag": 5000, "geprueft": False})
    assert [t["currentNodeId"] for t in high["tokens"]] == ["Activity_1"]
    assert api.start("pruefung", {"betrag": 5000, "geprueft": True})["state"] == "FINISHED"
    assert api.start("pruefung", {"betrag": 10, "geprueft": False})["state"] == "FINISHED"
    # A variable the data lacks is an incident, as Camunda's PropertyNotFound is an error
    # (one that && or || need not read is not, in either).
    assert api.start("pruefung", {"betrag": 10})["state"] == "FINISHED"
    missing = api.start("pruefung", {"geprueft": False})
    assert missing["state"] == "FAILED"
