"""Shared state while reading one BPMN file: where to report problems and how to compile CEL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from procflow.model.errors import DefinitionProblem, ProblemCollector
from procflow.model.expression import Expression, ExpressionSyntaxError
from procflow.model.yaml_format import definition_schema


def _pattern(name: str) -> re.Pattern[str]:
    """The YAML format's patterns, so both formats accept exactly the same names."""
    schema = definition_schema()
    source = schema["properties"]["name"] if name == "name" else schema["$defs"][name]
    return re.compile(source["pattern"])


ID_PATTERN = _pattern("id")
PATH_PATTERN = _pattern("path")
NAME_PATTERN = _pattern("name")


@dataclass
class ReadContext:
    problems: ProblemCollector
    # Deploy warnings found while reading (a JUEL condition translated), for the definition.
    warnings: list[DefinitionProblem] = field(default_factory=list)

    def report(self, message: str, owner_id: str | None, element: etree._Element) -> None:
        line = element.sourceline
        self.problems.add(message, owner_id, line if isinstance(line, int) else None)

    def warn(self, message: str, owner_id: str, element: etree._Element) -> None:
        line = element.sourceline if isinstance(element.sourceline, int) else None
        self.warnings.append(DefinitionProblem(self.problems.file, message, owner_id, line))

    def compile(self, source: str, owner_id: str, element: etree._Element) -> Expression | None:
        try:
            return Expression.compile(source)
        except ExpressionSyntaxError as error:
            self.report(f"expression {source!r} does not compile: {error}", owner_id, element)
            return None

    def check_id(self, value: str, what: str, owner_id: str, element: etree._Element) -> None:
        if ID_PATTERN.fullmatch(value):
            return
        self.report(
            f"{what} {value!r} is not a valid Procflow id "
            "(letters, digits, '_', '.', '-'; starting with a letter or '_')",
            owner_id,
            element,
        )

    def check_path(self, value: str, owner_id: str, element: etree._Element) -> None:
        if not PATH_PATTERN.fullmatch(value):
            self.report(
                f"data path {value!r} is not valid (dot-separated, no empty parts)",
                owner_id,
                element,
            )
