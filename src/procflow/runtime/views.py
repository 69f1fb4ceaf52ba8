"""What services hand back to the presentation layers."""

from __future__ import annotations

from dataclasses import dataclass

from procflow.model.build import Build
from procflow.model.definition import ProcessDefinition
from procflow.model.instance import ProcessInstance
from procflow.store.port import AuditSummary, ChildSummary


@dataclass(frozen=True)
class InstanceView:
    instance: ProcessInstance
    build: Build
    audit_summary: AuditSummary | None = None
    # Given for status answers: it says which actions waiting tokens offer (uiActions).
    definition: ProcessDefinition | None = None
    # The instances its call activities started (status answers).
    children: tuple[ChildSummary, ...] = ()
