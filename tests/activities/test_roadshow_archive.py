"""The roadshow archive activity on SQLite and PostgreSQL: the events hash-chained, the read model derived from them,
a retried append a no-op, different content or a gap refused, and an edited row found by the chain check."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.roadshow_archive import RoadshowArchive
from domain.actors import ROADSHOW
from domain.partners import Instrument, PartnerKind
from domain.roadshow import (
    ROADSHOW_ARCHIVE_CONFLICT,
    ROADSHOW_ARCHIVE_GAP,
    CloseRoadshow,
    InvitedInvestor,
    InviteInvestor,
    PresentDeal,
    RecordForwarding,
    RegisterInterest,
    RoadshowAppend,
    RoadshowCommand,
    RoadshowEvent,
    RoadshowMode,
    RoadshowState,
    ScheduleRoadshow,
    decide_roadshow,
    fold_roadshow,
)
from kuayue.cli import main
from store.chain import GENESIS_HASH, chain_hash
from store.db import make_engine, make_session_factory
from store.models import RoadshowEventRecord
from store.roadshows import interests, list_roadshows, roadshow_events, roadshow_row, verify_roadshow_chain
from store.testing import migrated_database
from tests.factories import HUB_ADMIN, T0

WAN = 1_000_000


def steps() -> list[list[RoadshowEvent]]:
    """Each command's events: schedule, two deals, two investors, three interests, two forwardings, the close."""
    commands: list[RoadshowCommand] = [
        ScheduleRoadshow(
            command_id="s",
            actor=HUB_ADMIN,
            roadshow_id="RS-1",
            title="南昌科技成果路演",
            held_on=date(2026, 12, 8),
            mode=RoadshowMode.ONLINE,
            centre_id="hub",
        ),
        PresentDeal(command_id="p1", actor=HUB_ADMIN, deal_id="FZ-1"),
        PresentDeal(command_id="p2", actor=HUB_ADMIN, deal_id="JJ-1"),
        InviteInvestor(
            command_id="i1", actor=HUB_ADMIN, investor=InvitedInvestor(partner_id="jxbank", name="银行", kind=PartnerKind.BANK)
        ),
        InviteInvestor(
            command_id="i2", actor=HUB_ADMIN, investor=InvitedInvestor(partner_id="jxfund", name="基金", kind=PartnerKind.FUND)
        ),
    ]
    for investor, deal, instrument in (
        ("jxbank", "FZ-1", Instrument.LOAN),
        ("jxbank", "JJ-1", Instrument.LOAN),
        ("jxfund", "FZ-1", Instrument.EQUITY),
    ):
        commands.append(
            RegisterInterest(
                command_id=f"{investor}-{deal}",
                actor=HUB_ADMIN,
                investor_id=investor,
                deal_id=deal,
                amount_fen=800 * WAN,
                instrument=instrument,
            )
        )
    commands += [
        RecordForwarding(command_id="f1", actor=ROADSHOW, deal_id="FZ-1", application_id="RS-1-jxbank"),
        RecordForwarding(
            command_id="f2", actor=ROADSHOW, deal_id="JJ-1", application_id="RS-1-jxbank", refusal="[wrong_stage] 不在融资阶段"
        ),
        CloseRoadshow(command_id="c", actor=HUB_ADMIN, note="路演结束"),
    ]
    state, out = RoadshowState(), []
    for i, command in enumerate(commands):
        events = decide_roadshow(state, command, T0 + timedelta(minutes=i))
        state = fold_roadshow(events, state)
        out.append(events)
    return out


def append(archive: RoadshowArchive, events: list[RoadshowEvent]) -> int:
    result = ActivityEnvironment().run(archive.append_blocking, RoadshowAppend(roadshow_id="RS-1", events=tuple(events)))
    return result.appended


def test_events_are_chained_and_the_read_model_follows_them(session_factory: sessionmaker[Session]) -> None:
    archive = RoadshowArchive(session_factory)
    batches = steps()
    for events in batches[:-1]:
        assert append(archive, events) == len(events)
    with session_factory() as s:
        row = roadshow_row(s, "RS-1")
        assert row is not None and (row.status, row.deals, row.investors, row.interests) == ("open", 2, 2, 3)
        assert {(i.investor_id, i.deal_id): (i.status, i.refusal) for i in interests(s, "RS-1")} == {
            ("jxbank", "FZ-1"): ("forwarded", None),
            ("jxbank", "JJ-1"): ("refused", "[wrong_stage] 不在融资阶段"),
            ("jxfund", "FZ-1"): ("pending", None),
        }
        assert [i.investor_id for i in interests(s, deal_id="FZ-1")] == ["jxbank", "jxfund"]
        assert [r.roadshow_id for r in list_roadshows(s, deal_id="JJ-1")] == ["RS-1"]
        assert list_roadshows(s, deal_id="OTHER") == []
    result = ActivityEnvironment().run(archive.append_blocking, RoadshowAppend(roadshow_id="RS-1", events=tuple(batches[-1])))
    with session_factory() as s:
        stored = roadshow_events(s, "RS-1")
        assert stored == [e for events in batches for e in events]
        closed = roadshow_row(s, "RS-1")
        assert closed is not None and closed.status == "closed" and closed.closed_at == batches[-1][0].occurred_at
        # The head returned to the workflow is the chain recomputed over the events.
        head = GENESIS_HASH
        for e in stored:
            head = chain_hash(head, e.canonical_json())
        assert (result.last_seq, result.last_hash) == (len(stored), head)
        assert verify_roadshow_chain(s, "RS-1") == []


def test_a_retry_adds_nothing_and_different_content_or_a_gap_is_refused(session_factory: sessionmaker[Session]) -> None:
    archive = RoadshowArchive(session_factory)
    batches = steps()
    for events in batches[:6]:
        append(archive, events)
    # A retried append (the activity's answer was lost) inserts nothing and leaves the interest as it was.
    assert append(archive, batches[5]) == 0
    with session_factory() as s:
        before = roadshow_events(s, "RS-1")
        assert [i.status for i in interests(s, "RS-1")] == ["pending"]
    # The same seq with other content (another investor's interest) is refused, not overwritten.
    other = [e.model_copy(update={"command_id": "changed"}) for e in batches[5]]
    with pytest.raises(ApplicationError) as conflict:
        append(archive, other)
    assert conflict.value.type == ROADSHOW_ARCHIVE_CONFLICT and conflict.value.non_retryable
    # An append that skips a seq is refused.
    with pytest.raises(ApplicationError) as gap:
        append(archive, batches[8])
    assert gap.value.type == ROADSHOW_ARCHIVE_GAP
    with session_factory() as s:
        assert roadshow_events(s, "RS-1") == before


def test_the_chain_check_names_an_edited_event(session_factory: sessionmaker[Session]) -> None:
    archive = RoadshowArchive(session_factory)
    for events in steps()[:7]:
        append(archive, events)
    with session_factory.begin() as s:
        s.execute(
            update(RoadshowEventRecord)
            .where(RoadshowEventRecord.roadshow_id == "RS-1", RoadshowEventRecord.seq == 6)
            .values(payload=RoadshowEventRecord.payload + " ")
        )
    with session_factory() as s:
        problems = verify_roadshow_chain(s, "RS-1")
    assert problems and all("seq 6" in p for p in problems), problems


def test_kuayue_audit_verify_checks_roadshow_chains_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        archive = RoadshowArchive(sessions)
        for events in steps():
            append(archive, events)
        monkeypatch.setenv("KUAYUE_DATABASE_URL", url)
        assert main(["audit", "verify", "--all"]) == 0
        out = capsys.readouterr().out
        assert "whole archive: 0 deals, 0 events — 完整 intact" in out
        assert "every roadshow: 1 roadshows, 11 events — 完整 intact" in out
        with sessions.begin() as s:  # one investor's name changed in the stored event
            row = s.scalars(
                select(RoadshowEventRecord).where(RoadshowEventRecord.roadshow_id == "RS-1", RoadshowEventRecord.seq == 4)
            ).one()
            assert "银行" in row.payload
            row.payload = row.payload.replace("银行", "钱庄")
        assert main(["audit", "verify", "--roadshow", "RS-1"]) == 1
        out = capsys.readouterr().out
        assert "roadshow RS-1 seq 4: stored hash" in out and "发现" in out
        assert main(["audit", "verify", "--all"]) == 1
        engine.dispose()
