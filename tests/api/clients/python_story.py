"""The README story through a client that openapi-python-client generated, unpatched.

Run by tests/api/test_generated_clients.py with the generator's venv (which has the
client's own dependencies, httpx and attrs): ``python python_story.py BASE TOKEN``, with
the generated ``procflow_client`` package on ``sys.path``. Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from uuid import UUID, uuid4

from procflow_client import AuthenticatedClient
from procflow_client.api.instances import (
    execute_action,
    get_data,
    get_lineage,
    get_status,
    search_instances,
)
from procflow_client.api.start import start_process, start_with_copied_data
from procflow_client.models import DryRunResponse, Problem, ProcessData, StartResponse

WORKSPACE = UUID("00000000-0000-0000-0000-000000000001")
APP = UUID("00000000-0000-0000-0000-0000000000a1")
PROCESS = "loan_application"


def main(base: str, token: str) -> dict[str, Any]:
    client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
    with client:
        return story(client)


def story(client: AuthenticatedClient) -> dict[str, Any]:
    body = ProcessData.from_dict(
        {"applicant": {"name": "Ada", "income": 5000}, "loan": {"amount": 12000}}
    )
    key = str(uuid4())
    first = start_process.sync_detailed(
        WORKSPACE, APP, PROCESS, client=client, body=body, idempotency_key=key
    )
    started = first.parsed
    assert isinstance(started, StartResponse), first.content
    again = start_process.sync_detailed(
        WORKSPACE, APP, PROCESS, client=client, body=body, idempotency_key=key
    )
    assert isinstance(again.parsed, StartResponse)
    review = next(t for t in started.tokens if t.current_node_id == "review")

    data = get_data.sync(started.uuid, client=client)
    assert isinstance(data, ProcessData)

    decision = ProcessData.from_dict({"decision": {"by": "sam"}})
    acted = execute_action.sync(started.uuid, review.uuid, "approve", client=client, body=decision)
    assert isinstance(acted, StartResponse)

    retry = ProcessData.from_dict({"retryReason": "manual-rerun"})
    copy = start_with_copied_data.sync(
        WORKSPACE,
        APP,
        PROCESS,
        started.uuid,
        client=client,
        body=retry,
        params_to_copy="applicant,loan",
    )
    assert isinstance(copy, StartResponse), copy
    preview = start_with_copied_data.sync(
        WORKSPACE,
        APP,
        PROCESS,
        started.uuid,
        client=client,
        body=retry,
        without_params="decision",
        dry_run=True,
    )
    assert isinstance(preview, DryRunResponse), preview

    lineage = get_lineage.sync(copy.uuid, client=client)
    missing = get_status.sync(uuid4(), client=client)
    assert isinstance(missing, Problem)
    page = search_instances.sync(WORKSPACE, client=client, process_name=PROCESS, limit=1)
    assert page is not None and not isinstance(page, Problem)
    next_page = search_instances.sync(
        WORKSPACE, client=client, process_name=PROCESS, limit=1, cursor=page.next_cursor
    )
    assert next_page is not None and not isinstance(next_page, Problem)
    assert lineage is not None and not isinstance(lineage, Problem)
    return {
        "started": str(started.uuid),
        "startState": started.state.value,
        "location": first.headers.get("location"),
        "replayed": again.headers.get("idempotent-replayed"),
        "replayUuid": str(again.parsed.uuid),
        "risk": data.additional_properties.get("risk"),
        "actedState": acted.state.value,
        "copy": str(copy.uuid),
        "copiedFrom": str(copy.instance_metadata.copied_from_uuid),
        "previewData": preview.data.additional_properties,
        "ancestors": [str(a.uuid) for a in lineage.ancestors],
        "missingStatus": missing.status,
        "missingCode": missing.code,
        "pages": [[str(i.uuid) for i in page.content], [str(i.uuid) for i in next_page.content]],
        "nextCursor": page.next_cursor,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
