"""Messages over HTTP on both stores: delivery by name and key to the oldest subscription
or to all, message start events, buffering with a time to live, messageId deduplication,
refusals, and concurrent messages racing for one subscription."""

from __future__ import annotations

import threading
import time
from typing import Any

from procflow.runtime.access import Role
from tests.api.conftest import Api


def send(api: Api, status: int = 200, token: str | None = None, **body: Any) -> Any:
    response = api.client.post(
        f"/api/runtime/wks/{api.workspace}/messages", json=body, headers=api.headers(token)
    )
    assert response.status_code == status, response.text
    return response.json()


def waiting(api: Api, order: int) -> str:
    uuid: str = api.start("await_payment", {"orderId": order})["uuid"]
    [token] = api.status(uuid)["tokens"]
    assert token["statusCurrentNode"] == "WAITING_MESSAGE_EVENT"
    return uuid


def test_a_message_is_delivered_by_name_and_key_and_its_data_merged(api: Api) -> None:
    first, second = waiting(api, 1), waiting(api, 2)
    answer = send(api, messageName="payment-received", correlationKey="2", data={"paid": 5})
    [delivered] = answer["correlated"]
    assert delivered["processInstanceUuid"] == second and delivered["nodeId"] == "paid"
    assert answer["started"] == [] and answer["buffered"] is False
    assert api.status(second)["state"] == "FINISHED"
    assert api.data(second) == {"orderId": 2, "paid": 5}
    assert api.status(first)["state"] == "STARTED"
    # A number key correlates like its text.
    assert len(send(api, messageName="payment-received", correlationKey=1)["correlated"]) == 1


def test_without_all_the_oldest_subscription_receives_it_with_all_every_one(api: Api) -> None:
    older, newer, third = waiting(api, 7), waiting(api, 7), waiting(api, 7)
    [only] = send(api, messageName="payment-received", correlationKey="7")["correlated"]
    assert only["processInstanceUuid"] == older
    every = send(api, messageName="payment-received", correlationKey="7", all=True)["correlated"]
    assert {d["processInstanceUuid"] for d in every} == {newer, third}


def test_nobody_waiting_without_a_ttl_is_not_correlated_and_not_kept(api: Api) -> None:
    answer = send(api, messageName="payment-received", correlationKey="9")
    assert (answer["correlated"], answer["buffered"]) == ([], False)
    uuid = waiting(api, 9)
    assert api.status(uuid)["state"] == "STARTED"


def test_a_buffered_message_is_delivered_once_to_the_first_subscription(api: Api) -> None:
    answer = send(api, messageName="payment-received", correlationKey="5", timeToLive=60_000,
                  data={"early": True})  # fmt: skip
    assert answer["buffered"] is True and answer["correlated"] == []
    started = api.start("await_payment", {"orderId": 5})
    assert started["state"] == "FINISHED"  # delivered in the start's own transaction
    assert api.data(started["uuid"])["early"] is True
    assert api.status(waiting(api, 5))["state"] == "STARTED"  # once only


def test_a_buffered_message_expires(api: Api) -> None:
    send(api, messageName="payment-received", correlationKey="6", timeToLive=100)
    time.sleep(0.2)
    assert api.status(waiting(api, 6))["state"] == "STARTED"


def test_the_same_message_id_answers_the_first_result_and_delivers_nothing_twice(
    api: Api,
) -> None:
    first, second = waiting(api, 3), waiting(api, 3)
    body: dict[str, Any] = {"messageName": "payment-received", "correlationKey": "3",
                            "messageId": "m-1"}  # fmt: skip
    answer = send(api, **body)
    assert answer["messageId"] == "m-1"
    assert send(api, **body) == answer
    assert api.status(first)["state"] == "FINISHED"
    assert api.status(second)["state"] == "STARTED"


def test_a_message_start_event_starts_an_instance_with_the_data(api: Api) -> None:
    answer = send(api, messageName="customer-signed-up", data={"email": "a@b.c"})
    [started] = answer["started"]
    uuid = started["processInstanceUuid"]
    [token] = api.status(uuid)["tokens"]
    assert token["statusCurrentNode"] == "WAITING_MESSAGE"
    assert api.data(uuid) == {"email": "a@b.c"}
    [delivered] = send(api, messageName="welcome-confirmed", correlationKey="a@b.c")["correlated"]
    assert delivered["processInstanceUuid"] == uuid
    assert api.status(uuid)["state"] == "FINISHED"


def test_a_held_instance_does_not_receive_messages(api: Api) -> None:
    uuid = waiting(api, 4)
    api.client.post(f"/api/runtime/process/{uuid}/hold", json={}, headers=api.headers())
    assert send(api, messageName="payment-received", correlationKey="4")["correlated"] == []
    api.client.post(f"/api/runtime/process/{uuid}/unhold", json={}, headers=api.headers())
    assert len(send(api, messageName="payment-received", correlationKey="4")["correlated"]) == 1


def test_bad_messages_are_refused_and_change_nothing(api: Api) -> None:
    uuid = waiting(api, 8)
    before = api.stored_counts()
    for body in ({"messageName": ""}, {}, {"messageName": "x", "timeToLive": -1},
                 {"messageName": "x", "data": [1]}, {"messageName": "x", "all": "yes"},
                 {"messageName": "x", "unknown": 1}):  # fmt: skip
        problem = send(api, 400, **body)
        assert problem["status"] == 400
    big = {"messageName": "payment-received", "correlationKey": "8",
           "data": {"blob": "x" * (1024 * 1024)}}  # fmt: skip
    response = api.client.post(f"/api/runtime/wks/{api.workspace}/messages", json=big,
                               headers=api.headers())  # fmt: skip
    assert response.status_code == 413
    assert api.stored_counts() == before
    assert api.status(uuid)["state"] == "STARTED"


def test_the_action_role_is_needed_and_workspaces_are_isolated(api: Api) -> None:
    uuid = waiting(api, 11)
    reader = api.mint({str(api.workspace): frozenset({Role.READ})})
    send(api, 403, token=reader, messageName="payment-received", correlationKey="11")
    other = api.mint({str(api.other_workspace): frozenset(Role)})
    response = api.client.post(
        f"/api/runtime/wks/{api.other_workspace}/messages",
        json={"messageName": "payment-received", "correlationKey": "11"},
        headers=api.headers(other),
    )
    assert response.json()["correlated"] == []
    assert api.status(uuid)["state"] == "STARTED"


def test_concurrent_messages_for_one_subscription_deliver_exactly_one(api: Api) -> None:
    uuid = waiting(api, 21)
    answers: list[Any] = []
    lock = threading.Lock()
    gate = threading.Barrier(6)

    def one(n: int) -> None:
        gate.wait()
        answer = send(api, messageName="payment-received", correlationKey="21", data={"by": n})
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    delivered = [a for a in answers if a["correlated"]]
    assert len(answers) == 6 and len(delivered) == 1
    assert api.data(uuid)["by"] in range(6)
    events = api.client.get(f"/api/runtime/process/{uuid}/audit", headers=api.headers()).json()
    assert sum(e["type"] == "message_correlated" for e in events["events"]) == 1
