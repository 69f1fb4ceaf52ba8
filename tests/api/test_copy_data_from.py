"""copyDataFrom (S3): snapshot, RFC 7396 merge, lineage, options, isolation."""

from __future__ import annotations

import threading
from typing import Any
from uuid import uuid4

from procflow.runtime.access import Role
from tests.api.conftest import Api
from tests.api.test_errors import assert_problem

CUSTOMER = {
    "customer": {"id": 7, "email": "ada@example.com", "tags": ["vip", "eu"]},
    "address": {"city": "Lyon", "zip": "69001"},
    "round": 0,
}


def _onboarding(api: Api) -> dict[str, Any]:
    return api.start("onboarding", CUSTOMER)


def test_copy_of_a_waiting_source(api: Api) -> None:
    source = _onboarding(api)
    assert source["state"] == "STARTED"
    copy = api.copy("onboarding", source["uuid"], {})
    assert copy["state"] == "STARTED"
    assert copy["uuid"] != source["uuid"]
    assert api.data(copy["uuid"]) == api.data(source["uuid"])


def test_copy_of_a_finished_source_into_another_definition(api: Api) -> None:
    source = api.start("straight", {"a": 2, "b": 5})
    assert source["state"] == "FINISHED"
    copy = api.copy("onboarding", source["uuid"], {"customer": {"id": 1, "email": "x@example.com"}})
    data = api.data(copy["uuid"])
    assert data == {"a": 2, "b": 5, "total": 7, "customer": {"id": 1, "email": "x@example.com"}}


def test_copy_of_a_failed_source_reruns_with_a_fix(api: Api) -> None:
    source = api.start("failing", {"a": 10, "zero": 0})
    assert source["state"] == "FAILED"
    copy = api.copy("failing", source["uuid"], {"zero": 4, "retryReason": "manual-rerun"})
    assert copy["state"] == "FINISHED"
    assert api.data(copy["uuid"]) == {
        "a": 10,
        "zero": 4,
        "retryReason": "manual-rerun",
        "ratio": 2,
    }  # CEL divides ints as ints


def test_merge_is_rfc7396(api: Api) -> None:
    source = _onboarding(api)
    patch = {
        "customer": {"email": "new@example.com", "tags": ["b2b"]},
        "address": None,
        "note": {"text": "hi", "drop": None},
    }
    copy = api.copy("onboarding", source["uuid"], patch)
    assert api.data(copy["uuid"]) == {
        "customer": {"id": 7, "email": "new@example.com", "tags": ["b2b"]},
        "note": {"text": "hi"},
        "round": 0,
    }


def test_empty_body_leaves_the_copy_unchanged(api: Api) -> None:
    source = _onboarding(api)
    copy = api.copy("onboarding", source["uuid"], {})
    assert api.data(copy["uuid"]) == CUSTOMER


def test_source_is_never_modified(api: Api) -> None:
    source = _onboarding(api)
    before_status = api.status(source["uuid"])
    before_data = api.data(source["uuid"])
    api.copy("onboarding", source["uuid"], {"customer": {"email": "z@example.com"}})
    after_status = api.status(source["uuid"])
    assert api.data(source["uuid"]) == before_data
    assert after_status["version"] == before_status["version"]
    assert after_status["auditSummary"] == before_status["auditSummary"]
    assert after_status["state"] == before_status["state"]


def test_source_changing_after_the_copy_does_not_change_the_copy(api: Api) -> None:
    source = _onboarding(api)
    copy = api.copy("onboarding", source["uuid"], {})
    api.act(source["uuid"], "confirm", {"round": 1, "customer": {"email": "later@x.io"}})
    assert api.data(source["uuid"])["stamp"] == {"one": 1, "two": 1, "three": 1}
    assert api.data(copy["uuid"]) == CUSTOMER


def test_copy_never_sees_a_half_applied_step(api: Api) -> None:
    """While the source moves (action + a task writing three keys), every copy is one of the
    source's committed states, never a mix."""
    source = _onboarding(api)["uuid"]
    copies: list[str] = []
    stop = threading.Event()

    def copy_repeatedly() -> None:
        while not stop.is_set() and len(copies) < 40:
            copies.append(api.copy("onboarding", source, {})["uuid"])

    copier = threading.Thread(target=copy_repeatedly)
    copier.start()
    try:
        api.act(source, "confirm", {"round": 1})
        api.act(source, "confirm", {"round": 2})
    finally:
        stop.set()
        copier.join()
    allowed = [
        CUSTOMER,
        {**CUSTOMER, "round": 1, "stamp": {"one": 1, "two": 1, "three": 1}},
        {**CUSTOMER, "round": 2, "stamp": {"one": 1, "two": 1, "three": 1}},
    ]
    assert copies
    for uuid in copies:
        assert api.data(uuid) in allowed


def test_unknown_and_foreign_sources_are_identical_404s(api: Api) -> None:
    foreign_token = api.mint({str(api.other_workspace): frozenset(Role)})
    foreign = api.client.post(
        api.start_path("straight", workspace=api.other_workspace, app=api.other_app),
        json={"a": 1, "b": 1},
        headers=api.headers(foreign_token),
    ).json()["uuid"]
    before = api.stored_counts()
    responses = [
        api.client.post(api.copy_path("straight", source), json={}, headers=api.headers())
        for source in (foreign, str(uuid4()))
    ]
    bodies = [assert_problem(r, 404, "Process instance not found.") for r in responses]
    assert bodies[0] == bodies[1]
    assert api.stored_counts() == before


def test_source_unreadable_by_the_caller_is_404(api: Api) -> None:
    source = _onboarding(api)
    starter = api.mint({str(api.workspace): frozenset({Role.START})})
    response = api.client.post(
        api.copy_path("onboarding", source["uuid"]), json={}, headers=api.headers(starter)
    )
    assert_problem(response, 404, "Process instance not found.")


def test_mandatory_params_are_checked_on_the_merged_data(api: Api) -> None:
    source = api.start("straight", {"a": 1, "b": 1})
    missing = api.client.post(
        api.copy_path("onboarding", source["uuid"]), json={}, headers=api.headers()
    )
    assert assert_problem(missing, 400)["params"] == ["customer.id", "customer.email"]
    satisfied = api.copy(
        "onboarding", source["uuid"], {"customer": {"id": 3, "email": "c@example.com"}}
    )
    assert satisfied["state"] == "STARTED"
    full = _onboarding(api)
    removed = api.client.post(
        api.copy_path("onboarding", full["uuid"]),
        json={"customer": {"email": None}},
        headers=api.headers(),
    )
    assert assert_problem(removed, 400)["params"] == ["customer.email"]


def test_params_to_copy(api: Api) -> None:
    source = _onboarding(api)
    copy = api.copy(
        "onboarding",
        source["uuid"],
        {"round": 9},
        query="paramsToCopy=customer.id,customer.email,nothing.here",
    )
    assert api.data(copy["uuid"]) == {"customer": {"id": 7, "email": "ada@example.com"}, "round": 9}


def test_without_params(api: Api) -> None:
    source = _onboarding(api)
    copy = api.copy("onboarding", source["uuid"], {}, query="withoutParams=address,customer.tags")
    assert api.data(copy["uuid"]) == {"customer": {"id": 7, "email": "ada@example.com"}, "round": 0}


def test_dry_run_answers_the_merged_data_and_stores_nothing(api: Api) -> None:
    source = _onboarding(api)
    before = api.stored_counts()
    response = api.client.post(
        api.copy_path("onboarding", source["uuid"], "dryRun=true"),
        json={"round": 5, "address": None},
        headers=api.headers(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dryRun"] is True
    assert body["data"] == {"customer": CUSTOMER["customer"], "round": 5}
    assert body["buildId"] == str(api.test_build.id)
    assert body["startNodeId"] == "begin"
    assert body["instanceMetadata"]["copiedFromUuid"] == source["uuid"]
    assert api.stored_counts() == before


def test_dry_run_still_refuses_what_a_start_would_refuse(api: Api) -> None:
    source = _onboarding(api)
    response = api.client.post(
        api.copy_path("onboarding", source["uuid"], "dryRun=true"),
        json={"customer": None},
        headers=api.headers(),
    )
    assert_problem(response, 400, "Some mandatory params are missing.")


def test_a_chain_of_three_copies_and_its_lineage(api: Api) -> None:
    first = _onboarding(api)
    second = api.copy("onboarding", first["uuid"], {"round": 1})
    third = api.copy("onboarding", second["uuid"], {"round": 2})
    fourth = api.copy("onboarding", third["uuid"], {"round": 3})
    root = first["uuid"]
    assert second["instanceMetadata"] | {"processInstanceId": 0} == {
        "processInstanceId": 0,
        "processInstanceUuid": second["uuid"],
        "copiedFromUuid": root,
        "lineageRootUuid": root,
        # A copy is not a call: it has no parent in a call tree.
        "parentProcessInstanceUuid": None,
        "rootProcessInstanceUuid": None,
    }
    assert fourth["instanceMetadata"]["copiedFromUuid"] == third["uuid"]
    assert fourth["instanceMetadata"]["lineageRootUuid"] == root

    lineage = api.client.get(
        f"/api/runtime/process/{third['uuid']}/lineage", headers=api.headers()
    ).json()
    assert lineage["lineageRootUuid"] == root
    assert [a["uuid"] for a in lineage["ancestors"]] == [root, second["uuid"]]
    assert [d["uuid"] for d in lineage["descendants"]] == [fourth["uuid"]]
    root_view = api.client.get(f"/api/runtime/process/{root}/lineage", headers=api.headers()).json()
    assert root_view["ancestors"] == []
    assert [d["uuid"] for d in root_view["descendants"]] == [
        second["uuid"],
        third["uuid"],
        fourth["uuid"],
    ]
    search = api.client.get(
        f"/api/runtime/wks/{api.workspace}/process-instances",
        params={"lineageRootUuid": root},
        headers=api.headers(),
    ).json()
    assert [i["uuid"] for i in search["content"]] == [
        root,
        second["uuid"],
        third["uuid"],
        fourth["uuid"],
    ]


def test_bad_copy_options_are_400_and_store_nothing(api: Api) -> None:
    source = _onboarding(api)
    before = api.stored_counts()
    for query in ("paramsToCopy=a..b", "withoutParams=.x", "dryRun=perhaps"):
        response = api.client.post(
            api.copy_path("onboarding", source["uuid"], query), json={}, headers=api.headers()
        )
        assert_problem(response, 400)
    response = api.client.post(
        api.copy_path("onboarding", "not-a-uuid"), json={}, headers=api.headers()
    )
    assert_problem(response, 400)
    assert api.stored_counts() == before
