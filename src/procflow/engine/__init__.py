"""The pure engine: ``step(definition, instance, event, now) -> StepResult``."""

from procflow.engine.step import step

__all__ = ["step"]
