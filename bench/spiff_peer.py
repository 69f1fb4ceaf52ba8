"""SpiffWorkflow, the in-process peer: the same .bpmn files, run by SpiffWorkflow 3.

SpiffWorkflow treats a plain ``bpmn:task`` as manual (a person completes it); the models'
tasks are automatic rule tasks, so the parser maps ``bpmn:task`` to an automatic task whose
``spiffworkflow:postScript`` holds the Python version of the Procflow rule. Nothing else is
configured. SpiffWorkflow's task data is ``{"input": <instance data>}``, so the scripts and
the shared gateway condition name the data ``input`` as Procflow's CEL does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.task_spec import SpiffTaskParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import NoneTask
from SpiffWorkflow.util.task import TaskState

from bench.common import MODELS_DIR


class AutomaticTask(NoneTask):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manual = False


class BenchParser(SpiffBpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES: ClassVar[dict[str, Any]] = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("task"): (SpiffTaskParser, AutomaticTask),
    }


def load_spec(model: str) -> BpmnProcessSpec:
    parser = BenchParser()
    parser.add_bpmn_file(str(MODELS_DIR / f"{model}.bpmn"))
    return parser.get_spec(f"bench_{model}")


def serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[AutomaticTask] = config[NoneTask]
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def run_to_completion(spec: BpmnProcessSpec, data: dict[str, Any]) -> BpmnWorkflow:
    """Create an instance with ``data``, run it, complete any user task with ``review``."""
    workflow = BpmnWorkflow(spec)
    start = workflow.get_next_task(state=TaskState.READY)
    start.data = {"input": dict(data)}
    workflow.do_engine_steps()
    user_task = workflow.get_next_task(state=TaskState.READY, manual=True)
    if user_task is not None:
        user_task.data["input"]["review"] = {"approved": True}
        user_task.run()
        workflow.do_engine_steps()
    assert workflow.is_completed(), "the SpiffWorkflow instance did not complete"
    return workflow
