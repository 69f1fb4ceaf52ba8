"""Multi-instance loop characteristics: one activity run once per element of a collection.

A loop is kept beside the nodes (``ProcessDefinition.loops``, by activity id) rather than as a
field of every activity class, so that any activity kind in ``LOOP_KINDS`` can carry one.
"""

from __future__ import annotations

from dataclasses import dataclass

from procflow.model.expression import Expression

DEFAULT_ELEMENT_VARIABLE = "item"
# The 1-based position of an instance's element, beside the element itself (Camunda's name).
LOOP_COUNTER = "loopCounter"
# The longest collection a multi-instance activity accepts; a longer one is an incident.
MAX_LOOP_ELEMENTS = 10_000


@dataclass(frozen=True)
class LoopSpec:
    """``collection``: CEL giving the list to run over, evaluated once when a token arrives;
    each instance sees its element as ``input.<element_variable>`` (and its position as
    ``input.loopCounter``); ``output_element`` (CEL) is evaluated as each instance completes
    and the values are written, in collection order, under ``output_collection`` in the data
    when the activity completes; ``completion_condition`` (CEL, after each instance) ends it
    early. ``sequential``: one instance at a time, else all at once."""

    collection: Expression
    element_variable: str = DEFAULT_ELEMENT_VARIABLE
    output_element: Expression | None = None
    output_collection: str | None = None
    completion_condition: Expression | None = None
    sequential: bool = False

    def expressions(self) -> tuple[Expression, ...]:
        found = (self.collection, self.output_element, self.completion_condition)
        return tuple(expression for expression in found if expression is not None)
