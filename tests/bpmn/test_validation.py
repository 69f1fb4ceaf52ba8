"""Every problem of a file is reported at once, each with its element id and line."""

from __future__ import annotations

from procflow.model.bpmn import parse_bpmn
from tests.bpmn.checks import find, problems_of
from tests.bpmn.documents import REVIEW, document, line_of, minimal_body, process


def with_flow_2(replacement: str) -> bytes:
    body = minimal_body().replace(
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End" />', replacement
    )
    return document(process(body))


GATEWAY = """<bpmn:exclusiveGateway id="Gw" default="Flow_d" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="Gw" />
    <bpmn:sequenceFlow id="Flow_c" sourceRef="Gw" targetRef="End">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">CONDITION
      </bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_d" sourceRef="Gw" targetRef="End" />"""


def test_condition_that_does_not_compile() -> None:
    data = with_flow_2(GATEWAY.replace("CONDITION", "input.a ==="))
    find(problems_of(data), "does not compile", "Flow_c", line_of(data, "input.a ==="))


def test_condition_with_unknown_variable() -> None:
    data = with_flow_2(GATEWAY.replace("CONDITION", "amount &gt; 3"))
    find(problems_of(data), "unknown variable(s) amount", "Flow_c", line_of(data, "amount &gt;"))


def test_empty_condition_is_no_condition_and_a_deploy_warning() -> None:
    # bpmn.io leaves an empty conditionExpression behind when a condition is cleared.
    data = with_flow_2(GATEWAY.replace("CONDITION", "   "))
    [process_] = parse_bpmn(data, "test.bpmn")
    flow = next(f for f in process_.definition.flows if f.id == "Flow_c")
    assert flow.condition is None
    [warning] = process_.definition.warnings
    assert (warning.element_id, warning.line) == ("Flow_c", line_of(data, 'id="Flow_c"'))
    assert "taken as true, in document order" in warning.message


def test_condition_in_another_language() -> None:
    data = with_flow_2(
        GATEWAY.replace("xsi:type", 'language="javascript" xsi:type').replace("CONDITION", "a")
    )
    line = line_of(data, "javascript")
    find(problems_of(data), "language 'javascript' is not supported", "Flow_c", line)


def test_flow_to_an_unknown_target() -> None:
    data = with_flow_2('<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="Nowhere" />')
    problems = problems_of(data)
    find(problems, "unknown node 'Nowhere'", "Flow_2", line_of(data, 'targetRef="Nowhere"'))


def test_flow_without_source() -> None:
    data = with_flow_2('<bpmn:sequenceFlow id="Flow_2" targetRef="End" />')
    find(problems_of(data), "needs a sourceRef", "Flow_2", line_of(data, 'id="Flow_2"'))


def test_default_flow_that_does_not_leave_the_gateway() -> None:
    data = with_flow_2(
        GATEWAY.replace("CONDITION", "true").replace('default="Flow_d"', 'default="Flow_1"')
    )
    [problem] = problems_of(data)
    find([problem], "default flow 'Flow_1'", "Gw", line_of(data, 'id="Gw"'))


def test_condition_on_a_flow_that_leaves_neither_a_gateway_nor_an_activity() -> None:
    body = minimal_body().replace(
        '<bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Task" />',
        """<bpmn:sequenceFlow id="Flow_1" sourceRef="Start" targetRef="Task">
      <bpmn:conditionExpression>true</bpmn:conditionExpression>
    </bpmn:sequenceFlow>""",
    )
    data = document(process(body))
    find(
        problems_of(data), "only flows leaving an exclusive", "Flow_1", line_of(data, 'id="Flow_1"')
    )


def test_condition_on_a_flow_that_leaves_a_task_is_an_implicit_split() -> None:
    data = with_flow_2(
        """<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End">
      <bpmn:conditionExpression>true</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""
    )
    [drawn] = parse_bpmn(data, "split.bpmn")
    [flow] = drawn.definition.outgoing_flows("Task")
    assert flow.condition is not None and flow.condition.source == "true"


def test_user_task_problems() -> None:
    body = minimal_body(task_tag="userTask").replace(
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End" />',
        '<bpmn:sequenceFlow id="Flow_2" sourceRef="Task" targetRef="End" procflow:action="ok" />',
    )
    data = document(process(body))
    # Without procflow:action the task has the implicit "complete" only, so "ok" is unknown.
    [problem] = problems_of(data)
    find([problem], "action 'ok', which the user task does not define", "Flow_2",
         line_of(data, 'id="Flow_2"'))  # fmt: skip


def test_misplaced_and_misspelled_extensions() -> None:
    body = minimal_body(
        start=' procflow:async="true"',
        middle='    <procflow:rule id="Stray" />\n',
    ).replace(
        '<bpmn:task id="Task" name="Do it">',
        """<bpmn:task id="Task" name="Do it" procflow:async="yes">
      <bpmn:extensionElements>
        <procflow:action name="approve" />
        <procflow:rule name="r">
          <procflow:set path="a">1</procflow:set><procflow:assign path="a">1</procflow:assign>
        </procflow:rule>
        <procflow:rule name="empty" />
      </bpmn:extensionElements>""",
    )
    data = document(process(body))
    problems = problems_of(data)
    find(
        problems,
        "procflow:async is not allowed on bpmn:startEvent",
        "Start",
        line_of(data, 'id="Start"'),
    )
    find(problems, "<procflow:rule> is not allowed here", "Stray", line_of(data, 'id="Stray"'))
    find(problems, "'true' or 'false', not 'yes'", "Task", line_of(data, 'id="Task"'))
    find(
        problems,
        "<procflow:action> is not allowed in bpmn:task",
        "Task",
        line_of(data, 'name="approve"'),
    )
    find(problems, "may only contain <procflow:set>", "Task", line_of(data, "procflow:assign"))
    find(problems, "needs at least one <procflow:set>", "Task", line_of(data, 'name="empty"'))


def test_rule_and_start_problems() -> None:
    start = """
      <bpmn:extensionElements>
        <procflow:mandatoryParam path="applicant..name" />
        <procflow:schema>{not json</procflow:schema>
      </bpmn:extensionElements>
"""
    body = (
        minimal_body(task_tag="businessRuleTask")
        .replace('<bpmn:startEvent id="Start">', f'<bpmn:startEvent id="Start">{start}')
        .replace(
            '<bpmn:businessRuleTask id="Task" name="Do it">',
            """<bpmn:businessRuleTask id="Task" name="Do it">
      <bpmn:extensionElements>
        <procflow:rule>
          <procflow:set path="a">input.x +</procflow:set>
          <procflow:set path="b">1</procflow:set>
          <procflow:set path="b">2</procflow:set>
        </procflow:rule>
      </bpmn:extensionElements>""",
        )
    )
    data = document(process(body))
    problems = problems_of(data)
    find(problems, "data path 'applicant..name'", "Start", line_of(data, "applicant..name"))
    find(problems, "<procflow:schema> is not valid JSON", "Start", line_of(data, "{not json"))
    find(problems, "'input.x +' does not compile", "Task", line_of(data, "input.x +"))
    find(problems, "path 'b' is set twice", "Task", line_of(data, '"b">2'))


def test_schema_must_be_an_object() -> None:
    start = (
        "<bpmn:extensionElements><procflow:schema>[1]</procflow:schema></bpmn:extensionElements>"
    )
    body = minimal_body().replace(
        '<bpmn:startEvent id="Start">', f'<bpmn:startEvent id="Start">{start}'
    )
    data = document(process(body))
    find(problems_of(data), "must be a JSON object", "Start", line_of(data, "<procflow:schema>"))


def test_graph_rules_apply_with_lines() -> None:
    body = (
        minimal_body().replace(
            '<bpmn:startEvent id="Start">',
            '<bpmn:task id="Orphan" />\n    <bpmn:startEvent id="Start">',
        )
        + '    <bpmn:startEvent id="Second" />\n'
    )
    data = document(process(body))
    problems = problems_of(data)
    find(problems, "unreachable", "Orphan", line_of(data, 'id="Orphan"'))
    find(problems, "needs a startCondition", "Second", line_of(data, 'id="Second"'))
    find(problems, "needs a startCondition", "Start", line_of(data, 'id="Start"'))


def test_process_without_start_is_placed_on_the_process() -> None:
    data = document(process('    <bpmn:endEvent id="End" />\n', name="no_start"))
    find(problems_of(data), "at least one start node", "no_start", line_of(data, "<bpmn:process"))


def test_process_whose_id_and_name_cannot_name_a_definition() -> None:
    data = document(process(minimal_body(), process_id="Loan process", name="Loan application"))
    find(
        problems_of(data),
        "process id 'Loan process' cannot name a definition (letters, digits, '_', '.', ':', "
        "'-'), nor can its name 'Loan application'",
        "Loan process",
        line_of(data, "<bpmn:process"),
    )


def test_ids_must_be_unique_and_valid() -> None:
    body = minimal_body('    <bpmn:endEvent id="Task" />\n    <bpmn:endEvent id="Ünsupported" />\n')
    data = document(process(body))
    problems = problems_of(data)
    find(problems, "duplicate id 'Task'", "Task", line_of(data, '<bpmn:endEvent id="Task"'))
    find(problems, "not a valid Procflow id", "Ünsupported", line_of(data, "Ünsupported"))


def test_element_without_id() -> None:
    data = document(process(minimal_body("    <bpmn:endEvent />\n")))
    find(problems_of(data), "bpmn:endEvent needs an id", None, line_of(data, "<bpmn:endEvent />"))


def test_wrong_root_namespace() -> None:
    data = REVIEW.replace(
        b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"',
        b'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL-typo"',
    )
    [problem] = problems_of(data)
    assert "MODEL-typo" in problem.message
    assert "http://www.omg.org/spec/BPMN/20100524/MODEL'" in problem.message
    assert (problem.element_id, problem.line) == ("Definitions_1", 2)


def test_root_that_is_not_definitions() -> None:
    data = b'<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="P" />'
    [problem] = problems_of(data)
    assert "root element is bpmn:process" in problem.message


def test_file_without_process() -> None:
    [problem] = problems_of(document())
    assert problem.message == "the file defines no bpmn:process"


def test_two_processes_with_one_name() -> None:
    other = minimal_body().replace('id="', 'id="b_').replace('Ref="', 'Ref="b_')
    data = document(process(minimal_body(), name="same"), process(other, "Process_2", "same"))
    find(
        problems_of(data),
        "two processes are named 'same'",
        "Process_2",
        line_of(data, '"Process_2"'),
    )


def test_every_problem_of_every_process_is_reported_at_once() -> None:
    broken = with_flow_2(
        GATEWAY.replace("CONDITION", "input.a ===").replace('targetRef="End">', 'targetRef="Gone">')
    ).replace(b"</bpmn:definitions>", b"")
    data = (
        broken
        + process('    <bpmn:callActivity id="Call" />\n', "Process_2").encode()
        + b"</bpmn:definitions>\n"
    )
    problems = problems_of(data)
    messages = " | ".join(str(p) for p in problems)
    for expected in ("does not compile", "unknown node 'Gone'", "callActivity", "start node"):
        assert expected in messages
    assert len(problems) >= 4


def test_valid_file_still_parses_after_all_these() -> None:
    assert parse_bpmn(REVIEW, "review.bpmn")[0].definition.name == "document_review"
