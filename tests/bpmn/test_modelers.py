"""Files drawn by modelers (tests/bpmn/files/modelers/, written as bpmn.io and Camunda
Modeler write them) deploy as their own engines would run them, one rule per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from procflow.model.bpmn import export_bpmn_process, parse_bpmn
from procflow.model.definition import InclusiveGateway, TaskNode, UserTaskNode
from procflow.model.formats import parse_definition_file
from procflow.model.instance import ProcessInstance
from procflow.model.states import InstanceState
from procflow.runtime import deploy
from procflow.runtime.access import SYSTEM
from procflow.runtime.commands import execute_action
from procflow.runtime.context import RuntimeContext
from procflow.runtime.starting import StartRequest, StartTarget, start_process
from procflow.store.sqlite import SqliteStore
from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import document, line_of, minimal_body, process

FILES = Path(__file__).parent / "files" / "modelers"


def read(name: str) -> bytes:
    return (FILES / name).read_bytes()


@dataclass
class Deployed:
    ctx: RuntimeContext
    workspace: UUID
    app: UUID
    result: deploy.Deployed

    def start(self, process: str, body: dict[str, Any] | None = None) -> ProcessInstance:
        request = StartRequest(StartTarget(self.app, workspace_id=self.workspace), process,
                               body or {})  # fmt: skip
        return start_process(self.ctx, SYSTEM, request).instance

    def act(self, instance: ProcessInstance, node_id: str, action: str) -> ProcessInstance:
        [token] = [t for t in instance.live_tokens if t.node_id == node_id]
        return execute_action(self.ctx, SYSTEM, instance.uuid, token.uuid, action, {}).instance


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "modelers.db")
    store.migrate()
    yield store
    store.close()


def deploy_file(store: SqliteStore, name: str) -> Deployed:
    workspace, app = uuid4(), uuid4()
    deploy.create_workspace(store, SYSTEM, "modelers", workspace)
    deploy.create_app(store, SYSTEM, workspace, "modelers", app)
    result = deploy.deploy_or_reuse(store, SYSTEM, workspace, app, {name: read(name)},
                                    activate=True, now=datetime.now(UTC))  # fmt: skip
    return Deployed(RuntimeContext(store), workspace, app, result)


def test_inclusive_gateway_deploys_runs_and_exports(sqlite: SqliteStore) -> None:
    [drawn] = parse_bpmn(read("inclusive.bpmn"), "inclusive.bpmn")
    fork = drawn.definition.nodes["Gateway_extras"]
    assert fork == InclusiveGateway("Gateway_extras", "Which extras?", "Flow_none")
    [again] = parse_bpmn(export_bpmn_process(drawn), "again.bpmn")
    assert again.definition == drawn.definition
    deployed = deploy_file(sqlite, "inclusive.bpmn")
    nothing = deployed.start("order_extras", {"wrap": False, "card": False})
    assert nothing.state is InstanceState.FINISHED  # the default flow, straight to the join
    both = deployed.start("order_extras", {"wrap": True, "card": True})
    both = deployed.act(both, "Activity_card", "complete")
    assert both.state is InstanceState.STARTED
    assert deployed.act(both, "Activity_wrap", "complete").state is InstanceState.FINISHED


def test_a_name_that_is_not_url_safe_deploys_under_the_process_id(sqlite: SqliteStore) -> None:
    [drawn] = parse_bpmn(read("display_name.bpmn"), "display_name.bpmn")
    assert (drawn.definition.name, drawn.definition.title) == ("Process_0x1kq2", "Test Process")
    deployed = deploy_file(sqlite, "display_name.bpmn")
    assert [d.name for d in deployed.result.build.definitions] == ["Process_0x1kq2"]
    assert deployed.start("Process_0x1kq2").state is InstanceState.FINISHED


def test_gateway_flows_without_conditions_are_true_in_order_with_a_warning(
    sqlite: SqliteStore,
) -> None:
    data = read("gateway_without_conditions.bpmn")
    deployed = deploy_file(sqlite, "gateway_without_conditions.bpmn")
    warnings = deployed.result.warnings
    assert [(w.element_id, w.line) for w in warnings] == [
        ("Flow_left", line_of(data, 'id="Flow_left"')),
        ("Flow_right", line_of(data, 'id="Flow_right"')),
    ]
    assert all(w.file == "gateway_without_conditions.bpmn" for w in warnings)
    checked = deployed.start("Process_route", {"checked": True})
    assert {t.node_id for t in checked.tokens} == {"Event_checked"}
    # No condition true: the first flow without one, in document order.
    unchecked = deployed.start("Process_route", {"checked": False})
    assert {t.node_id for t in unchecked.tokens} == {"Event_left"}


def test_user_and_manual_tasks_without_actions_complete(sqlite: SqliteStore) -> None:
    [drawn] = parse_bpmn(read("tasks_without_actions.bpmn"), "tasks_without_actions.bpmn")
    for node_id in ("Activity_review", "Activity_file"):
        node = drawn.definition.nodes[node_id]
        assert isinstance(node, UserTaskNode) and node.actions == ("complete",)
    deployed = deploy_file(sqlite, "tasks_without_actions.bpmn")
    instance = deployed.act(deployed.start("Process_review"), "Activity_review", "complete")
    assert [t.node_id for t in instance.live_tokens] == ["Activity_file"]
    assert deployed.act(instance, "Activity_file", "complete").state is InstanceState.FINISHED


def test_vendor_extension_ids_may_repeat() -> None:
    [drawn] = parse_bpmn(read("vendor_ids.bpmn"), "vendor_ids.bpmn")
    assert set(drawn.definition.nodes) == {"StartEvent_1", "Activity_check", "Event_1"}


def test_duplicate_ids_of_bpmn_elements_are_still_refused() -> None:
    body = minimal_body('    <bpmn:endEvent id="Task" />\n')
    data = document(process(body))
    find(
        problems_of(data), "duplicate id 'Task'", "Task", line_of(data, '<bpmn:endEvent id="Task"')
    )


def test_group_membership_is_skipped() -> None:
    [drawn] = parse_bpmn(read("group_membership.bpmn"), "group_membership.bpmn")
    assert isinstance(drawn.definition.nodes["Activity_1"], TaskNode)


def test_event_definition_ref_is_refused_with_a_message_that_says_what() -> None:
    data = read("event_definition_ref.bpmn")
    [problem] = problems_of(data, "event_definition_ref.bpmn")
    assert problem.element_id == "StartEvent_go"
    assert problem.line == line_of(data, "<bpmn:eventDefinitionRef>")
    assert problem.message == (
        "bpmn:startEvent refers to a top-level event definition (eventDefinitionRef), which "
        "is not supported yet; put the event definition inside the event"
    )


def test_a_throw_event_without_a_definition_passes_the_token_on(sqlite: SqliteStore) -> None:
    [drawn] = parse_bpmn(read("milestone.bpmn"), "milestone.bpmn")
    assert drawn.definition.nodes["Event_halfway"] == TaskNode("Event_halfway", "Half way")
    deployed = deploy_file(sqlite, "milestone.bpmn")
    assert deployed.start("Process_milestone").state is InstanceState.FINISHED


@pytest.mark.parametrize(
    ("tag", "definition", "reason"),
    [
        ("intermediateThrowEvent", "signalEventDefinition", "no signal broadcast"),
        ("intermediateThrowEvent", "escalationEventDefinition", "use a BPMN error"),
        ("intermediateThrowEvent", "compensateEventDefinition", "undoing steps as tasks"),
        ("intermediateCatchEvent", "conditionalEventDefinition", "use a gateway"),
        ("endEvent", "escalationEventDefinition", "use a BPMN error"),
        ("intermediateThrowEvent", "messageEventDefinition", "needs a topic"),
    ],
)
def test_events_that_do_not_run_are_refused_with_a_reason(
    tag: str, definition: str, reason: str
) -> None:
    element = f'    <bpmn:{tag} id="Event_1"><bpmn:{definition} /></bpmn:{tag}>\n'
    data = document(process(minimal_body(element)))
    matching = [p for p in problems_of(data) if p.element_id == "Event_1"
                and "unreachable" not in p.message]  # fmt: skip
    assert len(matching) == 1 and reason in matching[0].message, [str(p) for p in matching]


def test_collaboration_deploys_its_executable_process_only(sqlite: SqliteStore) -> None:
    [drawn] = parse_bpmn(read("collaboration.bpmn"), "collaboration.bpmn")
    assert (drawn.id, drawn.name) == ("Process_shop", "Shop")
    deployed = deploy_file(sqlite, "collaboration.bpmn")
    assert deployed.start("Shop").state is InstanceState.FINISHED


def test_with_no_process_marked_executable_every_process_is_read() -> None:
    data = read("collaboration.bpmn").replace(b'isExecutable="true"', b'isExecutable="false"')
    problems = problems_of(data, "collaboration.bpmn")
    # Activity_pay is an empty subprocess: refused as such, so the process was read.
    assert "a subprocess needs a start event (it is empty: draw what it does)" in {
        p.message for p in problems if p.element_id == "Activity_pay"
    }


def test_a_build_that_deployed_a_pool_before_pools_were_skipped_still_loads_it() -> None:
    # Before this rule every process of the file deployed; a stored build may name one.
    data = read("collaboration.bpmn").replace(
        b'<bpmn:subProcess id="Activity_pay" name="Pay somehow" />',
        b'<bpmn:startEvent id="Start_pay" /><bpmn:endEvent id="End_pay" />'
        b'<bpmn:sequenceFlow id="Flow_pay" sourceRef="Start_pay" targetRef="End_pay" />',
    )
    assert [p.name for p in parse_bpmn(data, "c.bpmn")] == ["Shop"]
    [customer] = parse_definition_file(data, "c.bpmn", process="Customer")
    assert set(customer.nodes) == {"Start_pay", "End_pay"}
