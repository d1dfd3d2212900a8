"""Fixtures of the hardening tests: the ticket API's (tests/api/conftest.py: a manual clock and a
key per role), on the real PostgreSQL only (what deployments run; some bad input fails only there)."""

from __future__ import annotations

import pytest

from tests.api.conftest import api, pg_url  # noqa: F401  (fixtures)
from tests.loop.conftest import jpeg  # noqa: F401


@pytest.fixture(scope="session")
def db_url(pg_url):  # noqa: F811
    return pg_url
