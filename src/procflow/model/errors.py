"""The one tree of domain errors.

Every error a user can cause carries a stable ``code``; only the HTTP layer maps codes to
status lines. ``message`` is the FlowX text where FlowX has one, because clients match on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


class ProcflowError(Exception):
    """Base of every error that a request can cause and a client should see."""

    code: ClassVar[str] = "procflow_error"
    error_key: ClassVar[str] = "error.procflow"
    default_message: ClassVar[str] = "The request could not be processed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details
        super().__init__(self.message)


class NotFoundError(ProcflowError):
    code = "not_found"
    error_key = "error.not_found"


class WorkspaceNotFound(NotFoundError):
    code = "workspace_not_found"
    error_key = "error.workspace.not_found"
    default_message = "Workspace not found."


class AppNotFound(NotFoundError):
    code = "app_not_found"
    error_key = "error.application.not_found"
    default_message = "Application not found."


class BuildNotFound(NotFoundError):
    code = "build_not_found"
    error_key = "error.build.not_found"
    default_message = "Build not found."


class NoActiveBuild(NotFoundError):
    code = "no_active_build"
    error_key = "error.build.no_active_build"
    default_message = "The application has no active build."


class ProcessDefinitionNotFound(NotFoundError):
    code = "process_definition_not_found"
    error_key = "error.process_definition.not_found"
    default_message = "Process definition not found."


class ProcessInstanceNotFound(NotFoundError):
    code = "process_instance_not_found"
    error_key = "error.process_instance.not_found"
    default_message = "Process instance not found."


class TokenNotFound(NotFoundError):
    code = "token_not_found"
    error_key = "error.token.not_found"
    default_message = "Token not found."


class IncidentNotFound(NotFoundError):
    code = "incident_not_found"
    error_key = "error.incident.not_found"
    default_message = "Incident not found."


class WaitNotFound(NotFoundError):
    """A job fired a wait the instance no longer has (its token left, or it fired already):
    the job is obsolete and is dropped."""

    code = "wait_not_found"
    error_key = "error.wait.not_found"
    default_message = "The instance no longer waits for this."


class ExternalTaskNotFound(NotFoundError):
    code = "external_task_not_found"
    error_key = "error.external_task.not_found"
    default_message = "External task not found."


class ValidationError(ProcflowError):
    code = "validation_error"
    error_key = "error.validation"


class InvalidRequestBody(ValidationError):
    code = "invalid_body"
    error_key = "error.validation.body"
    default_message = "The request body must be a JSON object."


class InvalidParameter(ValidationError):
    code = "invalid_parameter"
    error_key = "error.validation.parameter"
    default_message = "A request parameter is invalid."


class DataInvalid(ValidationError):
    """A JSON document breaks the data model (``model/limits.py``): a number that is not a
    64-bit integer or a finite double, a NUL character, or nesting deeper than allowed."""

    code = "data_invalid"
    error_key = "error.validation.data.invalid"
    default_message = "The data is not a valid instance document."


class MandatoryParamsMissing(ValidationError):
    code = "mandatory_params_missing"
    error_key = "error.validation.process_instance.mandatory_params_missing"
    default_message = "Some mandatory params are missing."


class StartConditionMissing(ValidationError):
    code = "start_condition_missing"
    error_key = "error.validation.process_instance.start_condition_missing"
    default_message = "Multiple start nodes found, but start condition not specified."


class StartNodeNotFound(ValidationError):
    code = "start_node_not_found"
    error_key = "error.validation.process_instance.start_node_for_process_def_missing"
    default_message = "Start node for process definition not found."


class StartDataInvalid(ValidationError):
    code = "start_data_invalid"
    error_key = "error.validation.process_instance.start_data_invalid"
    default_message = "The start data does not match the start node's schema."


class ActionNotAllowed(ValidationError):
    code = "action_not_allowed"
    error_key = "error.validation.action.not_allowed"
    default_message = "This action is not defined on the token's current node."


class ConflictError(ProcflowError):
    code = "conflict"
    error_key = "error.conflict"


class InstanceNotRunning(ConflictError):
    code = "instance_not_running"
    error_key = "error.process_instance.not_running"
    default_message = "The process instance is not running."


class InstanceStateConflict(ConflictError):
    """An operation that does not fit the instance's state (terminate a FINISHED instance,
    hold a FAILED one): the answer names the current state, and nothing changes."""

    code = "instance_state_conflict"
    error_key = "error.process_instance.state_conflict"
    default_message = "The operation does not apply to the process instance in its state."


class IncidentResolved(ConflictError):
    code = "incident_resolved"
    error_key = "error.incident.resolved"
    default_message = "The incident is resolved already."


class TokenNotWaiting(ConflictError):
    code = "token_not_waiting"
    error_key = "error.token.not_waiting"
    default_message = "The token is not waiting for an action."


class ExternalTaskLockLost(ConflictError):
    """A worker answers a task it does not hold: never locked by it, unlocked, or its lock
    expired and another worker fetched the task. Nothing changes."""

    code = "external_task_not_locked"
    error_key = "error.external_task.not_locked"
    default_message = "The external task is not locked by this worker."


class IdempotencyKeyReused(ConflictError):
    code = "idempotency_key_reused"
    error_key = "error.idempotency.key_reused"
    default_message = "This Idempotency-Key was already used with a different request."


class ConcurrentModification(ConflictError):
    code = "concurrent_modification"
    error_key = "error.process_instance.concurrent_modification"
    default_message = "The process instance was changed by another request; retry."


class ActiveBuildChanged(ConcurrentModification):
    """A start read a cached active build that is no longer the active one: it runs again
    on the build now active (never seen by clients: the start retries)."""


class BuildAlreadyExists(ConflictError):
    code = "build_exists"
    error_key = "error.build.exists"
    default_message = "A build with this id already exists."


@dataclass(frozen=True)
class DefinitionProblem:
    """One thing wrong with a definition file, placed as precisely as the format allows."""

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.element_id is not None:
            where += f" [{self.element_id}]"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "elementId": self.element_id,
            "line": self.line,
            "message": self.message,
        }


class DefinitionInvalid(ValidationError):
    """A definition failed validation; all its problems are reported at once."""

    code = "definition_invalid"
    error_key = "error.validation.process_definition.invalid"
    default_message = "The process definition is invalid."

    def __init__(self, problems: Sequence[DefinitionProblem]) -> None:
        self.problems: tuple[DefinitionProblem, ...] = tuple(problems)
        summary = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(
            f"{self.default_message} {summary}{more}",
            problems=[p.as_dict() for p in self.problems],
        )


@dataclass
class ProblemCollector:
    """Accumulates definition problems so a parser can report every one, not just the first."""

    file: str
    problems: list[DefinitionProblem] = field(default_factory=list)

    def add(self, message: str, element_id: str | None = None, line: int | None = None) -> None:
        self.problems.append(DefinitionProblem(self.file, message, element_id, line))

    def raise_if_any(self) -> None:
        if self.problems:
            raise DefinitionInvalid(self.problems)


class Forbidden(ProcflowError):
    code = "forbidden"
    error_key = "error.authorization.forbidden"
    default_message = "The token does not grant this action in this workspace."


class Unauthenticated(ProcflowError):
    code = "unauthenticated"
    error_key = "error.authentication.failed"
    default_message = "A valid bearer token is required."


class InvalidToken(Unauthenticated):
    """Whatever is wrong with a token, the client is told only that it is invalid: the reason
    (an unknown ``kid``, the identity provider's error) is logged, never echoed."""

    code = "invalid_token"
    error_key = "error.authentication.invalid_token"
    default_message = "Invalid token."


class PayloadTooLarge(ProcflowError):
    code = "payload_too_large"
    error_key = "error.validation.body.too_large"
    default_message = "The request body is too large."


class DataTooLarge(PayloadTooLarge):
    """An instance's data would grow past ``PROCFLOW_MAX_DATA_BYTES``."""

    code = "data_too_large"
    error_key = "error.validation.data.too_large"
    default_message = "Instance data would exceed the limit."


class BatchNotFound(NotFoundError):
    code = "batch_not_found"
    error_key = "error.batch.not_found"
    default_message = "Batch not found."


class BatchTooLarge(ValidationError):
    code = "batch_too_large"
    error_key = "error.validation.batch.too_large"
    default_message = "The batch matches more items than allowed."


class BatchFinished(ConflictError):
    code = "batch_finished"
    error_key = "error.batch.finished"
    default_message = "The batch is finished already."
