"""Admin reads on both stores: workspaces, apps, builds, one build, a definition's source;
and deploying an identical build twice answers the existing build."""

from __future__ import annotations

from pathlib import Path

from procflow.runtime.access import Role
from tests.api.conftest import DEFINITIONS, Api
from tests.api.test_errors import assert_problem


def _files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(Path(DEFINITIONS).glob("*.yaml"))}


def _builds_path(api: Api) -> str:
    return f"/api/admin/wks/{api.workspace}/app/{api.test_app}/builds"


def test_workspaces_and_apps(api: Api) -> None:
    everything = api.mint({"*": frozenset({Role.ADMIN})})
    listed = api.client.get("/api/admin/workspaces", headers=api.headers(everything)).json()
    ids = {w["id"] for w in listed["content"]}
    assert {str(api.workspace), str(api.other_workspace)} <= ids
    mine = api.client.get("/api/admin/workspaces", headers=api.headers()).json()["content"]
    assert [w["id"] for w in mine] == [str(api.workspace)]
    apps = api.client.get(f"/api/admin/wks/{api.workspace}/apps", headers=api.headers()).json()
    assert {a["id"] for a in apps["content"]} == {str(api.demo_app), str(api.test_app)}
    foreign = api.client.get(f"/api/admin/wks/{api.other_workspace}/apps", headers=api.headers())
    assert assert_problem(foreign, 404)["code"] == "workspace_not_found"
    reader = api.mint({str(api.workspace): frozenset({Role.READ})})
    denied = api.client.get(f"/api/admin/wks/{api.workspace}/apps", headers=api.headers(reader))
    assert assert_problem(denied, 403)["role"] == "admin"


def test_identical_deploy_answers_the_existing_build(api: Api) -> None:
    again = api.client.post(_builds_path(api), json={"files": _files()}, headers=api.headers())
    assert again.status_code == 200, again.text
    assert again.json()["buildId"] == str(api.test_build.id) and again.json()["existing"]
    changed = {**_files(), "extra.yaml": _files()["straight.yaml"].replace("straight", "extra")}
    new = api.client.post(_builds_path(api), json={"files": changed}, headers=api.headers())
    assert new.status_code == 201 and new.json()["buildId"] != str(api.test_build.id)
    listed = api.client.get(_builds_path(api), headers=api.headers()).json()["content"]
    assert [b["buildId"] for b in listed] == [new.json()["buildId"], str(api.test_build.id)]
    assert [b["active"] for b in listed] == [False, True]
    assert all(b["checksum"].startswith("sha256:") and b["createdAt"] for b in listed)
    reactivate = api.client.post(
        _builds_path(api), json={"files": changed, "activate": True}, headers=api.headers()
    )
    assert reactivate.status_code == 200 and reactivate.json()["active"] is True
    listed = api.client.get(_builds_path(api), headers=api.headers()).json()["content"]
    assert [b["active"] for b in listed] == [True, False]


def test_one_build_and_a_definition_source(api: Api) -> None:
    path = f"{_builds_path(api)}/{api.test_build.id}"
    build = api.client.get(path, headers=api.headers()).json()
    assert build["active"] is True
    assert {d["name"] for d in build["processDefinitions"]} >= {"straight", "failing"}
    source = api.client.get(f"{path}/definitions/straight/source", headers=api.headers())
    assert source.status_code == 200
    assert source.text == _files()["straight.yaml"]
    assert 'filename="straight.yaml"' in source.headers["content-disposition"]
    missing = api.client.get(f"{path}/definitions/nothing/source", headers=api.headers())
    assert assert_problem(missing, 404)["code"] == "process_definition_not_found"
    wrong_app = f"/api/admin/wks/{api.workspace}/app/{api.demo_app}/builds/{api.test_build.id}"
    assert assert_problem(api.client.get(wrong_app, headers=api.headers()), 404)
    other = f"/api/admin/wks/{api.other_workspace}/app/{api.other_app}/builds"
    assert assert_problem(api.client.get(other, headers=api.headers()), 404)
