"""The serving tests use the API fixture (the real app over a real store)."""

from tests.api.conftest import api  # noqa: F401
