"""Registry fixtures: the sample registries, and a fresh migrated database per test on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from registry.analyzer import Analyzer, default_analyzer
from store.db import make_engine, make_session_factory
from store.testing import BACKENDS, migrated_database

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "registry"


@pytest.fixture(params=BACKENDS)
def factory(request: pytest.FixtureRequest) -> Iterator[sessionmaker[Session]]:
    """Sessions on a new database migrated to head, on SQLite and on PostgreSQL."""
    with migrated_database(request.param) as url:
        engine = make_engine(url)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    return default_analyzer()
