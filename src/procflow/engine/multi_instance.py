"""Multi-instance activities: one instance per element of a collection, in parallel or one
after the other.

The token that arrives is the *host*: it evaluates the collection once, waits at the
activity (EXECUTING, with ``Token.loop`` progress) and starts instance tokens at the same
node, inside itself (``scope_id``). Each instance carries its element and loop counter as
token locals (``Token.locals``), which its expressions see laid over the data
(``Run.view``), so siblings never share or overwrite an element. As an instance completes,
its output element is evaluated and kept on the host by position; when the last completes
(or the completion condition holds) the outputs are written in collection order under the
output collection and the host leaves by the activity's flow.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from procflow.engine.evaluate import EvaluationFailed, evaluate
from procflow.engine.gateways import EXPRESSION_ERROR
from procflow.engine.leaving import leave_by_flows
from procflow.engine.moves import follow
from procflow.engine.run import Run
from procflow.engine.scopes import cancel_inside
from procflow.engine.timers import arm_boundaries
from procflow.engine.tokens import completed, with_loop, with_status
from procflow.model.data import JsonObject, set_path
from procflow.model.definition import BusinessRule, Flow
from procflow.model.expression import Expression
from procflow.model.instance import LoopState, Token
from procflow.model.loops import LOOP_COUNTER, MAX_LOOP_ELEMENTS, LoopSpec
from procflow.model.states import NodeStatus

INVALID_COLLECTION = "invalid_collection"


def start_loop(run: Run, token: Token, spec: LoopSpec) -> Token | None:
    """The token arrives at a multi-instance activity; the token to keep moving (the first
    instance of a sequential loop, or the host leaving at once for an empty collection)."""
    node_id = token.node_id
    items = _collection(run, token, spec)
    if items is None:
        return None
    if not items:
        if spec.output_collection:
            run.data = set_path(run.data, spec.output_collection, [])
        run.audit("multi_instance_completed", node_id, token, {"instances": 0})
        return leave_by_flows(run, token)
    total = len(items)
    loop = LoopState(
        total=total,
        started=1 if spec.sequential else total,
        items=tuple(items) if spec.sequential else (),
        outputs=[None] * total if spec.output_collection else [],
    )
    host = run.put(with_loop(with_status(token, NodeStatus.EXECUTING), loop))
    run.owned_outputs.add(host.id)
    run.visit_limit += total * _body_size(run, node_id)
    details = {"instances": total, "sequential": spec.sequential}
    run.audit("multi_instance_started", node_id, host, details)
    arm_boundaries(run, host, node_id)
    if run.stopped:
        return None
    if spec.sequential:
        return _start_instance(run, host, spec, items[0], 0)
    instances = [_start_instance(run, host, spec, item, i) for i, item in enumerate(items)]
    run.queue.extend(instance.id for instance in instances)
    return None


def _body_size(run: Run, node_id: str) -> int:
    """The nodes one pass through the activity visits: itself, and a subprocess's content
    at any depth."""
    scopes = run.definition.scopes
    if not scopes:
        return 1
    inside = 0
    for direct in scopes.values():
        scope: str | None = direct
        while scope is not None and scope != node_id:
            scope = scopes.get(scope)
        inside += scope == node_id
    return 1 + inside


def _collection(run: Run, token: Token, spec: LoopSpec) -> list[Any] | None:
    """The collection as a list, or None after an incident (not a list, too long)."""
    where = f"collection of {token.node_id!r} ({spec.collection.source!r})"
    outcome = evaluate(spec.collection, run.view(token))
    if isinstance(outcome, EvaluationFailed):
        run.fail(EXPRESSION_ERROR, f"{where}: {outcome.message}", token.node_id, token)
        return None
    items = outcome.value
    if not isinstance(items, list):
        given = "null" if items is None else type(items).__name__
        run.fail(INVALID_COLLECTION, f"{where} gave {given}, not a list", token.node_id, token)
        return None
    if len(items) > MAX_LOOP_ELEMENTS:
        message = f"{where} has {len(items)} elements; at most {MAX_LOOP_ELEMENTS} are run"
        run.fail(INVALID_COLLECTION, message, token.node_id, token)
        return None
    return items


def _start_instance(run: Run, host: Token, spec: LoopSpec, item: Any, index: int) -> Token:
    variables = {spec.element_variable: item, LOOP_COUNTER: index + 1}
    return run.create_token(host.node_id, scope_id=host.id, locals_=variables)


def instance_done(run: Run, host: Token, instance: Token, flow: Flow | None) -> Token | None:
    """An instance completed its activity; the token to keep moving (the next sequential
    instance, or the host leaving), None while other instances run or after an incident."""
    spec = run.definition.loops[host.node_id]
    assert host.loop is not None
    loop = host.loop
    index = int(instance.locals[LOOP_COUNTER]) - 1
    outputs = _with_output(run, spec, host, instance, index)
    if outputs is None:
        return None
    loop = replace(loop, completed=loop.completed + 1, outputs=outputs,
                   flow=flow.id if flow is not None else loop.flow)  # fmt: skip
    early = False
    if spec.completion_condition is not None:
        condition = _condition(run, spec, loop, instance)
        if condition is None:
            return None
        early = condition
    run.put(completed(instance))
    if run.waits:
        run.cancel_token_waits(instance)
    host = run.put(with_loop(host, loop))
    run.audit("multi_instance_instance_completed", host.node_id, instance,
              {"loopCounter": index + 1, "completed": loop.completed})  # fmt: skip
    if early or loop.completed == loop.total:
        if early:
            cancel_inside(run, host)
        return _finish(run, host, spec, loop, early)
    if spec.sequential and loop.started < loop.total:
        host = run.put(with_loop(host, replace(loop, started=loop.started + 1)))
        return _start_instance(run, host, spec, loop.items[loop.started], loop.started)
    return None


def _with_output(
    run: Run, spec: LoopSpec, host: Token, instance: Token, index: int
) -> list[Any] | None:
    """The host's outputs with the instance's output element in its place; None after an
    incident. The list is copied once per step, then written in place."""
    assert host.loop is not None
    outputs = host.loop.outputs
    if spec.output_element is None:
        return outputs
    value = _value(run, spec.output_element, run.view(instance), "output element", instance)
    if isinstance(value, EvaluationFailed):
        return None
    if outputs:
        if host.id not in run.owned_outputs:
            outputs = list(outputs)
            run.owned_outputs.add(host.id)
        outputs[index] = value
    return outputs


def _condition(run: Run, spec: LoopSpec, loop: LoopState, instance: Token) -> bool | None:
    """The completion condition, over the completing instance's view and Camunda's loop
    counters; None after an incident (an error, or not a bool)."""
    assert spec.completion_condition is not None
    counters = {
        "nrOfInstances": loop.total,
        "nrOfCompletedInstances": loop.completed,
        "nrOfActiveInstances": loop.started - loop.completed,
    }
    view = {**run.view(instance), **counters}
    value = _value(run, spec.completion_condition, view, "completion condition", instance)
    if isinstance(value, EvaluationFailed):
        return None
    if type(value) is not bool:
        where = f"completion condition of {instance.node_id!r}"
        message = f"{where} ({spec.completion_condition.source!r}) gave {value!r}, not a bool"
        run.fail(EXPRESSION_ERROR, message, instance.node_id, instance)
        return None
    return value


def _value(
    run: Run, expression: Expression, view: JsonObject, what: str, token: Token
) -> Any | EvaluationFailed:
    outcome = evaluate(expression, view)
    if isinstance(outcome, EvaluationFailed):
        message = f"{what} of {token.node_id!r} ({expression.source!r}): {outcome.message}"
        run.fail(EXPRESSION_ERROR, message, token.node_id, token)
        return outcome
    return outcome.value


def _finish(run: Run, host: Token, spec: LoopSpec, loop: LoopState, early: bool) -> Token | None:
    if spec.output_collection:
        run.data = set_path(run.data, spec.output_collection, list(loop.outputs))
    details = {"instances": loop.total, "completed": loop.completed, "early": early}
    run.audit("multi_instance_completed", host.node_id, host, details)
    host = run.put(with_loop(host, None))
    chosen = next((f for f in run.definition.outgoing_flows(host.node_id) if f.id == loop.flow),
                  None)  # fmt: skip
    return follow(run, host, chosen) if chosen is not None else leave_by_flows(run, host)


def without_locals(
    result: JsonObject, data: JsonObject, view: JsonObject, rules: tuple[BusinessRule, ...]
) -> JsonObject:
    """Rules ran over ``view`` (the data with a token's locals laid over it): their result,
    back to the data, so that an element never leaks into it. A local whose name a rule
    assigns is written, as any assignment is."""
    if view is data:
        return result
    assigned = {a.path.split(".")[0] for rule in rules for a in rule.assignments}
    overlaid = [k for k in view if k not in assigned and (k not in data or view[k] is not data[k])]
    if not overlaid:
        return result
    cleaned = dict(result)
    for key in overlaid:
        if key in data:
            cleaned[key] = data[key]
        else:
            cleaned.pop(key, None)
    return cleaned
