"""Every store test runs on SQLite and on PostgreSQL; a PostgreSQL that cannot be reached fails the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store.testing import BACKENDS, clean_session_factory, migrated_database


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database migrated to head, one per backend for the whole session."""
    with migrated_database(request.param) as url:
        yield url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    with clean_session_factory(database_url) as factory:
        yield factory
