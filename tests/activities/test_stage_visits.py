"""The stage-timing read model: the archive opens and closes stage visits; migration 0005 backfills them."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.archive import EventArchive
from domain.events import Event, StageEntered
from domain.projection import AppendRequest
from domain.stages import Stage
from store.chain import GENESIS_HASH
from store.db import alembic_config, make_engine, make_session_factory, migrate
from store.models import DealRecord, EventRecord, StageVisitRecord, event_columns
from store.testing import temporary_database
from tests.store.samples import SAMPLE_BROKER, SAMPLE_START, sample_summary

DEAL = "deal-visits-1"
# seq -> (stage entered, hours after the start)
ENTRIES = {1: (Stage.DEMAND_MINING, 0), 2: (Stage.MATCHING, 36), 3: (Stage.BROKERING, 36 + 60)}


def entered(seq: int) -> Event:
    stage, hours = ENTRIES[seq]
    previous = ENTRIES[seq - 1][0] if seq > 1 else None
    return Event(
        deal_id=DEAL,
        seq=seq,
        occurred_at=SAMPLE_START + timedelta(hours=hours),
        actor=SAMPLE_BROKER,
        payload=StageEntered(stage=stage, previous=previous, plan=None),
    )


def visits(sessions: sessionmaker[Session]) -> list[tuple[int, str, float | None]]:
    with sessions() as s:
        rows = s.execute(
            select(StageVisitRecord.seq, StageVisitRecord.stage, StageVisitRecord.days).order_by(StageVisitRecord.seq)
        )
        return [(seq, stage, days) for seq, stage, days in rows]


EXPECTED = [(1, "DEMAND_MINING", 1.5), (2, "MATCHING", 2.5), (3, "BROKERING", None)]


async def test_each_stage_entered_opens_a_visit_and_closes_the_one_before(session_factory: sessionmaker[Session]) -> None:
    archive = EventArchive(session_factory)
    for seqs in ((1,), (2, 3), (2, 3)):  # the last append is a retry: it changes nothing
        request = AppendRequest(deal_id=DEAL, events=tuple(entered(s) for s in seqs), summary=sample_summary(DEAL, seqs[-1]))
        await ActivityEnvironment().run(archive.append, request)
    assert visits(session_factory) == EXPECTED
    with session_factory() as s:
        assert set(s.scalars(select(StageVisitRecord.centre_id))) == {"centre-jian"}


def test_the_migration_backfills_visits_from_archived_events() -> None:
    with temporary_database("sqlite") as url:
        migrate(url, "0004")
        sessions = make_session_factory(make_engine(url))
        with sessions.begin() as s:
            s.execute(insert(DealRecord), [{**sample_summary(DEAL, 3).model_dump(), "updated_at": SAMPLE_START}])
            s.execute(
                insert(EventRecord),
                [
                    {
                        **event_columns(e),
                        "payload": e.canonical_json(),
                        "prev_hash": GENESIS_HASH,
                        "hash": GENESIS_HASH,
                        "recorded_at": e.occurred_at,
                    }
                    for e in map(entered, ENTRIES)
                ],
            )
        migrate(url)
        assert visits(sessions) == EXPECTED
        command.downgrade(alembic_config(url), "0004")
        command.upgrade(alembic_config(url), "head")
        assert visits(sessions) == EXPECTED
