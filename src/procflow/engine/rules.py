"""Business rules: the assignments a task makes to the instance data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from procflow.engine.evaluate import EvaluationFailed, Scope
from procflow.model.data import JsonObject, set_path
from procflow.model.definition import Assignment, BusinessRule


@dataclass(frozen=True, slots=True)
class RuleFailed:
    rule: str
    assignment: Assignment
    message: str

    def describe(self) -> str:
        source = self.assignment.expression.source
        return f"rule {self.rule!r}, {self.assignment.path} = {source!r}: {self.message}"


def apply_rules(
    rules: Sequence[BusinessRule], data: JsonObject, scope: Scope | None = None
) -> JsonObject | RuleFailed:
    """Run the rules in order, each seeing the results of the ones before it.

    All or nothing: on failure the caller keeps the data it had, so a task that fails halfway
    leaves no trace in the data.
    """
    scope = scope or Scope()
    for rule in rules:
        outcome = apply_rule(rule, data, scope)
        if isinstance(outcome, RuleFailed):
            return outcome
        data = outcome
    return data


def apply_rule(rule: BusinessRule, data: JsonObject, scope: Scope) -> JsonObject | RuleFailed:
    """Every assignment sees the data as it was before the rule; then all are set together."""
    assignments = rule.assignments
    scope.bind(data, rule.expressions)
    if len(assignments) == 1:  # the common rule: no list of values to gather
        assignment = assignments[0]
        outcome = scope.evaluate(assignment.expression)
        if isinstance(outcome, EvaluationFailed):
            return RuleFailed(rule.name, assignment, outcome.message)
        return set_path(data, assignment.path, outcome.value)
    values: list[Any] = []
    for assignment in assignments:
        outcome = scope.evaluate(assignment.expression)
        if isinstance(outcome, EvaluationFailed):
            return RuleFailed(rule.name, assignment, outcome.message)
        values.append(outcome.value)
    for assignment, value in zip(rule.assignments, values, strict=True):
        data = set_path(data, assignment.path, value)
    return data
