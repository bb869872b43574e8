from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from activities.archive import EventArchive
from domain.projection import DealSummary
from domain.stages import Stage
from store.models import NotificationRecord
from store.queries import deal_row, events_of, list_deals, notifications_for
from tests.store.samples import SAMPLE_BROKER, SAMPLE_START, sample_event, sample_request


async def test_events_of_returns_the_archived_events_after_a_seq(session_factory: sessionmaker[Session]) -> None:
    await EventArchive(session_factory).append(sample_request("deal-a", range(1, 5)))

    with session_factory() as session:
        assert events_of(session, "deal-a") == [sample_event("deal-a", seq) for seq in range(1, 5)]
        assert events_of(session, "deal-a", since_seq=2) == [sample_event("deal-a", seq) for seq in (3, 4)]
        assert events_of(session, "deal-unknown") == []


async def test_deal_row_round_trips_the_summary(session_factory: sessionmaker[Session]) -> None:
    request = sample_request("deal-a", range(1, 3), contract_value_fen=12_345_678_901, due_provisional=True)
    await EventArchive(session_factory).append(request)

    with session_factory() as session:
        row = deal_row(session, "deal-a")
        assert deal_row(session, "deal-unknown") is None
    assert row == request.summary
    assert row is not None and row.stage_due_at is not None and row.stage_due_at.utcoffset() == timedelta(0)


async def test_list_deals_filters_and_puts_the_soonest_deadline_first(session_factory: sessionmaker[Session]) -> None:
    archive = EventArchive(session_factory)
    day = timedelta(days=1)
    await archive.append(sample_request("deal-a", range(1, 2), stage=Stage.MATCHING, stage_due_at=SAMPLE_START + 3 * day))
    await archive.append(sample_request("deal-b", range(1, 2), broker_id="broker-li", stage_due_at=SAMPLE_START + day))
    await archive.append(sample_request("deal-c", range(1, 2), centre_id="centre-nc", stage_due_at=None))

    with session_factory() as session:
        assert _ids(list_deals(session)) == ["deal-b", "deal-a", "deal-c"]
        assert _ids(list_deals(session, broker_id=SAMPLE_BROKER.id)) == ["deal-a", "deal-c"]
        assert _ids(list_deals(session, stage=Stage.DEMAND_MINING)) == ["deal-b", "deal-c"]
        assert _ids(list_deals(session, centre_id="centre-jian", stage=Stage.MATCHING)) == ["deal-a"]
        assert _ids(list_deals(session, limit=1)) == ["deal-b"]


def _ids(deals: list[DealSummary]) -> list[str]:
    return [d.deal_id for d in deals]


async def test_notifications_for_lists_newest_first_and_can_skip_read_ones(
    session_factory: sessionmaker[Session],
) -> None:
    await EventArchive(session_factory).append(sample_request("deal-a", range(1, 5)))
    with session_factory.begin() as session:
        session.execute(update(NotificationRecord).where(NotificationRecord.seq == 2).values(read_at=SAMPLE_START))

    with session_factory() as session:
        everything = notifications_for(session, SAMPLE_BROKER.id)
        unread = notifications_for(session, SAMPLE_BROKER.id, unread_only=True)
        assert notifications_for(session, "broker-li") == []

    assert [(n.seq, n.read_at) for n in everything] == [(4, None), (2, SAMPLE_START)]
    assert [n.seq for n in unread] == [4]
    assert unread[0].message == "需求挖掘阶段已用去 80% 的时限"
