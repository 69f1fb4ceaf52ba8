"""FlowX start variants on both stores: inherit-from by resourceDefinitionId (stable across
builds) with paramsToInherit, and the 4.6+ ui-action execute path with uiActions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM, Role
from procflow.runtime.demo import definition_files
from tests.api.conftest import DEFINITIONS, Api
from tests.api.test_errors import assert_problem

CUSTOMER = {"customer": {"id": 7, "email": "ada@example.com"}, "note": "x", "round": 1}


def _inherit_path(api: Api, rdi: str, source: str, workspace: Any = None) -> str:
    return (f"/api/runtime/wks/{workspace or api.workspace}/app/{api.test_app}/rdi/{rdi}"
            f"/start/inherit-from/{source}")  # fmt: skip


def test_resource_definition_id_is_stable_across_builds(api: Api) -> None:
    first = api.start("straight", {"a": 1, "b": 2})
    files = dict(definition_files(DEFINITIONS))
    files["straight.yaml"] = files["straight.yaml"] + b"\n# changed\n"
    now = datetime.now(UTC)
    deploy.deploy_build(api.store, SYSTEM, api.workspace, api.test_app, files, activate=True,
                        now=now)  # fmt: skip
    second = api.start("straight", {"a": 1, "b": 2})
    assert second["buildId"] != first["buildId"]
    assert second["processDefinitionFlowxUuid"] != first["processDefinitionFlowxUuid"]
    assert second["resourceDefinitionId"] == first["resourceDefinitionId"]
    assert api.status(second["uuid"])["resourceDefinitionId"] == first["resourceDefinitionId"]
    other = api.start("onboarding", CUSTOMER)
    assert other["resourceDefinitionId"] != first["resourceDefinitionId"]


def test_inherit_from_with_params_to_inherit(api: Api) -> None:
    source = api.start("onboarding", CUSTOMER)
    rdi = source["resourceDefinitionId"]
    cases = [
        ({}, CUSTOMER),
        ({"paramsToInherit": {"paramsToCopy": [], "withoutParams": []}}, CUSTOMER),
        ({"paramsToInherit": {"paramsToCopy": ["customer"]}}, {"customer": CUSTOMER["customer"]}),
        ({"paramsToInherit": {"withoutParams": ["note", "round"]}},
         {"customer": CUSTOMER["customer"]}),
    ]  # fmt: skip
    for body, expected in cases:
        response = api.client.post(
            _inherit_path(api, rdi, source["uuid"]), json=body, headers=api.headers()
        )
        assert response.status_code == 200, response.text
        started = response.json()
        assert started["workspaceId"] == str(api.workspace)
        assert started["processDefinitionName"] == "onboarding"
        assert started["instanceMetadata"]["copiedFromUuid"] == source["uuid"]
        assert api.data(started["uuid"]) == expected, body


def test_inherit_from_errors(api: Api) -> None:
    source = api.start("onboarding", CUSTOMER)
    rdi = source["resourceDefinitionId"]
    before = api.stored_counts()
    missing = api.client.post(_inherit_path(api, rdi, str(uuid4())), json={}, headers=api.headers())
    assert assert_problem(missing, 404, "Process instance not found.")
    unknown_rdi = api.client.post(
        _inherit_path(api, str(uuid4()), source["uuid"]), json={}, headers=api.headers()
    )
    assert assert_problem(unknown_rdi, 404, "Process definition not found.")
    foreign_token = api.mint({str(api.other_workspace): frozenset(Role)})
    foreign = api.client.post(
        _inherit_path(api, rdi, source["uuid"], api.other_workspace), json={},
        headers=api.headers(foreign_token),
    )  # fmt: skip
    assert foreign.status_code == 404
    bad: dict[str, Any]
    for bad in ({"paramsToInherit": []}, {"paramsToInherit": {"paramsToCopy": "a"}},
                {"paramsToInherit": {"other": []}}, {"extra": 1}):  # fmt: skip
        response = api.client.post(
            _inherit_path(api, rdi, source["uuid"]), json=bad, headers=api.headers()
        )
        assert assert_problem(response, 400)["code"] == "invalid_body", bad
    assert api.stored_counts() == before


def test_ui_actions_listed_and_executed(api: Api) -> None:
    started = api.start("onboarding", CUSTOMER)
    [token] = api.status(started["uuid"])["tokens"]
    [offered] = token["uiActions"]
    assert offered["name"] == "confirm"
    path = (f"/api/runtime/process/{started['uuid']}/token/{token['uuid']}/ui-action/"
            f"{offered['uiActionFlowxUuid']}/context/main/execute")  # fmt: skip
    response = api.client.post(path, json={"round": 5}, headers=api.headers())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "tokenUuid": token["uuid"], "currentNodeId": "again", "templatesSequence": None,
        "backAction": False, "resetToken": False,
    }  # fmt: skip
    status = api.status(started["uuid"])
    [moved] = status["tokens"]
    # The same action at another node is another uiActionFlowxUuid.
    assert moved["uiActions"][0]["uiActionFlowxUuid"] != offered["uiActionFlowxUuid"]
    assert api.data(started["uuid"])["stamp"] == {"one": 5, "two": 5, "three": 5}
    # The old id is not offered any more: 400, and nothing changes.
    again = api.client.post(path, json={}, headers=api.headers())
    assert assert_problem(again, 400)["code"] == "action_not_allowed"
    assert api.status(started["uuid"])["version"] == status["version"]
    wrong_token = path.replace(token["uuid"], str(uuid4()))
    assert assert_problem(api.client.post(wrong_token, json={}, headers=api.headers()), 404)
    finished = api.start("straight", {"a": 1, "b": 1})
    assert "uiActions" not in api.status(finished["uuid"])["tokens"][0]
