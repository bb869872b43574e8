"""Hash-chain verification, state at a moment and who-did-what, on the real archive (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from audit.actions import actions_of
from audit.state_at import state_at
from audit.verify import verify_archive, verify_centre, verify_deal
from domain.decider import fold
from store.models import EventRecord
from tests.audit.conftest import archive_events
from tests.store.samples import SAMPLE_BROKER, SAMPLE_START, sample_event

EVENTS = 8


async def _deal(sessions: sessionmaker[Session], centre_id: str = "centre-jian") -> str:
    deal_id = f"audit-{uuid.uuid4().hex[:10]}"
    await archive_events(sessions, [sample_event(deal_id, seq) for seq in range(1, EVENTS + 1)], centre_id)
    return deal_id


def _row(session: Session, deal_id: str, seq: int) -> EventRecord:
    return session.scalars(select(EventRecord).where(EventRecord.deal_id == deal_id, EventRecord.seq == seq)).one()


def _change_payload(session: Session, deal_id: str) -> None:
    row = _row(session, deal_id, 3)
    row.payload = row.payload.replace("指标与预算已核实", "指标与预算已核买")  # one character


def _change_column(session: Session, deal_id: str) -> None:
    _row(session, deal_id, 3).actor_id = "broker-wang"


def _delete(session: Session, deal_id: str) -> None:
    session.execute(delete(EventRecord).where(EventRecord.deal_id == deal_id, EventRecord.seq == 3))


def _insert(session: Session, deal_id: str) -> None:
    """Move seqs 3.. up by one and put a forged event at 3, chained to seq 2's hash."""
    for seq in range(EVENTS, 2, -1):
        session.execute(update(EventRecord).where(EventRecord.deal_id == deal_id, EventRecord.seq == seq).values(seq=seq + 1))
    before = _row(session, deal_id, 2)
    forged = sample_event(deal_id, 3, note="伪造的事件")
    session.add(
        EventRecord(
            deal_id=deal_id,
            seq=3,
            type=forged.type,
            occurred_at=forged.occurred_at,
            actor_id=forged.actor.id,
            actor_role=forged.actor.role.value,
            command_id=forged.command_id,
            payload=forged.canonical_json(),
            prev_hash=before.hash,
            hash=before.hash,
            recorded_at=before.recorded_at,
        )
    )


def _reorder(session: Session, deal_id: str) -> None:
    """Swap the contents of seqs 3 and 4, keeping each row's seq."""
    a, b = _row(session, deal_id, 3), _row(session, deal_id, 4)
    for name in ("type", "occurred_at", "actor_id", "actor_role", "command_id", "payload", "prev_hash", "hash"):
        va, vb = getattr(a, name), getattr(b, name)
        setattr(a, name, vb)
        setattr(b, name, va)


# Each tampering, the kinds of problem it must show, and the seq the report must name (a deletion is named at the
# event after the hole, with the missing seq in its message).
TAMPERS: dict[str, tuple[Callable[[Session, str], None], set[str], int]] = {
    "changed payload": (_change_payload, {"hash"}, 3),
    "changed column": (_change_column, {"column"}, 3),
    "deleted event": (_delete, {"gap", "prev_hash"}, 4),
    "inserted event": (_insert, {"hash", "column"}, 3),
    "reordered events": (_reorder, {"prev_hash", "column"}, 3),
}


async def test_an_intact_archive_verifies_for_a_deal_a_centre_and_everything(sessions: sessionmaker[Session]) -> None:
    centre = f"centre-{uuid.uuid4().hex[:6]}"
    deals = [await _deal(sessions, centre) for _ in range(2)]
    with sessions() as session:
        report = verify_deal(session, deals[0])
        assert report.intact and report.deals == 1 and report.events == EVENTS
        report = verify_centre(session, centre)
        assert report.intact and report.deals == 2 and report.events == 2 * EVENTS
        assert verify_archive(session).events >= 2 * EVENTS


@pytest.mark.parametrize("tamper", TAMPERS, ids=str)
async def test_each_tampering_is_found_and_named_by_deal_and_seq(sessions: sessionmaker[Session], tamper: str) -> None:
    change, kinds, seq = TAMPERS[tamper]
    centre = f"centre-{uuid.uuid4().hex[:6]}"
    untouched, deal_id = await _deal(sessions, centre), await _deal(sessions, centre)
    with sessions.begin() as session:
        change(session, deal_id)
    with sessions() as session:
        report = verify_deal(session, deal_id)
        centre_report = verify_centre(session, centre)
        whole = verify_archive(session)
    assert not report.intact
    assert {p.kind for p in report.problems} >= kinds
    assert (deal_id, seq) in {(p.deal_id, p.seq) for p in report.problems}
    if tamper == "deleted event":
        assert any("seq 3 missing" in p.message for p in report.problems)
    assert all(p.deal_id == deal_id for p in centre_report.problems)  # the other deal is not blamed
    assert centre_report.problems == report.problems
    assert [p for p in whole.problems if p.deal_id in (deal_id, untouched)] == report.problems
    for problem in report.problems:
        assert problem.describe().startswith(f"deal {deal_id} seq {problem.seq}")


async def test_state_at_a_seq_or_a_moment_is_the_fold_of_that_prefix(sessions: sessionmaker[Session]) -> None:
    deal_id = await _deal(sessions)
    events = [sample_event(deal_id, seq) for seq in range(1, EVENTS + 1)]
    with sessions() as session:
        for seq in (1, 4, EVENTS):
            assert state_at(session, deal_id, seq=seq) == fold(events[:seq])
        moment = events[4].occurred_at + timedelta(minutes=30)
        assert state_at(session, deal_id, at=moment) == fold(events[:5])
        assert state_at(session, deal_id, at=SAMPLE_START) == fold([])
        with pytest.raises(ValueError, match="time zone"):
            state_at(session, deal_id, at=moment.replace(tzinfo=None))


async def test_actions_of_a_person_over_a_period(sessions: sessionmaker[Session]) -> None:
    deal_id = await _deal(sessions)
    since, until = sample_event(deal_id, 3).occurred_at, sample_event(deal_id, 7).occurred_at
    with sessions() as session:
        found = [e for e in actions_of(session, SAMPLE_BROKER.id, since=since, until=until) if e.deal_id == deal_id]
    assert [e.seq for e in found] == [3, 5]
    assert all(e.actor == SAMPLE_BROKER for e in found)
