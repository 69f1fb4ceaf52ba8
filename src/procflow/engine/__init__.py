"""The pure engine: ``step(definition, instance, event, now) -> StepResult``."""
