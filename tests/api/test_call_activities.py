"""Call activities end to end over HTTP: a real ``procflow serve`` (and on PostgreSQL a
separate ``procflow worker``) on each store, driven only through the API.

The parent and its child are separate instances: the child appears once the worker has run
the parent's ``call_start`` job, and the parent moves on once it has run the child's
``child_ended`` job, so the tests poll for those moments instead of assuming them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.call_definitions import FIRE_AND_FORGET, RECURSE
from tests.crash.cluster import Cluster, Service

PARENT = """
name: parent
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: child, withoutParams: [secret]}
  - {id: done, type: end}
  - {id: caught, type: boundaryError, attachedTo: call, errorCode: REJECTED,
     errorVariable: failure}
  - {id: refused, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: done}
  - {from: caught, to: refused}
"""
KEYED = """
name: keyed
nodes:
  - {id: begin, type: start}
  - {id: call, type: callActivity, calledElement: child, paramsToCopy: [customer],
     outputKey: result}
  - {id: done, type: end}
flows:
  - {from: begin, to: call}
  - {from: call, to: done}
"""
CHILD = """
name: child
nodes:
  - {id: begin, type: start}
  - {id: review, type: userTask, actions: [approve, reject, break]}
  - {id: approved, type: end}
  - {id: rejected, type: end, errorCode: REJECTED}
  - {id: explode, type: task, rules: [{set: {x: "input.missing.deeper"}}]}
  - {id: never, type: end}
flows:
  - {from: begin, to: review}
  - {from: review, to: approved, action: approve}
  - {from: review, to: rejected, action: reject}
  - {from: review, to: explode, action: break}
  - {from: explode, to: never}
"""
FILES = {"parent.yaml": PARENT, "keyed.yaml": KEYED, "fire.yaml": FIRE_AND_FORGET,
         "child.yaml": CHILD, "recurse.yaml": RECURSE}  # fmt: skip
MAX_DEPTH = 3


@dataclass
class Client:
    http: httpx.Client
    workspace: str
    app: str
    # ``procflow ARGS --url <this server> --token <this token>``: the CLI's stdout.
    cli: Callable[..., str]

    def deploy(self, files: dict[str, str]) -> httpx.Response:
        path = f"/api/admin/wks/{self.workspace}/app/{self.app}/builds"
        return self.http.post(path, json={"files": files, "activate": True})

    def start(self, process: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        path = f"/api/runtime/wks/{self.workspace}/app/{self.app}/process-name/{process}/start"
        response = self.http.post(path, json=body or {})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def status(self, uuid: str) -> dict[str, Any]:
        response = self.http.get(f"/api/runtime/process/{uuid}/status")
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def data(self, uuid: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.http.get(f"/api/runtime/process/{uuid}/data").json()
        return answer

    def search(self, **params: str) -> list[dict[str, Any]]:
        path = f"/api/runtime/wks/{self.workspace}/process-instances"
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        content: list[dict[str, Any]] = response.json()["content"]
        return content

    def counts(self, **params: str) -> dict[str, int]:
        path = f"/api/runtime/wks/{self.workspace}/process-instances/counts"
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        counts: dict[str, int] = response.json()["counts"]
        return counts

    def act(self, uuid: str, action: str, body: dict[str, Any] | None = None) -> None:
        [token] = [t for t in self.status(uuid)["tokens"] if t["state"] == "ACTIVE"]
        path = f"/api/runtime/process/{uuid}/token/{token['uuid']}/action/{action}/execute"
        response = self.http.post(path, json=body or {})
        assert response.status_code == 200, response.text

    def operate(self, uuid: str, operation: str) -> dict[str, Any]:
        response = self.http.post(f"/api/runtime/process/{uuid}/{operation}", json={})
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def child(self, parent: str) -> dict[str, Any]:
        """The parent's one child, once the worker has started it."""
        children = until(lambda: self.status(parent)["children"], "a child")
        [child] = children
        return self.status(child["uuid"])

    def state_becomes(self, uuid: str, state: str) -> dict[str, Any]:
        until(lambda: self.status(uuid)["state"] == state, f"{uuid} {state}")
        return self.status(uuid)


def until(probe: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class Served:
    cluster: Cluster
    server: Service
    token: str


@pytest.fixture(scope="module")
def served(
    module_store_url: str, module_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One server (and on PostgreSQL one worker) per backend for the whole module: each test
    works in a workspace and app of its own, so they cannot see each other's instances."""
    folder = tmp_path_factory.mktemp("calls")
    cluster = Cluster(module_store_url, folder / "data", folder)
    try:
        embedded = "1" if module_backend == "sqlite" else "0"
        server = cluster.add_server(PROCFLOW_EMBEDDED_WORKER=embedded,
                                    PROCFLOW_MAX_CALL_DEPTH=str(MAX_DEPTH))  # fmt: skip
        server.start()
        if module_backend != "sqlite":
            cluster.add_worker(PROCFLOW_MAX_CALL_DEPTH=str(MAX_DEPTH)).start()
        server.wait_ready()
        yield Served(cluster, server, cluster.run("token", "--workspace", "*").strip())
    finally:
        cluster.stop_all()


@pytest.fixture
def client(served: Served) -> Iterator[Client]:
    workspace, app = str(uuid4()), str(uuid4())
    headers = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.server.base_url, headers=headers, timeout=10) as http:
        http.post("/api/admin/workspaces", json={"id": workspace, "name": "calls"})
        http.post(f"/api/admin/wks/{workspace}/apps", json={"id": app, "name": "calls"})

        def cli(*args: str) -> str:
            return served.cluster.run(
                *args, "--url", served.server.base_url, "--token", served.token
            )

        made = Client(http, workspace, app, cli)
        deployed = made.deploy(FILES)
        assert deployed.status_code == 201, deployed.text
        yield made


def test_a_child_waits_on_a_user_task_then_its_data_comes_back(client: Client) -> None:
    parent = client.start("parent", {"customer": {"name": "Ada"}, "secret": "s"})
    assert parent["state"] == "STARTED"
    [token] = parent["tokens"]
    assert (token["currentNodeId"], token["statusCurrentNode"]) == ("call", "EXECUTING")
    child = client.child(parent["uuid"])
    meta = child["instanceMetadata"]
    assert meta["parentProcessInstanceUuid"] == parent["uuid"]
    assert meta["rootProcessInstanceUuid"] == parent["uuid"]
    assert client.status(parent["uuid"])["instanceMetadata"]["parentProcessInstanceUuid"] is None
    assert client.data(child["uuid"]) == {"customer": {"name": "Ada"}}  # withoutParams: secret
    [listed] = client.status(parent["uuid"])["children"]
    assert listed == {"uuid": child["uuid"], "name": "child", "state": "STARTED"}
    found = client.search(parentProcessInstanceUuid=parent["uuid"])
    assert [i["uuid"] for i in found] == [child["uuid"]]
    assert found[0]["parentProcessInstanceUuid"] == parent["uuid"]
    assert [i["uuid"] for i in client.search(rootProcessInstanceUuid=parent["uuid"])] == [
        child["uuid"]
    ]
    assert client.counts(parentProcessInstanceUuid=parent["uuid"])["STARTED"] == 1
    assert sum(client.counts(rootProcessInstanceUuid=parent["uuid"]).values()) == 1
    assert sum(client.counts(parentProcessInstanceUuid=child["uuid"]).values()) == 0
    listed_by_cli = client.cli("instances", "list", "--workspace", client.workspace,
                               "--parent", parent["uuid"], "--json")  # fmt: skip
    assert [i["uuid"] for i in json.loads(listed_by_cli)["content"]] == [child["uuid"]]
    assert child["uuid"] in client.cli("instances", "show", parent["uuid"])  # its children
    client.act(child["uuid"], "approve", {"approved": True})
    client.state_becomes(parent["uuid"], "FINISHED")
    data = client.data(parent["uuid"])
    assert data == {"customer": {"name": "Ada"}, "secret": "s", "approved": True}
    assert client.status(parent["uuid"])["children"][0]["state"] == "FINISHED"


def test_output_key_and_params_to_copy(client: Client) -> None:
    parent = client.start("keyed", {"customer": {"name": "Bo"}, "other": 1})
    child = client.child(parent["uuid"])
    assert client.data(child["uuid"]) == {"customer": {"name": "Bo"}}
    client.act(child["uuid"], "approve", {"score": 7})
    client.state_becomes(parent["uuid"], "FINISHED")
    assert client.data(parent["uuid"]) == {
        "customer": {"name": "Bo"},
        "other": 1,
        "result": {"customer": {"name": "Bo"}, "score": 7},
    }


def test_a_failed_child_puts_child_failed_on_the_parent(client: Client) -> None:
    parent = client.start("parent")
    child = client.child(parent["uuid"])
    client.act(child["uuid"], "break")
    assert client.status(child["uuid"])["state"] == "FAILED"
    failed = client.state_becomes(parent["uuid"], "FAILED")
    [incident] = failed["incidents"]
    assert incident["type"] == "child_failed" and incident["nodeId"] == "call"
    assert child["uuid"] in incident["message"]


def test_a_child_error_is_caught_by_the_parents_error_boundary(client: Client) -> None:
    parent = client.start("parent")
    child = client.child(parent["uuid"])
    client.act(child["uuid"], "reject")
    client.state_becomes(parent["uuid"], "FINISHED")
    failure = client.data(parent["uuid"])["failure"]
    assert failure["errorCode"] == "REJECTED"
    tokens = client.status(parent["uuid"])["tokens"]
    assert {t["currentNodeId"] for t in tokens} == {"refused"}


def test_an_async_call_moves_on_and_the_child_runs_on_its_own(client: Client) -> None:
    parent = client.start("fire", {"n": 1})
    assert parent["state"] == "FINISHED"
    child = client.child(parent["uuid"])
    assert child["state"] == "STARTED"
    client.act(child["uuid"], "approve", {"late": True})
    client.state_becomes(child["uuid"], "FINISHED")
    assert "late" not in client.data(parent["uuid"])


def test_terminating_the_parent_terminates_the_waiting_child(client: Client) -> None:
    parent = client.start("parent")
    child = client.child(parent["uuid"])
    assert client.operate(parent["uuid"], "terminate")["state"] == "TERMINATED"
    client.state_becomes(child["uuid"], "TERMINATED")
    # The child's end reaches a parent already ended: it stays TERMINATED, no incident.
    time.sleep(0.3)
    status = client.status(parent["uuid"])
    assert status["state"] == "TERMINATED" and status["incidents"] == []


def test_hold_and_unhold_cascade_to_the_child(client: Client) -> None:
    parent = client.start("parent")
    child = client.child(parent["uuid"])
    assert client.operate(parent["uuid"], "hold")["state"] == "ON_HOLD"
    client.state_becomes(child["uuid"], "ON_HOLD")
    assert client.operate(parent["uuid"], "unhold")["state"] == "STARTED"
    client.state_becomes(child["uuid"], "STARTED")
    client.act(child["uuid"], "approve")
    client.state_becomes(parent["uuid"], "FINISHED")


def test_recursion_stops_at_the_depth_limit_with_an_incident(client: Client) -> None:
    root = client.start("recurse")
    tree = until(
        lambda: (
            len(found := client.search(rootProcessInstanceUuid=root["uuid"])) == MAX_DEPTH and found
        ),
        "the call tree",
    )
    deepest = client.state_becomes(tree[-1]["uuid"], "FAILED")
    assert deepest["incidents"][-1]["type"] == "call_depth_exceeded"
    failed = client.state_becomes(root["uuid"], "FAILED")
    assert failed["incidents"][-1]["type"] == "child_failed"


def test_deploy_refuses_an_unknown_called_element_and_a_cycle(client: Client) -> None:
    missing = client.deploy({"parent.yaml": PARENT})
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith("application/problem+json")
    [problem] = missing.json()["problems"]
    assert problem["elementId"] == "call" and problem["line"] == 5
    assert "'child' names no process of this build" in problem["message"]
    looping = RECURSE.replace(", binding: latest", "")
    cycle = client.deploy({"recurse.yaml": looping})
    assert cycle.status_code == 400
    assert "call cycle recurse -> recurse" in cycle.json()["problems"][0]["message"]
