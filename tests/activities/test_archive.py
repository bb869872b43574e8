"""The archive activity on SQLite and on PostgreSQL; a PostgreSQL that cannot be reached fails the run."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive import (
    ARCHIVE_CONFLICT,
    ARCHIVE_GAP,
    ARCHIVE_INVALID_REQUEST,
    AppendResult,
    EventArchive,
)
from domain.events import DemandValidated
from domain.projection import AppendRequest
from domain.stages import Stage
from store.models import Base, DealRecord, EventRecord, NotificationRecord
from store.queries import deal_row, events_of
from tests.store.samples import sample_event, sample_request

DEAL = "deal-2026-0001"


@pytest.fixture
def archive(session_factory: sessionmaker[Session]) -> EventArchive:
    return EventArchive(session_factory)


async def _append(archive: EventArchive, request: AppendRequest) -> AppendResult:
    """Run the activity as a worker would, inside an activity context."""
    return await ActivityEnvironment().run(archive.append, request)


def _rows(session_factory: sessionmaker[Session], model: type[Base]) -> list[dict[str, Any]]:
    """Every row of a table as column values, for before/after comparisons."""
    with session_factory() as session:
        table = Base.metadata.tables[model.__tablename__]
        return [dict(row._mapping) for row in session.execute(select(table).order_by(*table.primary_key.columns))]


def _snapshot(session_factory: sessionmaker[Session]) -> list[list[dict[str, Any]]]:
    return [_rows(session_factory, model) for model in (EventRecord, DealRecord, NotificationRecord)]


async def _refused(archive: EventArchive, request: AppendRequest, error_type: str) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await _append(archive, request)
    assert caught.value.type == error_type
    assert caught.value.non_retryable
    return caught.value


async def test_appended_events_read_back_equal(archive: EventArchive, session_factory: sessionmaker[Session]) -> None:
    request = sample_request(DEAL, range(1, 5))

    result = await _append(archive, request)

    assert (result.deal_id, result.appended, result.already_present, result.last_seq) == (DEAL, 4, 0, 4)
    with session_factory() as session:
        assert events_of(session, DEAL) == list(request.events)
        assert deal_row(session, DEAL) == request.summary


async def test_hashes_chain_per_deal_and_can_be_recomputed(archive: EventArchive, session_factory: sessionmaker[Session]) -> None:
    await _append(archive, sample_request(DEAL, range(1, 3)))
    await _append(archive, sample_request("deal-other", range(1, 3)))
    result = await _append(archive, sample_request(DEAL, range(3, 6)))

    with session_factory() as session:
        rows = session.scalars(select(EventRecord).where(EventRecord.deal_id == DEAL).order_by(EventRecord.seq)).all()
    previous = "0" * 64
    for seq, row in enumerate(rows, start=1):
        assert row.payload == sample_event(DEAL, seq).canonical_json()
        assert row.prev_hash == previous
        assert row.hash == hashlib.sha256((previous + row.payload).encode("utf-8")).hexdigest()
        previous = row.hash
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert (result.last_seq, result.last_hash) == (5, previous)


async def test_appending_the_same_batch_again_changes_nothing(
    archive: EventArchive, session_factory: sessionmaker[Session]
) -> None:
    request = sample_request(DEAL, range(1, 5))
    first = await _append(archive, request)
    before = _snapshot(session_factory)

    again = await _append(archive, request)

    assert (again.appended, again.already_present) == (0, 4)
    assert (again.last_seq, again.last_hash) == (first.last_seq, first.last_hash)
    events, _, notifications = _snapshot(session_factory)
    assert events == before[0]
    assert notifications == before[2]
    assert len(notifications) == 2


async def test_an_overlapping_batch_appends_only_the_new_events(
    archive: EventArchive, session_factory: sessionmaker[Session]
) -> None:
    await _append(archive, sample_request(DEAL, range(1, 4)))

    result = await _append(archive, sample_request(DEAL, range(2, 7)))

    assert (result.appended, result.already_present, result.last_seq) == (3, 2, 6)
    assert len(_rows(session_factory, NotificationRecord)) == 3  # seqs 2, 4, 6


async def test_different_content_at_an_archived_seq_is_a_conflict_and_changes_nothing(
    archive: EventArchive, session_factory: sessionmaker[Session]
) -> None:
    await _append(archive, sample_request(DEAL, range(1, 4)))
    before = _snapshot(session_factory)
    request = sample_request(DEAL, range(3, 5), stage=Stage.MATCHING)
    edited = request.events[0].model_copy(update={"payload": DemandValidated(note="改过")})
    changed = request.model_copy(update={"events": (edited, *request.events[1:])})

    error = await _refused(archive, changed, ARCHIVE_CONFLICT)

    assert f"deal {DEAL} seq 3" in str(error)
    assert "DemandValidated" in str(error)
    assert _snapshot(session_factory) == before


async def test_a_different_event_type_at_an_archived_seq_names_both_types(archive: EventArchive) -> None:
    await _append(archive, sample_request(DEAL, range(1, 3)))
    replaced = sample_event(DEAL, 1).model_copy(update={"seq": 2})
    request = sample_request(DEAL, range(2, 3)).model_copy(update={"events": (replaced,), "notifications": ()})

    error = await _refused(archive, request, ARCHIVE_CONFLICT)

    assert "holds a ReminderSent event" in str(error)
    assert "brings a DemandValidated event" in str(error)


async def test_a_gap_before_the_first_new_event_is_refused(archive: EventArchive, session_factory: sessionmaker[Session]) -> None:
    await _refused(archive, sample_request(DEAL, range(2, 4)), ARCHIVE_GAP)
    await _append(archive, sample_request(DEAL, range(1, 3)))
    before = _snapshot(session_factory)

    error = await _refused(archive, sample_request(DEAL, range(4, 6)), ARCHIVE_GAP)

    assert "seq 3 is missing" in str(error)
    assert _snapshot(session_factory) == before


async def test_an_older_summary_never_moves_the_deal_row_backwards(
    archive: EventArchive, session_factory: sessionmaker[Session]
) -> None:
    newer = sample_request(DEAL, range(1, 5), stage=Stage.MATCHING)
    await _append(archive, newer)

    # A late retry of an earlier append: its events are archived already, its summary is older.
    await _append(archive, sample_request(DEAL, range(1, 3), stage=Stage.DEMAND_MINING))
    with session_factory() as session:
        assert deal_row(session, DEAL) == newer.summary

    latest = sample_request(DEAL, range(5, 7), stage=Stage.BROKERING, escalation_level=1)
    await _append(archive, latest)
    with session_factory() as session:
        assert deal_row(session, DEAL) == latest.summary


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"deal_id": "deal-other"}, "the summary belongs to deal"),
        ({"events": (sample_event(DEAL, 1), sample_event(DEAL, 3))}, "not consecutive"),
        ({"events": (sample_event("deal-other", 1),)}, "event seq 1 belongs to deal deal-other"),
    ],
)
async def test_a_request_that_contradicts_itself_is_refused(
    archive: EventArchive, change: dict[str, Any], complaint: str
) -> None:
    request = sample_request(DEAL, range(1, 2)).model_copy(update=change)

    error = await _refused(archive, request, ARCHIVE_INVALID_REQUEST)

    assert complaint in str(error)


async def test_a_summary_ahead_of_the_archive_is_refused(archive: EventArchive, session_factory: sessionmaker[Session]) -> None:
    request = sample_request(DEAL, range(1, 3))
    request = request.model_copy(update={"summary": request.summary.model_copy(update={"last_seq": 7})})

    error = await _refused(archive, request, ARCHIVE_INVALID_REQUEST)

    assert "the archive ends at seq 2" in str(error)
    assert _snapshot(session_factory) == [[], [], []]


async def test_concurrent_identical_appends_archive_each_event_once(
    archive: EventArchive, session_factory: sessionmaker[Session]
) -> None:
    request = sample_request(DEAL, range(1, 9))

    results = await asyncio.gather(*(_append(archive, request) for _ in range(4)))

    assert sum(r.appended for r in results) == 8
    assert all(r.appended + r.already_present == 8 for r in results)
    assert len({r.last_hash for r in results}) == 1
    assert len(_rows(session_factory, EventRecord)) == 8
    assert len(_rows(session_factory, NotificationRecord)) == 4


async def test_concurrent_different_appends_let_exactly_one_win(
    archive: EventArchive, session_factory: sessionmaker[Session]
) -> None:
    ours = sample_request(DEAL, range(1, 9))
    theirs = sample_request(DEAL, range(1, 9)).model_copy(
        update={"events": tuple(e.model_copy(update={"command_id": "other"}) for e in ours.events)}
    )

    outcomes = await asyncio.gather(_append(archive, ours), _append(archive, theirs), return_exceptions=True)

    winners = [o for o in outcomes if isinstance(o, AppendResult)]
    losers = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(winners) == 1 and winners[0].appended == 8
    assert len(losers) == 1 and losers[0].type == ARCHIVE_CONFLICT
    winning_request = ours if outcomes[0] is winners[0] else theirs
    with session_factory() as session:
        assert events_of(session, DEAL) == list(winning_request.events)
