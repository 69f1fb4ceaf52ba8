"""The serving tests use the API fixture (the real app over a real store)."""

from tests.api.conftest import api, api_store_url, seeded_postgres, seeded_sqlite  # noqa: F401
