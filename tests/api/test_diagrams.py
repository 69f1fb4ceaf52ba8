"""The console's diagrams: BPMN XML with diagram interchange of the definition an instance
runs on, and of any definition of a build. YAML is laid out; BPMN keeps its drawing."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from lxml import etree

from tests.api.conftest import Api
from tests.api.test_errors import assert_problem

ROOT = Path(__file__).resolve().parents[2]
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"


def _shapes(xml: bytes) -> dict[str, tuple[str, ...]]:
    """Each drawn element's bounds, by the id of the element it draws."""
    shapes: dict[str, tuple[str, ...]] = {}
    for shape in etree.fromstring(xml).iter(f"{DI}BPMNShape"):
        bounds = shape.find(f"{DC}Bounds")
        assert bounds is not None
        sides = ("x", "y", "width", "height")
        shapes[str(shape.get("bpmnElement"))] = tuple(str(bounds.get(k)) for k in sides)
    return shapes


def test_an_instance_of_a_yaml_definition_gets_a_laid_out_diagram(api: Api) -> None:
    started = api.start("straight", {"a": 1, "b": 2})
    answer = api.client.get(
        f"/api/runtime/process/{started['uuid']}/diagram", headers=api.headers()
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    root = etree.fromstring(answer.content)
    [process] = root.iter(f"{BPMN}process")
    assert process.get("id") == "straight"
    assert set(_shapes(answer.content)) == {"begin", "compute", "done"}
    by_build = (
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds/{api.test_build.id}"
        "/definitions/straight/diagram"
    )
    same = api.client.get(by_build, headers=api.headers())
    assert same.status_code == 200 and same.content == answer.content


def test_a_bpmn_definition_keeps_its_drawing(api: Api) -> None:
    # Its process is named loan_application_bpmn (the demo app has the YAML one).
    source = (ROOT / "examples/loans/loan_application.bpmn").read_bytes()
    app = api.client.post(
        f"/api/admin/wks/{api.workspace}/apps", json={"name": "drawn"}, headers=api.headers()
    ).json()["id"]
    builds = f"/api/admin/wks/{api.workspace}/app/{app}/builds"
    files = {"loan_application.bpmn": source.decode()}
    build = api.client.post(builds, json={"files": files, "activate": True}, headers=api.headers())
    assert build.status_code == 201, build.text
    path = f"{builds}/{build.json()['buildId']}/definitions/loan_application_bpmn/diagram"
    answer = api.client.get(path, headers=api.headers())
    assert answer.status_code == 200
    assert (
        _shapes(answer.content)["review"]
        == _shapes(source)["review"]
        == ("860", "200", "100", "80")
    )
    body = {"applicant": {"name": "Ada", "income": 5000}, "loan": {"amount": 12000}}
    started = api.start("loan_application_bpmn", body, app=app)
    by_instance = api.client.get(
        f"/api/runtime/process/{started['uuid']}/diagram", headers=api.headers()
    )
    assert by_instance.content == answer.content


def test_unknown_definitions_and_other_workspaces_are_404(api: Api) -> None:
    build = f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds/{api.test_build.id}"
    missing = api.client.get(f"{build}/definitions/nothing/diagram", headers=api.headers())
    assert assert_problem(missing, 404)["code"] == "process_definition_not_found"
    unknown = api.client.get(f"/api/runtime/process/{uuid4()}/diagram", headers=api.headers())
    assert_problem(unknown, 404)
    elsewhere = f"/api/admin/wks/{api.other_workspace}/app/{api.other_app}/builds"
    other = api.client.get(f"{elsewhere}/{api.test_build.id}/definitions/straight/diagram",
                           headers=api.headers())  # fmt: skip
    assert_problem(other, 404)
