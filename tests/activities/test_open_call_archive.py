"""The open call's archive activity on SQLite and PostgreSQL: a retried append is a no-op, a different one is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.open_call import OPEN_CALL_ARCHIVE_CONFLICT, OPEN_CALL_ARCHIVE_GAP, OpenCallArchive
from domain.actors import Actor, Role
from domain.open_call import (
    Bid,
    DealSnapshot,
    InstitutionKind,
    OpenCallAppend,
    OpenCallContext,
    PublishOpenCall,
    SolverQualifications,
    SubmitBid,
    decide,
    fold,
    initial_state,
)
from domain.parties import AchievementRef, Institution
from domain.stages import Stage
from kuayue.cli import main
from store.chain import GENESIS_HASH, chain_hash
from store.db import make_engine, make_session_factory
from store.models import OpenCallEventRecord
from store.open_calls import list_open_calls, open_call_events, verify_open_call_chain
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES, HUB_ADMIN, T0, open_command

OPENING = open_command(EXAMPLE_FILES[0], deal_id="JA-1")
NCU = Actor(id="ncu-manager", role=Role.MANAGER, centre_id="ncu")


def bid(n: int) -> Bid:
    ref = AchievementRef(achievement_id=f"X-{n}", title=f"成果 {n}", institution=Institution(name="南昌大学", centre_id="ncu"))
    return Bid(achievement=ref, institution_kind=InstitutionKind.UNIVERSITY, trl=7, region_code="360100", proposal="方案")


def appends() -> tuple[OpenCallAppend, OpenCallAppend, OpenCallAppend]:
    """Publish, a bid of X-1, and (as if another history) a bid of X-2 at the same seq."""
    deal = DealSnapshot(deal_id="JA-1", stage=Stage.MATCHING, broker_id="b", centre_id="c", demand=OPENING.demand)
    publish = PublishOpenCall(
        command_id="p",
        actor=HUB_ADMIN,
        open_call_id="OC-1",
        deal=deal,
        deadline=T0 + timedelta(days=5),
        qualifications=SolverQualifications(),
    )
    opened = decide(initial_state(), publish, OpenCallContext(now=T0))
    state = fold(opened)
    ctx = OpenCallContext(now=T0 + timedelta(hours=1))
    first = decide(state, SubmitBid(command_id="b1", actor=NCU, bid=bid(1)), ctx)
    other = decide(state, SubmitBid(command_id="b2", actor=NCU, bid=bid(2)), ctx)
    return (
        OpenCallAppend(events=tuple(opened), state=state),
        OpenCallAppend(events=tuple(first), state=fold(first, state)),
        OpenCallAppend(events=tuple(other), state=fold(other, state)),
    )


async def test_a_retried_append_adds_nothing_and_different_content_is_refused(
    session_factory: sessionmaker[Session],
) -> None:
    archive = OpenCallArchive(session_factory)
    published, first, other = appends()
    env = ActivityEnvironment()
    assert await env.run(archive.append, published) == 1
    assert await env.run(archive.append, first) == 1
    assert await env.run(archive.append, first) == 0  # a retry
    with pytest.raises(ApplicationError) as caught:
        await env.run(archive.append, other)
    assert caught.value.type == OPEN_CALL_ARCHIVE_CONFLICT and caught.value.non_retryable
    with session_factory() as session:
        stored = open_call_events(session, "OC-1")
        (row,) = list_open_calls(session)
    assert stored == [*published.events, *first.events]
    assert (row.status, row.bids, row.deal_id) == ("open", 1, "JA-1")


async def test_each_calls_events_are_hash_chained_and_an_edit_or_gap_is_named(
    session_factory: sessionmaker[Session],
) -> None:
    archive = OpenCallArchive(session_factory)
    published, first, _ = appends()
    env = ActivityEnvironment()
    # Out of order: the bid before the publication is refused, nothing written.
    with pytest.raises(ApplicationError) as gap:
        await env.run(archive.append, first)
    assert gap.value.type == OPEN_CALL_ARCHIVE_GAP and gap.value.non_retryable
    await env.run(archive.append, published)
    await env.run(archive.append, first)
    await env.run(archive.append, first)  # a retry links nothing twice
    with session_factory() as session:
        rows = session.scalars(select(OpenCallEventRecord).order_by(OpenCallEventRecord.seq)).all()
        head = GENESIS_HASH
        for row in rows:
            assert (row.prev_hash, row.hash) == (head, chain_hash(head, row.payload))
            head = row.hash
        assert len(rows) == 2 and verify_open_call_chain(session, "OC-1") == []
    with session_factory.begin() as session:
        row = session.scalars(select(OpenCallEventRecord).where(OpenCallEventRecord.seq == 2)).one()
        row.payload = row.payload.replace("方案", "方桉")
    with session_factory() as session:
        problems = verify_open_call_chain(session, "OC-1")
    assert problems and all(p.startswith("open call OC-1 seq 2:") for p in problems), problems


def test_kuayue_audit_verify_checks_open_call_chains(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    published, first, _ = appends()
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        archive = OpenCallArchive(sessions)
        for append in (published, first):
            ActivityEnvironment().run(archive._append_blocking, append)
        monkeypatch.setenv("KUAYUE_DATABASE_URL", url)
        assert main(["audit", "verify", "--open-call", "OC-1"]) == 0
        assert "open call OC-1: 1 open calls, 2 events — 完整 intact" in capsys.readouterr().out
        with sessions.begin() as session:
            session.execute(update(OpenCallEventRecord).where(OpenCallEventRecord.seq == 1).values(actor_id="someone-else"))
        assert main(["audit", "verify", "--all"]) == 1
        out = capsys.readouterr().out
        assert "open call OC-1 seq 1: column actor_id is 'someone-else'" in out
        assert "every open call: 1 open calls, 2 events — 发现 1 处问题" in out
        engine.dispose()
