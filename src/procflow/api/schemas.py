"""The published shapes of the HTTP API: request bodies, answers and problems, as pydantic.

How to add an endpoint (follow this, so that every operation is born with its schema):

1. Describe the answer with a model here (or reuse one) and give the route
   ``response_model=ThatModel``. Handlers keep building the body with ``render.py`` and return
   a ``JsonResponse``: the model documents the answer, the schemathesis test
   (tests/api/test_schemathesis.py) proves that the dict matches it.
2. Describe a body with a model here and declare it with ``openapi_extra=body(Model, ...)``.
   Read it with ``read_model(request, Model)`` (api/requests.py: bounded, orjson, 400 on bad
   input). Free-form process data keeps ``read_json_object`` and ``body(ProcessData, ...)``.
3. List the problems the operation can answer with ``responses=problems(400, 401, ...)``:
   only statuses it really produces, each proven by tests/api/test_problem_statuses.py.
4. Give it a short, stable ``operation_id`` in lowerCamelCase (``startProcess``): generated
   clients name their functions after it, so never rename one.
5. Headers go in the signature (``Header(alias=...)``); answer headers in ``responses``
   (see ``START_HEADERS``). Every operation needs the bearer token unless it is listed in
   ``PUBLIC_PATHS`` (api/openapi.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from procflow.api.worker_schemas import WORKER_BODY_MODELS
from procflow.model.states import InstanceState, NodeStatus, TokenState
from procflow.runtime.batch_spec import BatchOperation, BatchState, ItemState

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

# The README story, so that /docs and generated clients show the same example.
EXAMPLE_WORKSPACE = "00000000-0000-0000-0000-000000000001"
EXAMPLE_APP = "00000000-0000-0000-0000-0000000000a1"
EXAMPLE_INSTANCE = "71b2de1b-5f0e-4c3e-9a57-7d1c2b0e9f10"
EXAMPLE_COPY = "09b60633-2a4d-4b8e-8f8c-3c6f6e0d5a21"
EXAMPLE_TOKEN = "04678b55-8d3c-4a7e-b1f2-9e6a3c5d7b80"
EXAMPLE_BUILD = "5b0a9c6e-1f2d-4e3b-8a7c-6d5e4f3a2b1c"
EXAMPLE_DEFINITION = "c7d8e9f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f"
EXAMPLE_START_BODY: dict[str, Any] = {
    "applicant": {"name": "Ada", "income": 5000},
    "loan": {"amount": 12000},
}
EXAMPLE_ACTION_BODY: dict[str, Any] = {"decision": {"by": "sam"}}
EXAMPLE_COPY_BODY: dict[str, Any] = {"retryReason": "manual-rerun"}

EXAMPLE_START_RESPONSE: dict[str, Any] = {
    "uuid": EXAMPLE_INSTANCE,
    "state": "STARTED",
    "processDefinitionName": "loan_application",
    "processDefinitionFlowxUuid": EXAMPLE_DEFINITION,
    "resourceDefinitionId": "3f2c1b0a-9e8d-5c7b-a695-847362514039",
    "buildId": EXAMPLE_BUILD,
    "buildStatusAtStart": "COMMITTED",
    "applicationId": EXAMPLE_APP,
    "workspaceId": EXAMPLE_WORKSPACE,
    "parentApplicationId": None,
    "rootApplicationId": None,
    "tokens": [
        {
            "id": 1,
            "uuid": EXAMPLE_TOKEN,
            "state": "ACTIVE",
            "statusCurrentNode": "ARRIVED",
            "currentNodeId": "review",
            "parentTokenId": None,
        }
    ],
    "instanceMetadata": {
        "processInstanceId": 1,
        "processInstanceUuid": EXAMPLE_INSTANCE,
        "copiedFromUuid": None,
        "lineageRootUuid": None,
        "parentProcessInstanceUuid": None,
        "rootProcessInstanceUuid": None,
    },
}


class Schema(BaseModel):
    """Answers are documented, not produced, by these models. No ``additionalProperties``
    is declared: JSON Schema then allows members added later (generated clients keep them),
    while TypeScript types stay exact."""


class ProcessData(RootModel[dict[str, Any]]):
    """Process data: any JSON object."""


class UiAction(Schema):
    name: str
    uiActionFlowxUuid: UUID


class Token(Schema):
    id: int
    uuid: UUID
    state: TokenState
    statusCurrentNode: NodeStatus
    currentNodeId: str
    parentTokenId: int | None
    scopeTokenId: int | None = Field(
        default=None,
        description="The token this one runs inside: the token waiting at its subprocess, "
        "or the multi-instance activity it is one instance of.",
    )
    variables: dict[str, Any] | None = Field(
        default=None,
        description="On a token of a multi-instance instance: its element and loopCounter "
        "(not in the instance data).",
    )
    uiActions: list[UiAction] | None = Field(
        default=None, description="On a token waiting at a user task: its actions (FlowX 4.6+)."
    )


class InstanceMetadata(Schema):
    processInstanceId: int
    processInstanceUuid: UUID
    copiedFromUuid: UUID | None
    lineageRootUuid: UUID | None
    parentProcessInstanceUuid: UUID | None = Field(
        default=None, description="The instance whose call activity started this one."
    )
    rootProcessInstanceUuid: UUID | None = Field(
        default=None, description="The top of this instance's call tree (null: it is the top)."
    )


class StartResponse(Schema):
    """The FlowX start response; also the answer of an action."""

    uuid: UUID
    state: InstanceState
    processDefinitionName: str
    processDefinitionFlowxUuid: UUID
    resourceDefinitionId: UUID = Field(
        description="The definition's id stable across the app's builds (inherit-from)."
    )
    buildId: UUID
    buildStatusAtStart: str
    applicationId: UUID
    workspaceId: UUID
    parentApplicationId: UUID | None
    rootApplicationId: UUID | None
    tokens: list[Token]
    instanceMetadata: InstanceMetadata


class DryRunMetadata(Schema):
    copiedFromUuid: UUID | None
    lineageRootUuid: UUID | None


class DryRunResponse(Schema):
    """What a copyDataFrom start would do (``dryRun=true``): nothing is written."""

    dryRun: bool
    processDefinitionName: str
    processDefinitionFlowxUuid: UUID
    buildId: UUID
    buildStatusAtStart: str
    applicationId: UUID
    workspaceId: UUID
    startNodeId: str
    data: dict[str, Any]
    instanceMetadata: DryRunMetadata


class Incident(Schema):
    id: int = Field(description="Unique within the instance; retry it by this id.")
    type: str
    message: str
    nodeId: str | None
    tokenUuid: UUID | None
    at: datetime
    resolvedAt: datetime | None
    resolvedBy: str | None


class Wait(Schema):
    """Something the instance waits for outside the engine (a timer, a queued task)."""

    id: str
    kind: str = Field(description="task, timer or expiry")
    nodeId: str | None
    tokenUuid: UUID | None
    dueAt: datetime | None
    fired: int


class AuditSummary(Schema):
    events: int
    byType: dict[str, int]
    lastEventAt: datetime | None


class ChildInstance(Schema):
    uuid: UUID
    name: str = Field(description="The child's process definition name.")
    state: InstanceState


class InstanceStatus(StartResponse):
    """The start response plus timestamps, incidents and an audit summary."""

    createdAt: datetime
    updatedAt: datetime
    version: int
    incidents: list[Incident]
    waits: list[Wait]
    auditSummary: AuditSummary | None = None
    children: list[ChildInstance] = Field(
        default_factory=list, description="The instances its call activities started."
    )


class AuditEvent(Schema):
    seq: int
    type: str
    nodeId: str | None
    tokenUuid: UUID | None
    details: dict[str, Any]
    at: datetime


class AuditLog(Schema):
    uuid: UUID
    events: list[AuditEvent]


class InstanceSummary(Schema):
    """One instance in a list: search results and lineage members."""

    uuid: UUID
    processInstanceId: int
    processDefinitionName: str
    state: InstanceState
    buildId: UUID
    applicationId: UUID
    copiedFromUuid: UUID | None
    lineageRootUuid: UUID | None
    parentProcessInstanceUuid: UUID | None = None
    rootProcessInstanceUuid: UUID | None = None
    createdAt: datetime
    updatedAt: datetime


class Lineage(Schema):
    uuid: UUID
    copiedFromUuid: UUID | None
    lineageRootUuid: UUID
    ancestors: list[InstanceSummary]
    descendants: list[InstanceSummary]


class SearchPage(Schema):
    content: list[InstanceSummary]
    nextCursor: str | None = Field(
        description="Pass it back as ``cursor`` for the next page; null on the last page."
    )


class InstanceExternalTask(Schema):
    """An open external task of an instance, as an operator sees it (no data)."""

    id: UUID
    waitId: str
    nodeId: str
    topic: str
    retries: int
    availableAt: datetime
    lockedBy: str | None = Field(description="The worker holding the lock, if any.")
    lockedUntil: datetime | None
    errorMessage: str | None = Field(description="The last failure a worker reported.")


class InstanceExternalTasks(Schema):
    content: list[InstanceExternalTask]


class InstanceCounts(Schema):
    """Instances matching a search, by state: every state is listed, zeros included."""

    counts: dict[str, int]


class ProcessDefinitionRef(Schema):
    name: str
    flowxUuid: UUID
    file: str


class DeployWarning(Schema):
    """Something a file says that deploys and runs, but perhaps not as the modeler meant
    (docs/bpmn.md): placed like a problem of a refused file."""

    file: str
    elementId: str | None
    line: int | None
    message: str


class BuildInfo(Schema):
    buildId: UUID
    applicationId: UUID
    workspaceId: UUID
    status: str
    checksum: str
    createdAt: datetime
    processDefinitions: list[ProcessDefinitionRef]
    active: bool | None = None
    # Present on an upload's answer (empty when there is nothing to tell).
    warnings: list[DeployWarning] | None = None


class ExistingBuild(BuildInfo):
    """An upload whose files are those of a build the app has already: that build."""

    existing: bool


class BuildSummary(Schema):
    """One build in a list: no definitions, and whether it is the app's active build."""

    buildId: UUID
    applicationId: UUID
    workspaceId: UUID
    status: str
    checksum: str
    createdAt: datetime
    active: bool


class BuildList(Schema):
    content: list[BuildSummary] = Field(description="Newest first.")


class Workspace(Schema):
    id: UUID
    name: str


class WorkspaceList(Schema):
    content: list[Workspace]


class App(Schema):
    id: UUID
    workspaceId: UUID
    name: str


class AppList(Schema):
    content: list[App]


class Batch(Schema):
    """A batch and its progress: ``done + failed`` of ``total`` items are applied."""

    id: UUID
    workspaceId: UUID
    operation: BatchOperation
    state: BatchState
    total: int
    done: int
    failed: int
    filter: dict[str, Any] | None = Field(
        description="The selection: its search parameters, or ``{uuids: <count>}``."
    )
    spec: dict[str, Any] = Field(description="What is applied to each item.")
    createdBy: str
    createdAt: datetime
    updatedAt: datetime
    finishedAt: datetime | None


class BatchDrySample(Schema):
    sourceUuid: UUID
    state: str | None = Field(description="The source instance's state.")
    data: dict[str, Any] | None = Field(description="copyDataFrom: the data a copy starts with.")
    error: str | None = Field(description="Why this item would fail.")


class BatchDryRun(Schema):
    """What a batch would do (``dryRun``): its item count and the first items; nothing is
    written."""

    dryRun: bool
    total: int
    samples: list[BatchDrySample]


class BatchItem(Schema):
    seq: int
    sourceUuid: UUID
    state: ItemState
    resultUuid: UUID | None = Field(description="copyDataFrom: the instance the item started.")
    error: dict[str, Any] | None = Field(description="A failed item's problem (its code).")
    finishedAt: datetime | None


class BatchItemPage(Schema):
    content: list[BatchItem]
    nextCursor: str | None = Field(
        description="Pass it back as ``cursor`` for the next page; null on the last page."
    )


class ActiveBuild(Schema):
    workspaceId: UUID
    applicationId: UUID
    buildId: UUID
    active: bool


class Health(Schema):
    status: str


class Problem(Schema):
    """RFC 9457 problem details, with FlowX's ``message`` and ``errorKey`` and a stable
    ``code``; further members (``params``, ``invalidParams``, ...) carry the details."""

    type: str
    title: str
    status: int
    detail: str
    message: str
    errorKey: str
    code: str


# Request bodies: validated by read_model, strictly (a number is not a name).


class Body(BaseModel):
    model_config = ConfigDict(strict=True)


class CreateWorkspace(Body):
    name: str = Field(min_length=1)
    id: UUID | None = None


class CreateApp(Body):
    name: str = Field(min_length=1)
    id: UUID | None = None


class UploadBuild(Body):
    files: dict[str, str] = Field(description="File name -> its text (YAML or BPMN XML).")
    activate: bool = False
    buildId: UUID | None = None


class SetActiveBuild(Body):
    buildId: UUID


class ParamsToInherit(BaseModel):
    paramsToCopy: list[str] = Field(default_factory=list)
    withoutParams: list[str] = Field(default_factory=list)


class InheritFrom(BaseModel):
    """FlowX inherit-from: neither list (or both empty) copies all the data."""

    paramsToInherit: ParamsToInherit | None = None


class BatchQuery(BaseModel):
    """copyDataFrom's query options; the path lists also as one comma-separated string."""

    model_config = ConfigDict(extra="forbid")

    paramsToCopy: list[str] | str | None = None
    withoutParams: list[str] | str | None = None
    startAt: str | None = Field(default=None, description="Start each copy at this node.")


def _no_default(schema: dict[str, Any]) -> None:
    # A member that may be left out but not be null: its default (None) is no valid value.
    schema.pop("default", None)


class BatchSelection(BaseModel):
    """Which instances: an explicit list of ``uuids``, or the instance search's parameters
    (at least one; never both)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    uuids: list[UUID] | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_no_default)
    processName: str | None = None
    state: InstanceState | list[InstanceState] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=_no_default
    )
    # Plain strings: the server takes every ISO 8601 form, not only RFC 3339 date-times.
    createdFrom: str | None = Field(default=None, description="ISO 8601 date-time.")
    createdTo: str | None = Field(default=None, description="ISO 8601 date-time.")
    lineageRootUuid: UUID | None = None
    parentProcessInstanceUuid: UUID | None = Field(
        default=None, description="The children of this instance's call activities."
    )
    rootProcessInstanceUuid: UUID | None = Field(
        default=None, description="Every instance of this call tree, below its root."
    )


class CreateBatch(BaseModel):
    """Read by api/batch_requests.py, which refuses every mistake with a 400."""

    model_config = ConfigDict(extra="forbid")

    operation: BatchOperation
    filter: BatchSelection
    processName: str | None = Field(default=None, description="copyDataFrom: start this process.")
    appId: UUID | None = Field(default=None, description="copyDataFrom: start in this app.")
    body: dict[str, Any] | None = Field(
        default=None,
        description="copyDataFrom: merged on each copy; retry: the data patch; "
        "terminate: {reason}.",
    )
    query: BatchQuery | None = None
    dryRun: bool = Field(default=False, description="Count the items; apply nothing.")


class UiActionAnswer(Schema):
    tokenUuid: UUID
    currentNodeId: str | None
    templatesSequence: None
    backAction: bool
    resetToken: bool


class TerminateInstance(Body):
    reason: str = Field(default="", description="Why; kept in the audit log.")


class RetryIncident(BaseModel):
    """Read with the data model's checks (api/requests.py ``read_json_object``)."""

    data: dict[str, Any] | None = Field(
        default=None, description="A JSON Merge Patch (RFC 7396) applied to the data first."
    )


EXAMPLE_PROBLEM: dict[str, Any] = {
    "type": "https://procflow.dev/problems/process_instance_not_found",
    "title": "Not Found",
    "status": 404,
    "detail": "Process instance not found.",
    "message": "Process instance not found.",
    "errorKey": "error.process_instance.not_found",
    "code": "process_instance_not_found",
}
# Set on the published schemas by api/openapi.py, after FastAPI's encoding (which drops the
# nulls an example needs).
SCHEMA_EXAMPLES: dict[str, dict[str, Any]] = {
    "StartResponse": EXAMPLE_START_RESPONSE,
    "Problem": EXAMPLE_PROBLEM,
    "ProcessData": EXAMPLE_START_BODY,
}

BODY_MODELS: tuple[type[BaseModel], ...] = (
    ProcessData,
    CreateWorkspace,
    CreateApp,
    UploadBuild,
    SetActiveBuild,
    TerminateInstance,
    RetryIncident,
    InheritFrom,
    CreateBatch,
    *WORKER_BODY_MODELS,
)

_STATUS_TEXT = {
    400: "Bad input: invalid JSON, a wrong parameter, missing mandatory params.",
    401: "No bearer token, or one that does not verify.",
    403: "The token lacks the role for this workspace and action.",
    404: "Not found, or not visible to this token.",
    409: "A conflict: an Idempotency-Key reused with a different request, or an operation "
    "that does not fit the instance's state (answered with it).",
    413: "The body is over the limit.",
    503: "The database does not answer.",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of the problems an operation can answer."""
    return {
        status: {
            "description": _STATUS_TEXT[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for status in statuses
    }


def body(
    model: type[BaseModel], examples: dict[str, Any] | None = None, *, required: bool = True
) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body that the handler reads itself."""
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    if examples:
        media["examples"] = {name: {"value": value} for name, value in examples.items()}
    return {"requestBody": {"required": required, "content": {"application/json": media}}}


LOCATION_HEADER = {
    "Location": {
        "description": "Where the new instance's status is read.",
        "schema": {"type": "string", "example": f"/api/runtime/process/{EXAMPLE_INSTANCE}"},
    }
}
START_HEADERS = LOCATION_HEADER | {
    "Idempotent-Replayed": {
        "description": "``true`` when an Idempotency-Key matched an earlier start.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
