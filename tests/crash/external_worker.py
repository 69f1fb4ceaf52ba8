"""An external-task worker for the crash test, run as its own OS process (and SIGKILLed).

Usage: ``python external_worker.py WORKER_ID ACK_FILE TOKEN WORKSPACE BASE_URL...``.
Fetches from the servers in turn (moving on when one is down), completes each task with
``{"doneBy": WORKER_ID}`` and appends ``task instance worker`` to ACK_FILE for every 204:
the completions Procflow acknowledged, which must all be in the instances afterwards.
"""

from __future__ import annotations

import sys
import time

import httpx

LOCK_MS = 2_000
# "The work" per task: long enough that the kills land while tasks are locked and running.
WORK_SECONDS = 0.05


def main(worker_id: str, ack_path: str, token: str, workspace: str, bases: list[str]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"workerId": worker_id, "maxTasks": 4, "asyncResponseTimeout": 1_000,
            "topics": [{"topicName": "crash", "lockDuration": LOCK_MS}]}  # fmt: skip
    turn = 0
    with httpx.Client(headers=headers, timeout=10) as client, open(ack_path, "a") as acks:
        while True:
            base = bases[turn % len(bases)]
            turn += 1
            try:
                fetched = client.post(
                    f"{base}/api/runtime/wks/{workspace}/external-tasks/fetch-and-lock", json=body
                )
                if fetched.status_code != 200:
                    time.sleep(0.1)
                    continue
                for task in fetched.json():
                    time.sleep(WORK_SECONDS)
                    done = client.post(
                        f"{base}/api/runtime/external-tasks/{task['id']}/complete",
                        json={"workerId": worker_id, "data": {"doneBy": worker_id}},
                    )
                    if done.status_code == 204:
                        acks.write(f"{task['id']} {task['processInstanceUuid']} {worker_id}\n")
                        acks.flush()
            except httpx.TransportError:
                time.sleep(0.1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
