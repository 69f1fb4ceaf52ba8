"""The console end to end: a real headless Chromium (playwright-core, Debian's chromium, kept
off the network) against a real ``procflow serve`` on SQLite. The browser does what the
README's curl story does, retries a FAILED instance with a data patch, runs a batch, opens a
definition, follows a call activity from parent to child and back and drills down into a
subprocess; the API then confirms that it really happened. Screenshots of every page go to
tests/console/screenshots/ (gitignored; the path is printed)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.served import DEMO_APP, DEMO_WORKSPACE, Served, serve
from tests.console.tools import E2E_DIR, chromium, npm_ci

DEFINITIONS = Path(__file__).resolve().parents[1] / "api" / "definitions"
# parent calls child (which waits at a user task); panel: a subprocess around a parallel
# multi-instance user task.
CALLS = Path(__file__).parent / "definitions"
SCREENSHOTS = E2E_DIR / "screenshots"
LOAN = {"applicant": {"name": "Ada", "income": 5000}, "loan": {"amount": 12000}}
PAGES = ("sign-in", "instances", "instance", "rerun", "batch-new", "batch", "definitions",
         "call-child", "subprocess")  # fmt: skip


class Client:
    def __init__(self, served: Served) -> None:
        self.base = served.base
        self.headers = {"Authorization": f"Bearer {served.token()}"}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(self.base + path, json=body, headers=self.headers, timeout=30)
        assert answer.status_code in (200, 201), answer.text
        result: dict[str, Any] = answer.json()
        return result

    def get(self, path: str) -> dict[str, Any]:
        answer = httpx.get(self.base + path, headers=self.headers, timeout=30)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


def start_loan(client: Client) -> str:
    app = f"/api/runtime/wks/{DEMO_WORKSPACE}/app/{DEMO_APP}"
    return str(client.post(f"{app}/process-name/loan_application/start", LOAN)["uuid"])


def start_ops(client: Client) -> tuple[str, str]:
    """In an app of its own: an instance of ``failing`` (divides by ``zero``: FAILED), and one
    of ``charge`` whose external task worker ``w1`` has fetched and locked."""
    app = client.post(f"/api/admin/wks/{DEMO_WORKSPACE}/apps", {"name": "ops"})["id"]
    files = {name: (DEFINITIONS / name).read_text() for name in ("failing.yaml", "charge.yaml")}
    builds = f"/api/admin/wks/{DEMO_WORKSPACE}/app/{app}/builds"
    client.post(builds, {"files": files, "activate": True})
    start = f"/api/runtime/wks/{DEMO_WORKSPACE}/app/{app}/process-name/{{}}/start"
    failed = client.post(start.format("failing"), {"a": 12, "zero": 0})
    assert failed["state"] == "FAILED"
    charge = client.post(start.format("charge"), {"amount": 5})
    fetch = {"workerId": "w1", "maxTasks": 1,
             "topics": [{"topicName": "payments", "lockDuration": 600_000}]}  # fmt: skip
    answer = httpx.post(
        f"{client.base}/api/runtime/wks/{DEMO_WORKSPACE}/external-tasks/fetch-and-lock",
        json=fetch, headers=client.headers, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200 and len(answer.json()) == 1, answer.text
    return str(failed["uuid"]), str(charge["uuid"])


def start_calls(client: Client) -> dict[str, str]:
    """In an app of its own: a parent whose call activity's child waits at a user task, and
    a panel whose subprocess runs three reviews in parallel, one of them already done."""
    app = client.post(f"/api/admin/wks/{DEMO_WORKSPACE}/apps", {"name": "calls"})["id"]
    files = {path.name: path.read_text() for path in sorted(CALLS.glob("*.yaml"))}
    client.post(
        f"/api/admin/wks/{DEMO_WORKSPACE}/app/{app}/builds", {"files": files, "activate": True}
    )
    start = f"/api/runtime/wks/{DEMO_WORKSPACE}/app/{app}/process-name/{{}}/start"
    parent = str(client.post(start.format("parent"), {"customer": "Ada"})["uuid"])
    child = _until(lambda: client.get(f"/api/runtime/process/{parent}/status")["children"])
    panel = client.post(start.format("panel"), {"reviewers": ["ann", "bob", "cy"]})
    [first] = [t for t in panel["tokens"] if t.get("variables", {}).get("loopCounter") == 1]
    act = f"/api/runtime/process/{panel['uuid']}/token/{first['uuid']}/action/ok/execute"
    client.post(act, {})
    return {"parent": parent, "child": str(child[0]["uuid"]), "panel": str(panel["uuid"])}


def _until(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    """The embedded worker starts a child in a job of its own: poll for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting for the child instance")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Client]]:
    browser = chromium()
    npm_ci(E2E_DIR)
    with serve(tmp_path_factory.mktemp("console")) as served:
        client = Client(served)
        failing, charge = start_ops(client)
        given = {"story": start_loan(client), "failing": failing, "charge": charge,
                 **start_calls(client)}  # fmt: skip
        for _ in range(2):  # more loans waiting at review for the batch
            start_loan(client)
        print(f"console screenshots: {SCREENSHOTS}")
        done = subprocess.run(
            ["node", str(E2E_DIR / "e2e.mjs"), served.base, served.token(), browser,
             str(SCREENSHOTS), json.dumps(given)],
            capture_output=True, text=True, timeout=400, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        line = done.stdout.strip().splitlines()[-1]
        (SCREENSHOTS / "result.json").write_text(line)
        result: dict[str, Any] = json.loads(line)
        result["given"] = given
        yield result, client


def _scenario(result: dict[str, Any], name: str) -> dict[str, Any]:
    seen: dict[str, Any] = result[name]
    assert "error" not in seen, seen.get("error")
    return seen


def test_the_readme_story_from_the_browser(run: tuple[dict[str, Any], Client]) -> None:
    result, client = run
    seen = _scenario(result, "story")
    story = result["given"]["story"]
    assert seen["signInUrl"] == "/console/sign-in" and seen["stored"] is True
    # Three loans, the charge, parent, child and panel wait; the failing one failed (exact).
    assert "STARTED 7" in seen["counts"] and "FAILED 1" in seen["counts"]
    assert len(seen["counts"]) == 8
    assert seen["tokenOnReview"].startswith("● ARRIVED")
    assert seen["activeMarked"] == 1 and seen["visited"] > 3
    assert seen["watermark"] == 1, "bpmn.io's watermark stays"
    assert seen["afterApprove"] == "FINISHED"
    assert client.get(f"/api/runtime/process/{story}/data")["decision"] == {"by": "sam"}
    assert seen["startAt"] == "review" and seen["startMarked"] == 1
    rows = " | ".join(seen["diff"])
    assert "applicant.income\tchanged\t5000\t6000" in rows
    assert "retryReason\tadded" in rows and "decision\tremoved" in rows
    assert "review" in seen["preview"]
    copy = seen["copy"]
    status = client.get(f"/api/runtime/process/{copy}/status")
    assert status["instanceMetadata"]["copiedFromUuid"] == story
    # Started at review (startAt); the batch test terminates it later.
    assert [t["currentNodeId"] for t in status["tokens"]] == ["review"]
    data = client.get(f"/api/runtime/process/{copy}/data")
    assert data["applicant"]["income"] == 6000 and data["retryReason"] == "manual-rerun"
    assert "decision" not in data
    assert story[:8] in seen["lineage"] and copy[:8] in seen["lineage"]


def test_a_failed_instance_is_retried_with_a_patch(run: tuple[dict[str, Any], Client]) -> None:
    result, client = run
    seen = _scenario(result, "retry")
    assert seen["before"] == "FAILED" and seen["incidentMarked"] == 1
    assert seen["after"] == "FINISHED"
    data = client.get(f"/api/runtime/process/{result['given']['failing']}/data")
    assert data["zero"] == 4 and data["ratio"] == 3


def test_an_external_task_shows_its_topic_and_lock(run: tuple[dict[str, Any], Client]) -> None:
    seen = _scenario(run[0], "externalTask")
    assert seen["overlay"].startswith("⚙ topic payments · locked by w1 until ")
    assert seen["overlay"].endswith("· 2 retries left")
    assert seen["listed"] == seen["overlay"]


def test_a_batch_from_the_search_with_its_progress(run: tuple[dict[str, Any], Client]) -> None:
    result, client = run
    seen = _scenario(result, "batch")
    # The story's copy waits at review too: the two extra loans and the copy.
    assert seen["listed"] == 3
    assert seen["dryRun"].startswith("3 instance")
    assert seen["summary"].startswith("COMPLETED") and "3 done, 0 failed of 3" in seen["summary"]
    assert seen["progressSeen"][-1] == [3, 3]
    assert seen["items"] == 3 and seen["itemLinks"] >= 3
    batch = client.get(f"/api/runtime/wks/{DEMO_WORKSPACE}/batches/{seen['batch']}")
    assert (batch["operation"], batch["done"]) == ("terminate", 3)


def test_a_call_activity_links_parent_and_child(run: tuple[dict[str, Any], Client]) -> None:
    result, client = run
    seen = _scenario(result, "calls")
    given = result["given"]
    parent, child = given["parent"], given["child"]
    assert seen["headerChild"] == child and "child" in seen["children"]
    assert "STARTED" in seen["children"]
    assert seen["waitLink"] == child, "the call activity's wait links to its child"
    assert seen["childUrl"].endswith(f"/console/instances/{child}")
    assert seen["parentLink"].endswith(f"/console/instances/{parent}")
    assert seen["backAtParent"] is True
    assert seen["callLineage"] == child and "Copies (reruns)" in seen["lineageText"]
    # The list filtered by parent: exactly the child, the filter kept in the URL and form.
    assert seen["filtered"] == [child] and seen["filterKept"] == parent
    assert f"parentProcessInstanceUuid={parent}" in seen["search"]
    assert "STARTED 1" in seen["filteredCounts"] and seen["calledBy"] == parent
    status = client.get(f"/api/runtime/process/{child}/status")
    assert status["instanceMetadata"]["parentProcessInstanceUuid"] == parent


def test_tokens_inside_a_subprocess_and_a_loops_progress(
    run: tuple[dict[str, Any], Client],
) -> None:
    seen = _scenario(run[0], "subprocess")
    # The subprocess is drawn collapsed: its shape counts the two reviews left inside...
    assert seen["inside"] == "2 inside" and seen["tokenVisibleBeforeDrill"] is False
    # ...and its plane, drilled down, shows them on the task with the loop's progress.
    assert seen["tokenInside"].startswith("● ARRIVED") and seen["tokenInside"].endswith("\u00d72")
    assert seen["loop"] == "1/3 done"
    assert seen["actions"] == 2, "the two instances left offer their action, the host none"


def test_definitions_show_builds_and_diagrams(run: tuple[dict[str, Any], Client]) -> None:
    seen = _scenario(run[0], "definitions")
    assert seen["active"] == 1 and seen["diagram"] is True and seen["downloads"] >= 1


def test_a_refused_token_signs_out_with_the_reason(run: tuple[dict[str, Any], Client]) -> None:
    seen = _scenario(run[0], "signedOut")
    assert seen["alert"].startswith("Signed out:")


def test_every_request_stayed_on_127_0_0_1(run: tuple[dict[str, Any], Client]) -> None:
    result = run[0]
    assert result["outside"] == []
    hosts = {urlsplit(url).hostname for url in result["requests"] if not url.startswith("data:")}
    assert hosts == {"127.0.0.1"}
    assert len(result["requests"]) > 20


def test_no_serious_or_critical_accessibility_violation(run: tuple[dict[str, Any], Client]) -> None:
    audited = run[0]["axe"]
    assert set(audited) == set(PAGES)
    bad = {
        page: [v for v in found if v["impact"] in ("serious", "critical")]
        for page, found in audited.items()
    }
    assert bad == {page: [] for page in PAGES}


def test_screenshots_of_every_page_and_no_script_error(run: tuple[dict[str, Any], Client]) -> None:
    result = run[0]
    names = {Path(file).stem for file in result["screenshots"]}
    assert {"sign-in", "instances", "instance", "instance-narrow", "rerun-preview",
            "copy-lineage", "incident", "batch", "definitions", "call-child",
            "subprocess"} <= names  # fmt: skip
    assert all(Path(file).stat().st_size > 5000 for file in result["screenshots"])
    # Only the refused token's 401s, which the browser logs as failed loads.
    unexpected = [line for line in result["console"] if not line.startswith("signedOut: ")]
    assert unexpected == []
    assert all("401" in line for line in result["console"])
