"""The start endpoints S1, S2 and the /rtm alias, with the FlowX response shape."""

from __future__ import annotations

from tests.api.conftest import Api

LOAN = {"applicant": {"name": "Ada", "income": 5000}, "loan": {"amount": 12000}}


def test_s1_starts_on_the_active_build_and_waits_at_the_user_task(api: Api) -> None:
    response = api.client.post(
        api.start_path("loan_application", app=api.demo_app), json=LOAN, headers=api.headers()
    )
    assert response.status_code == 200
    body = response.json()
    assert response.headers["location"] == f"/api/runtime/process/{body['uuid']}"
    assert body["state"] == "STARTED"
    assert body["processDefinitionName"] == "loan_application"
    assert body["buildId"] == str(api.demo_build.id)
    assert body["buildStatusAtStart"] == "COMMITTED"
    assert body["applicationId"] == str(api.demo_app)
    assert body["workspaceId"] == str(api.workspace)
    assert body["parentApplicationId"] is None and body["rootApplicationId"] is None
    waiting = [t for t in body["tokens"] if t["state"] == "ACTIVE"]
    assert [(t["currentNodeId"], t["statusCurrentNode"]) for t in waiting] == [
        ("review", "ARRIVED")
    ]
    metadata = body["instanceMetadata"]
    assert metadata["processInstanceUuid"] == body["uuid"]
    assert isinstance(metadata["processInstanceId"], int)
    assert metadata["copiedFromUuid"] is None and metadata["lineageRootUuid"] is None
    definition = api.demo_build.definition_named("loan_application")
    assert definition is not None
    assert body["processDefinitionFlowxUuid"] == str(definition.id)


def test_start_runs_business_rules_and_parallel_checks(api: Api) -> None:
    started = api.start("loan_application", LOAN, app=api.demo_app)
    data = api.data(started["uuid"])
    assert data["risk"] == {"ratio": 2.4, "band": "medium"}
    assert data["checks"] == {"bureau": "clear", "fraud": "clear"}


def test_straight_through_process_is_finished_in_the_start_response(api: Api) -> None:
    body = api.start("straight", {"a": 2, "b": 3})
    assert body["state"] == "FINISHED"
    assert api.data(body["uuid"])["total"] == 5


def test_failing_expression_answers_200_with_a_failed_instance_and_an_incident(api: Api) -> None:
    body = api.start("failing", {"a": 1, "zero": 0})
    assert body["state"] == "FAILED"
    status = api.status(body["uuid"])
    [incident] = status["incidents"]
    assert incident["nodeId"] == "divide"
    assert incident["type"] == "expression_error"
    assert "division" in incident["message"]


def test_s2_starts_pinned_to_a_build_even_when_another_is_active(api: Api) -> None:
    pinned = api.test_build.id
    replacement = api.client.post(
        f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds",
        json={"files": {"s.yaml": STRAIGHT_V2}, "activate": True},
        headers=api.headers(),
    )
    assert replacement.status_code == 201, replacement.text
    response = api.client.post(
        f"/api/runtime/app/{api.test_app}/build/{pinned}/process-name/straight/start",
        json={"a": 1, "b": 1},
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["buildId"] == str(pinned)
    assert api.data(response.json()["uuid"])["total"] == 2
    active = api.start("straight", {"a": 1, "b": 1})
    assert active["buildId"] == replacement.json()["buildId"]
    assert api.data(active["uuid"])["total"] == 20


STRAIGHT_V2 = """
name: straight
nodes:
  - {id: begin, type: start}
  - id: compute
    type: task
    rules: [{set: {total: "(input.a + input.b) * 10"}}]
  - {id: done, type: end}
flows:
  - {from: begin, to: compute}
  - {from: compute, to: done}
"""


def test_rtm_prefix_serves_the_same_api(api: Api) -> None:
    response = api.client.post(
        "/rtm" + api.start_path("straight"), json={"a": 1, "b": 2}, headers=api.headers()
    )
    assert response.status_code == 200
    uuid = response.json()["uuid"]
    data = api.client.get(f"/rtm/api/runtime/process/{uuid}/data", headers=api.headers())
    assert data.json()["total"] == 3


def test_start_condition_picks_the_start_node(api: Api) -> None:
    body = api.start("two_doors", {"startCondition": "BRANCH", "branchCode": "B7"})
    assert body["state"] == "FINISHED"
    status = api.status(body["uuid"])
    assert status["auditSummary"]["byType"]["instance_started"] == 1


def test_flowx_platform_header_is_recorded_not_required(api: Api) -> None:
    response = api.client.post(
        api.start_path("straight"),
        json={"a": 1, "b": 1},
        headers=api.headers(**{"FLOWX-PLATFORM": "web"}),
    )
    assert response.status_code == 200
    uuid = response.json()["uuid"]
    audit = api.client.get(f"/api/runtime/process/{uuid}/audit", headers=api.headers()).json()
    created = next(e for e in audit["events"] if e["type"] == "instance_created")
    assert created["details"]["flowxPlatform"] == "web"


def test_openapi_document_lists_the_start_endpoints(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert any(p.endswith("/start/copyDataFrom/{processInstanceId}") for p in paths)
    assert "/api/runtime/app/{appId}/build/{buildId}/process-name/{processName}/start" in paths
