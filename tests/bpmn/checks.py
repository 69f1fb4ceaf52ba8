"""Helpers to read the problems a BPMN file is rejected with."""

from __future__ import annotations

import pytest

from procflow.model.bpmn import parse_bpmn
from procflow.model.errors import DefinitionInvalid, DefinitionProblem


def problems_of(data: bytes, file: str = "test.bpmn") -> list[DefinitionProblem]:
    with pytest.raises(DefinitionInvalid) as caught:
        parse_bpmn(data, file)
    assert all(problem.file == file for problem in caught.value.problems)
    return list(caught.value.problems)


def find(
    problems: list[DefinitionProblem], fragment: str, element_id: str | None, line: int | None
) -> DefinitionProblem:
    """The one problem of ``element_id`` mentioning ``fragment``, checked to be on ``line``."""
    matching = [
        problem
        for problem in problems
        if fragment in problem.message and problem.element_id == element_id
    ]
    assert len(matching) == 1, f"{fragment!r} at {element_id} in {[str(p) for p in problems]}"
    assert matching[0].line == line, str(matching[0])
    return matching[0]
