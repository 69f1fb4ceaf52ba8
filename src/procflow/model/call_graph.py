"""Checks across the processes of one build: what call activities call.

A call activity bound to its own build (the default) must name a process of that build,
and no chain of such calls may lead back to where it started: a cycle would nest children
until the depth limit at run time, so it is refused at deploy. Calls with
``binding="latest"`` are resolved when the child starts (the active build may change), so
neither check applies to them.
"""

from __future__ import annotations

from collections.abc import Sequence

from procflow.model.definition import CallActivityNode, ProcessDefinition
from procflow.model.errors import DefinitionProblem

# (definition, the file it came from)
Deployed = tuple[ProcessDefinition, str]


def call_problems(definitions: Sequence[Deployed]) -> list[DefinitionProblem]:
    names = {definition.name for definition, _ in definitions}
    problems = [
        _unknown(call, file, sorted(names))
        for definition, file in definitions
        for call in _build_calls(definition)
        if call.called_element not in names
    ]
    return problems + _cycles(definitions, names)


def _build_calls(definition: ProcessDefinition) -> list[CallActivityNode]:
    return [
        node
        for node in definition.nodes.values()
        if isinstance(node, CallActivityNode) and node.binding == "build"
    ]


def _unknown(call: CallActivityNode, file: str, names: list[str]) -> DefinitionProblem:
    known = ", ".join(repr(name) for name in names[:10]) + (", ..." if len(names) > 10 else "")
    message = (
        f"calledElement {call.called_element!r} names no process of this build (it has "
        f"{known}); deploy the called process in the same build, or set "
        'procflow:binding="latest" to call the app\'s active build at run time'
    )
    return DefinitionProblem(file, message, call.id, call.line)


def _cycles(definitions: Sequence[Deployed], names: set[str]) -> list[DefinitionProblem]:
    """One problem per cycle, at the call activity that closes it (depth-first search)."""
    edges = {
        definition.name: [c for c in _build_calls(definition) if c.called_element in names]
        for definition, _ in definitions
    }
    files = {definition.name: file for definition, file in definitions}
    problems: list[DefinitionProblem] = []
    done: set[str] = set()
    for root in sorted(edges):
        _visit(root, [], edges, files, done, problems)
    return problems


def _visit(
    name: str,
    path: list[str],
    edges: dict[str, list[CallActivityNode]],
    files: dict[str, str],
    done: set[str],
    problems: list[DefinitionProblem],
) -> None:
    if name in done:
        return
    path.append(name)
    for call in edges[name]:
        target = call.called_element
        if target in path:
            chain = " -> ".join([*path[path.index(target) :], target])
            message = (
                f"call cycle {chain}: a process would call itself again through call "
                "activities; break the cycle (or bind one call to the latest build)"
            )
            problems.append(DefinitionProblem(files[name], message, call.id, call.line))
        else:
            _visit(target, path, edges, files, done, problems)
    path.pop()
    done.add(name)
