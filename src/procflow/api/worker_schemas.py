"""The published shapes of the worker and message endpoints: request bodies (checked by
pydantic: a body that does not fit is a 400 problem) and answers, under their wire names."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from procflow.model.data import split_path
from procflow.runtime.external_tasks import MAX_LOCK_MS, MAX_TASKS

# Camunda's upper bound for asyncResponseTimeout: 30 minutes.
MAX_ASYNC_RESPONSE_MS = 30 * 60 * 1000

WorkerId = Annotated[str, Field(min_length=1, max_length=200)]
Duration = Annotated[int, Field(gt=0, le=MAX_LOCK_MS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TopicBody(_Strict):
    topicName: Annotated[str, Field(min_length=1, max_length=200)]
    lockDuration: Duration
    variables: list[str] | None = None

    @field_validator("variables")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        for path in paths or []:
            split_path(path)  # a ValueError names the bad path
        return paths


class FetchBody(_Strict):
    workerId: WorkerId
    maxTasks: Annotated[int, Field(ge=1, le=MAX_TASKS)]
    topics: Annotated[list[TopicBody], Field(min_length=1, max_length=100)]
    asyncResponseTimeout: Annotated[int, Field(ge=0, le=MAX_ASYNC_RESPONSE_MS)] = 0


class CompleteBody(_Strict):
    workerId: WorkerId
    data: dict[str, Any] | None = None


class FailureBody(_Strict):
    workerId: WorkerId
    errorMessage: Annotated[str, Field(max_length=10_000)] = ""
    errorDetails: Annotated[str, Field(max_length=100_000)] | None = None
    retries: Annotated[int, Field(ge=0)]
    retryTimeout: Annotated[int, Field(ge=0, le=MAX_LOCK_MS)] = 0


class BpmnErrorBody(_Strict):
    workerId: WorkerId
    errorCode: Annotated[str, Field(min_length=1, max_length=200)]
    errorMessage: Annotated[str, Field(max_length=10_000)] = ""
    data: dict[str, Any] | None = None


class ExtendLockBody(_Strict):
    workerId: WorkerId
    newDuration: Duration


class _Lenient(BaseModel):
    """Camunda clients send fields Procflow has no use for: ignored. Types are still strict
    (``false`` is no number)."""

    model_config = ConfigDict(extra="ignore", strict=True)


class CamundaTopic(_Lenient):
    topicName: Annotated[str, Field(min_length=1, max_length=200)]
    lockDuration: Duration
    variables: list[str] | None = None
    # Strings on the wire; strict mode would refuse them as UUID, so they are read as text.
    tenantIdIn: list[Annotated[UUID, Field(strict=False)]] | None = None


class CamundaFetch(_Lenient):
    workerId: WorkerId
    maxTasks: Annotated[int, Field(ge=1, le=MAX_TASKS)]
    topics: Annotated[list[CamundaTopic], Field(min_length=1, max_length=100)]
    asyncResponseTimeout: Annotated[int, Field(ge=0, le=MAX_ASYNC_RESPONSE_MS)] | None = None


class CamundaComplete(_Lenient):
    workerId: WorkerId
    variables: dict[str, Any] | None = None
    localVariables: dict[str, Any] | None = None


class CamundaFailure(_Lenient):
    workerId: WorkerId
    errorMessage: Annotated[str, Field(max_length=10_000)] | None = None
    errorDetails: Annotated[str, Field(max_length=100_000)] | None = None
    retries: Annotated[int, Field(ge=0)] | None = None
    retryTimeout: Annotated[int, Field(ge=0)] | None = None


class CamundaBpmnError(_Lenient):
    workerId: WorkerId
    errorCode: Annotated[str, Field(min_length=1, max_length=200)]
    errorMessage: Annotated[str, Field(max_length=10_000)] | None = None
    variables: dict[str, Any] | None = None


class CamundaExtendLock(_Lenient):
    workerId: WorkerId
    newDuration: Duration


# A buffered message lives at most 30 days.
MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000


class MessageBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    messageName: Annotated[str, Field(min_length=1, max_length=200)]
    correlationKey: Annotated[str, Field(max_length=400)] | int | None = None
    data: dict[str, Any] | None = None
    timeToLive: Annotated[int, Field(ge=0, le=MAX_TTL_MS)] = 0
    messageId: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    all: bool = False


class ExternalTaskOut(BaseModel):
    """A locked external task, as the native fetch-and-lock answers it."""

    id: UUID
    topicName: str
    workerId: str | None
    processInstanceUuid: UUID
    processDefinitionName: str
    activityId: str
    retries: int
    lockExpirationTime: str
    data: dict[str, Any]
    errorMessage: str | None


class CamundaVariable(BaseModel):
    value: Any
    type: str
    valueInfo: dict[str, Any]


class CamundaTaskOut(BaseModel):
    """A locked external task in Camunda 7's shape."""

    id: UUID
    topicName: str
    workerId: str | None
    processInstanceId: UUID
    processDefinitionId: str
    processDefinitionKey: str
    processDefinitionVersionTag: str | None
    activityId: str
    activityInstanceId: str
    executionId: UUID
    variables: dict[str, CamundaVariable]
    retries: int
    lockExpirationTime: str
    errorMessage: str | None
    errorDetails: str | None
    suspended: bool
    tenantId: UUID
    businessKey: str | None
    priority: int
    extensionProperties: dict[str, Any]


class CorrelatedTo(BaseModel):
    processInstanceUuid: UUID
    nodeId: str
    tokenUuid: UUID


class StartedBy(BaseModel):
    processInstanceUuid: UUID


class MessageResult(BaseModel):
    messageId: str
    correlated: list[CorrelatedTo]
    started: list[StartedBy]
    buffered: bool


# Registered with the published document (api/schemas.py ``BODY_MODELS``).
WORKER_BODY_MODELS: tuple[type[BaseModel], ...] = (
    FetchBody, CompleteBody, FailureBody, BpmnErrorBody, ExtendLockBody, CamundaFetch,
    CamundaComplete, CamundaFailure, CamundaBpmnError, CamundaExtendLock, MessageBody,
)  # fmt: skip
