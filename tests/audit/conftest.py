"""Audit tests reuse the workflow tests' worker fixture (real server, real activities, both database backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.archive import EventArchive
from domain.events import Event
from domain.projection import AppendRequest
from store.db import make_engine, make_session_factory, migrate
from tests.store.samples import sample_summary
from tests.workflows.conftest import Kuayue, kuayue

__all__ = ["Kuayue", "archive_events", "kuayue", "sessions"]


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the session's database of this backend, migrated to head (shared: use unique deal ids)."""
    migrate(db_url)
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


async def archive_events(sessions: sessionmaker[Session], events: list[Event], centre_id: str = "centre-jian") -> None:
    """Archive events through the real archive activity, as a workflow would."""
    request = AppendRequest(
        deal_id=events[0].deal_id,
        events=tuple(events),
        summary=sample_summary(events[0].deal_id, events[-1].seq, centre_id=centre_id),
        notifications=(),
    )
    await ActivityEnvironment().run(EventArchive(sessions).append, request)
