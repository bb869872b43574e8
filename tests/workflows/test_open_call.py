"""Open calls (揭榜挂帅) on Temporal's test servers: bids, the deadline timer, selection into the deal, busy calls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import starter
from domain.actors import TIMER, Actor, Role
from domain.commands import ValidateDemand
from domain.events import CandidatesProposed, MatchAccepted, Side, StageEntered
from domain.open_call import (
    Bid,
    BidSubmitted,
    CloseOpenCall,
    InstitutionKind,
    OpenCallClosed,
    OpenCallEvent,
    OpenCallState,
    OpenCallStatus,
    SelectWinner,
    SolverQualifications,
    SubmitBid,
    WinnerSelected,
)
from domain.parties import AchievementRef, Institution
from domain.stages import Stage
from examples.lifecycle import broker_actor
from kuayue import open_calls
from registry.importer import import_file
from starter import CommandRejected
from store.open_calls import open_call_events, open_call_row
from store.testing import migrated_database
from tests.factories import AUDITOR, EXAMPLE_FILES, HUB_ADMIN
from tests.workflows.conftest import Kuayue, running_kuayue
from workflows.open_call_messages import OpenCallOutcome, open_call_workflow_id

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry" / "achievements.csv"
JIAN = next(p for p in EXAMPLE_FILES if "jian" in p.name)
QUALIFICATIONS = SolverQualifications(
    institution_kinds=(InstitutionKind.UNIVERSITY, InstitutionKind.RESEARCH_INSTITUTE), min_trl=6, region_code="360000"
)
JGSU = Actor(id="jgsu-manager", role=Role.MANAGER, centre_id="jgsu")  # 井冈山大学's N centre
JXAU = Actor(id="jxau-broker", role=Role.BROKER, centre_id="jxau")  # 江西农业大学's N centre
OTHER_BROKER = Actor(id="jj-broker-chen", role=Role.BROKER, centre_id="jj-centre")


# Calls the running test published; terminated afterwards (the time-skipping server cannot list workflows).
PUBLISHED: list[str] = []


async def publish_call(kuayue: Kuayue, *args: Any, **kwargs: Any) -> OpenCallState:
    """`open_calls.publish`, remembering the call so the fixture can end it."""
    PUBLISHED.append(args[2])
    return await open_calls.publish(kuayue.client, kuayue.task_queue, *args, **kwargs)


async def end_open_calls(kuayue: Kuayue) -> None:
    """Terminate the test's calls still running: on the shared time-skipping server, a timer left without a worker
    would stop later tests' simulated time."""
    while PUBLISHED:
        with contextlib.suppress(RPCError):
            await kuayue.client.get_workflow_handle(open_call_workflow_id(PUBLISHED.pop())).terminate(reason="test finished")


@pytest.fixture
async def skipping(time_skipping_env: WorkflowEnvironment) -> AsyncIterator[Kuayue]:
    """A worker on its own database holding the example achievement registry, on simulated time."""
    with migrated_database("sqlite") as url:
        async with running_kuayue(time_skipping_env.client, url) as kuayue:
            import_file(kuayue.sessions, REGISTRY)
            yield kuayue
            await end_open_calls(kuayue)


async def publish(kuayue: Kuayue, env: WorkflowEnvironment, deal_id: str, actor: Actor, days: int = 3) -> str:
    open_call_id = f"OC-{deal_id}"
    now = await env.get_current_time()  # simulated time: ahead of this machine's once other tests skipped ahead
    await publish_call(kuayue, actor, deal_id, open_call_id, now + timedelta(days=days), QUALIFICATIONS, now=now)
    return open_call_id


async def bid(kuayue: Kuayue, open_call_id: str, actor: Actor, achievement_id: str, cid: str) -> str:
    offer = open_calls.bid_for(kuayue.sessions, achievement_id, InstitutionKind.UNIVERSITY, "按企业指标完成中试验证")
    answer = await open_calls.send(kuayue.client, open_call_id, SubmitBid(command_id=cid, actor=actor, bid=offer))
    (event,) = answer.events
    assert isinstance(event.payload, BidSubmitted)
    return event.payload.bid_id


async def refused(kuayue: Kuayue, open_call_id: str, command: SubmitBid | CloseOpenCall | SelectWinner) -> CommandRejected:
    """Send `command`, expect a refusal, and check the call recorded nothing (workflow and archive alike)."""
    before = await open_calls.open_call_events(kuayue.client, open_call_id)
    with pytest.raises(CommandRejected) as caught:
        await open_calls.send(kuayue.client, open_call_id, command)
    assert await open_calls.open_call_events(kuayue.client, open_call_id) == before
    assert archived(kuayue, open_call_id) == before
    return caught.value


def archived(kuayue: Kuayue, open_call_id: str) -> list[OpenCallEvent]:
    with kuayue.sessions() as session:
        return open_call_events(session, open_call_id)


async def test_bids_until_the_timer_closes_the_call_then_the_winner_becomes_the_deals_match(
    skipping: Kuayue, time_skipping_env: WorkflowEnvironment
) -> None:
    cmd, _ = await skipping.open(JIAN)
    deal, broker = cmd.deal_id, broker_actor(cmd)
    await skipping.act(deal, ValidateDemand(command_id="v", actor=broker))
    call = await publish(skipping, time_skipping_env, deal, broker)
    state = await open_calls.open_call_state(skipping.client, call)
    assert state.status == OpenCallStatus.OPEN and state.deal_id == deal and state.qualifications == QUALIFICATIONS

    # On time and qualified: each institution bids with its own registered achievement.
    assert await bid(skipping, call, JGSU, "JXCG-2026-0001", "b1") == "B1"
    assert await bid(skipping, call, JXAU, "JXCG-2026-0002", "b2") == "B2"
    # A retried bid (same command id) is answered once.
    assert await bid(skipping, call, JXAU, "JXCG-2026-0002", "b2") == "B2"

    # Unqualified: TRL 5 where 6 is required; the message says what was wrong and what is allowed.
    trl5 = open_calls.bid_for(skipping.sessions, "JXCG-2026-0004", InstitutionKind.UNIVERSITY, "饲料方案")
    error = await refused(skipping, call, SubmitBid(command_id="b3", actor=JXAU, bid=trl5))
    assert error.code == "not_qualified"
    assert "技术就绪度 5 低于要求的 6" in error.message and "本榜要求：单位类型：高校、科研院所" in error.message
    # Another centre's broker cannot bid with jgsu's achievement; an auditor cannot bid at all.
    theirs = open_calls.bid_for(skipping.sessions, "JXCG-2026-0003", InstitutionKind.RESEARCH_INSTITUTE, "冰片提取")
    assert (await refused(skipping, call, SubmitBid(command_id="b4", actor=JGSU, bid=theirs))).code == "forbidden"
    assert (await refused(skipping, call, SubmitBid(command_id="b5", actor=AUDITOR, bid=theirs))).code == "forbidden"
    # Selecting before the deadline is refused.
    early = await refused(skipping, call, SelectWinner(command_id="s0", actor=broker, bid_id="B1"))
    assert early.code == "open_call_open" and "截止后才能选定" in early.message

    # The call's own durable timer closes it at the deadline, on simulated time.
    deadline = state.deadline
    assert deadline is not None
    await time_skipping_env.sleep(deadline - await time_skipping_env.get_current_time() + timedelta(minutes=5))
    state = await open_calls.open_call_state(skipping.client, call)
    assert state.status == OpenCallStatus.CLOSED and not state.closed_early
    closed = (await open_calls.open_call_events(skipping.client, call))[-1]
    assert isinstance(closed.payload, OpenCallClosed) and closed.actor == TIMER and closed.payload.bids == 2
    assert timedelta(0) <= closed.occurred_at - deadline < timedelta(seconds=5)

    # A late bid gets the deadline in its message and records nothing.
    late = open_calls.bid_for(skipping.sessions, "JXCG-2026-0003", InstitutionKind.RESEARCH_INSTITUTE, "冰片提取")
    jxas = Actor(id="jxas-manager", role=Role.MANAGER, centre_id="jxas")
    error = await refused(skipping, call, SubmitBid(command_id="b6", actor=jxas, bid=late))
    assert error.code == "open_call_closed" and error.message.startswith("揭榜已于 ") and "截止，不再接受揭榜" in error.message

    # Only the enterprise's side selects: not an auditor, not a broker of another centre.
    assert (await refused(skipping, call, SelectWinner(command_id="s1", actor=AUDITOR, bid_id="B2"))).code == "forbidden"
    assert (await refused(skipping, call, SelectWinner(command_id="s2", actor=OTHER_BROKER, bid_id="B2"))).code == "forbidden"

    # The deal's broker selects B2: it becomes the deal's accepted match, acting as the broker.
    answer = await open_calls.send(skipping.client, call, SelectWinner(command_id="s3", actor=broker, bid_id="B2"))
    (selected,) = answer.events
    assert isinstance(selected.payload, WinnerSelected) and selected.payload.achievement_id == "JXCG-2026-0002"
    deal_state = await starter.deal_state(skipping.client, deal)
    assert deal_state.stage == Stage.BROKERING and deal_state.match is not None
    assert deal_state.match.achievement_id == "JXCG-2026-0002" and deal_state.seq == selected.payload.deal_seq
    deal_events = skipping.archive(deal)
    proposed = [e for e in deal_events if isinstance(e.payload, CandidatesProposed)][-1]
    assert proposed.payload.source == f"open call {call}" and proposed.actor == broker  # type: ignore[union-attr]
    accepted = [e.payload for e in deal_events if isinstance(e.payload, MatchAccepted)]
    assert [(a.achievement_id, a.side) for a in accepted] == [
        ("JXCG-2026-0002", Side.ENTERPRISE),
        ("JXCG-2026-0002", Side.OWNER),
    ]
    assert isinstance(deal_events[-1].payload, StageEntered) and deal_events[-1].payload.stage == Stage.BROKERING

    # The call ends awarded; its events are archived exactly as the workflow holds them, and listed.
    outcome = await skipping.client.get_workflow_handle(open_call_workflow_id(call), result_type=OpenCallOutcome).result()
    assert outcome.status == OpenCallStatus.AWARDED and outcome.winner_bid_id == "B2"
    events = await open_calls.open_call_events(skipping.client, call)
    assert [e.type for e in events] == ["OpenCallPublished", "BidSubmitted", "BidSubmitted", "OpenCallClosed", "WinnerSelected"]
    assert archived(skipping, call) == events
    with skipping.sessions() as session:
        row = open_call_row(session, call)
    assert row is not None and row.status == "awarded" and row.bids == 2 and row.winner_bid_id == "B2"


async def test_a_selection_the_deal_refuses_leaves_the_call_as_it_was(
    skipping: Kuayue, time_skipping_env: WorkflowEnvironment
) -> None:
    cmd, _ = await skipping.open(JIAN)
    deal, broker = cmd.deal_id, broker_actor(cmd)
    call = await publish(skipping, time_skipping_env, deal, HUB_ADMIN)  # published while the demand is being mined
    await bid(skipping, call, JGSU, "JXCG-2026-0001", "b1")
    # The enterprise side closes early, with a reason; a bid after that is told so.
    no_reason = await refused(skipping, call, CloseOpenCall(command_id="c0", actor=broker))
    assert no_reason.code == "reason_required"
    await open_calls.send(skipping.client, call, CloseOpenCall(command_id="c1", actor=broker, reason="企业已确定方向"))
    late = open_calls.bid_for(skipping.sessions, "JXCG-2026-0002", InstitutionKind.UNIVERSITY, "菌剂")
    error = await refused(skipping, call, SubmitBid(command_id="b2", actor=JXAU, bid=late))
    assert "提前截止" in error.message

    # The deal is still in DEMAND_MINING: it cannot take a match, so the selection is refused and nothing changes.
    deal_before = skipping.archive(deal)
    error = await refused(skipping, call, SelectWinner(command_id="s1", actor=broker, bid_id="B1"))
    assert error.code == "deal_not_matching" and "技术匹配" in error.message
    state = await open_calls.open_call_state(skipping.client, call)
    assert state.status == OpenCallStatus.CLOSED and state.winner_bid_id is None
    assert skipping.archive(deal) == deal_before

    # Once the demand is validated the same selection goes through.
    await skipping.act(deal, ValidateDemand(command_id="v", actor=broker))
    await open_calls.send(skipping.client, call, SelectWinner(command_id="s2", actor=broker, bid_id="B1"))
    deal_state = await starter.deal_state(skipping.client, deal)
    assert deal_state.match is not None and deal_state.match.achievement_id == "JXCG-2026-0001"


async def test_only_the_deals_side_publishes_and_a_refused_publish_starts_nothing(
    skipping: Kuayue, time_skipping_env: WorkflowEnvironment
) -> None:
    cmd, _ = await skipping.open(JIAN)
    now = await time_skipping_env.get_current_time()
    cases: list[tuple[Actor, datetime, str]] = [
        (AUDITOR, now + timedelta(days=3), "forbidden"),
        (OTHER_BROKER, now + timedelta(days=3), "forbidden"),
        (broker_actor(cmd), now - timedelta(days=1), "deadline_past"),
    ]
    for i, (actor, deadline, code) in enumerate(cases):
        call = f"OC-refused-{i}-{cmd.deal_id}"
        with pytest.raises(CommandRejected) as caught:
            await publish_call(skipping, actor, cmd.deal_id, call, deadline, QUALIFICATIONS, now=now)
        assert caught.value.code == code
        with pytest.raises(CommandRejected) as missing:
            await open_calls.visible_state(skipping.client, call)
        assert missing.value.code == "unknown_open_call"
    with pytest.raises(CommandRejected) as caught:
        await open_calls.publish(
            skipping.client,
            skipping.task_queue,
            HUB_ADMIN,
            "no-such-deal",
            "OC-x",
            now + timedelta(days=1),
            QUALIFICATIONS,
            now=now,
        )
    assert caught.value.code == "unknown_deal"


async def test_institutions_bidding_at_the_same_moment_each_get_one_bid_numbered_without_gaps(
    temporal_env: WorkflowEnvironment,
) -> None:
    """Sixteen bids at once on the dev server: each recorded once, in one order, in the workflow and the archive."""
    with migrated_database("sqlite") as url:
        async with running_kuayue(temporal_env.client, url) as kuayue:
            cmd, _ = await kuayue.open(JIAN)
            call = await publish(kuayue, temporal_env, cmd.deal_id, HUB_ADMIN)

            async def one(n: int) -> str:
                ref = AchievementRef(
                    achievement_id=f"X-{n:03d}", title=f"成果 {n}", institution=Institution(name="南昌大学", centre_id="ncu")
                )
                offer = Bid(
                    achievement=ref, institution_kind=InstitutionKind.UNIVERSITY, trl=7, region_code="360100", proposal="方案"
                )
                answer = await open_calls.send(kuayue.client, call, SubmitBid(command_id=f"b{n}", actor=HUB_ADMIN, bid=offer))
                payload = answer.events[0].payload
                assert isinstance(payload, BidSubmitted)
                return payload.bid_id

            bid_ids = await asyncio.gather(*(one(n) for n in range(16)))
            assert sorted(bid_ids, key=lambda b: int(b[1:])) == [f"B{i}" for i in range(1, 17)]
            state = await open_calls.open_call_state(kuayue.client, call)
            assert len(state.bids) == 16 and len(archived(kuayue, call)) == 17
            await end_open_calls(kuayue)


async def test_a_deadline_the_workflows_clock_has_passed_is_refused_and_the_id_stays_free(
    skipping: Kuayue, time_skipping_env: WorkflowEnvironment
) -> None:
    """The client's clock lags the server's: its check passes, the workflow's refuses, and the id can be used again."""
    cmd, _ = await skipping.open(JIAN)
    server_now = await time_skipping_env.get_current_time()
    broker, call = broker_actor(cmd), f"OC-skew-{cmd.deal_id}"
    lagging = server_now - timedelta(days=2)
    with pytest.raises(CommandRejected) as caught:
        await publish_call(
            skipping,
            broker,
            cmd.deal_id,
            call,
            server_now - timedelta(days=1),
            QUALIFICATIONS,
            now=lagging,
        )
    assert caught.value.code == "deadline_past" and "应晚于现在" in caught.value.message
    state = await publish_call(
        skipping,
        broker,
        cmd.deal_id,
        call,
        server_now + timedelta(days=1),
        QUALIFICATIONS,
        now=server_now,
    )
    assert state.status == OpenCallStatus.OPEN and [e.type for e in archived(skipping, call)] == ["OpenCallPublished"]


async def test_a_call_nobody_selects_from_ends_when_the_selection_period_has_passed(
    skipping: Kuayue, time_skipping_env: WorkflowEnvironment
) -> None:
    cmd, _ = await skipping.open(JIAN)
    broker = broker_actor(cmd)
    call = await publish(skipping, time_skipping_env, cmd.deal_id, broker)
    await bid(skipping, call, JGSU, "JXCG-2026-0001", "b1")
    # Skip past the deadline and the 90-day selection period after it, on simulated time.
    await time_skipping_env.sleep(timedelta(days=3 + 90, hours=1))
    handle = skipping.client.get_workflow_handle(open_call_workflow_id(call), result_type=OpenCallOutcome)
    outcome = await handle.result()
    assert outcome.status == OpenCallStatus.LAPSED and outcome.winner_bid_id is None
    events = archived(skipping, call)
    assert [e.type for e in events] == ["OpenCallPublished", "BidSubmitted", "OpenCallClosed", "OpenCallLapsed"]
    assert events[-1].actor == TIMER and events[-1].occurred_at - events[-2].occurred_at >= timedelta(days=90)
    with pytest.raises(CommandRejected) as caught:
        await open_calls.send(skipping.client, call, SelectWinner(command_id="s", actor=broker, bid_id="B1"))
    assert caught.value.code == "open_call_ended" and "选定期满未选定" in caught.value.message
