"""The open call's rules without a server: publish, qualifications, the deadline, who may select, and the fold."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.actors import TIMER, Actor, Role
from domain.errors import DomainError
from domain.open_call import (
    Bid,
    CloseOpenCall,
    DealSnapshot,
    InstitutionKind,
    LapseOpenCall,
    OpenCallContext,
    OpenCallState,
    OpenCallStatus,
    PublishOpenCall,
    SelectWinner,
    SolverQualifications,
    SubmitBid,
    WinnerSelected,
    decide,
    fold,
    initial_state,
    region_contains,
)
from domain.parties import AchievementRef, Institution
from domain.stages import Stage
from tests.factories import AUDITOR, EXAMPLE_FILES, HUB_ADMIN, T0, open_command

OPENING = open_command(next(p for p in EXAMPLE_FILES if "jian" in p.name), deal_id="JA-1")
BROKER = Actor(id=OPENING.broker.broker_id, role=Role.BROKER, centre_id=OPENING.broker.centre_id)
JGSU = Actor(id="jgsu-manager", role=Role.MANAGER, centre_id="jgsu")
DEADLINE = T0 + timedelta(days=10)
QUALIFICATIONS = SolverQualifications(institution_kinds=(InstitutionKind.UNIVERSITY,), min_trl=6, region_code="360000")


def snapshot(stage: Stage = Stage.MATCHING) -> DealSnapshot:
    return DealSnapshot(
        deal_id="JA-1",
        stage=stage,
        broker_id=OPENING.broker.broker_id,
        centre_id=OPENING.centre.centre_id,
        demand=OPENING.demand,
    )


def publish(actor: Actor = BROKER, stage: Stage = Stage.MATCHING, deadline=DEADLINE) -> PublishOpenCall:  # type: ignore[no-untyped-def]
    return PublishOpenCall(
        command_id="p", actor=actor, open_call_id="OC-1", deal=snapshot(stage), deadline=deadline, qualifications=QUALIFICATIONS
    )


def bid(trl: int = 7, region: str = "360800", kind: InstitutionKind = InstitutionKind.UNIVERSITY, n: int = 1) -> Bid:
    achievement = AchievementRef(
        achievement_id=f"JXCG-2026-{n:04d}",
        title="龙脑樟残渣生物有机肥",
        institution=Institution(name="井冈山大学", centre_id="jgsu"),
    )
    return Bid(achievement=achievement, institution_kind=kind, trl=trl, region_code=region, proposal="中试验证")


def at(days: float) -> OpenCallContext:
    return OpenCallContext(now=T0 + timedelta(days=days))


def published() -> OpenCallState:
    return fold(decide(initial_state(), publish(), at(0)))


def refusal(state: OpenCallState, command, ctx: OpenCallContext) -> DomainError:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        decide(state, command, ctx)
    return caught.value


def test_publishing_records_the_deadline_and_qualifications() -> None:
    state = published()
    assert state.status == OpenCallStatus.OPEN and state.deadline == DEADLINE and state.qualifications == QUALIFICATIONS
    assert (state.deal_id, state.broker_id, state.centre_id) == ("JA-1", "ja-broker-liu", "ja-centre")


@pytest.mark.parametrize(
    ("command", "code", "words"),
    [
        (publish(actor=AUDITOR), "forbidden", "审计员为只读角色"),
        (publish(actor=Actor(id="jj-broker-chen", role=Role.BROKER, centre_id="jj-centre")), "forbidden", "ja-broker-liu"),
        (publish(actor=Actor(id="jj-m", role=Role.MANAGER, centre_id="jj-centre")), "forbidden", "无权操作"),
        (publish(stage=Stage.BROKERING), "wrong_stage", "需求挖掘"),
        (publish(deadline=T0 - timedelta(hours=1)), "deadline_past", "应晚于现在"),
        (publish(deadline=T0 + timedelta(days=400)), "deadline_too_far", "最长 366 天"),
    ],
)
def test_a_publish_is_refused_with_what_is_allowed(command: PublishOpenCall, code: str, words: str) -> None:
    error = refusal(initial_state(), command, at(0))
    assert error.code == code and words in error.message


def test_the_deals_manager_and_the_hub_may_publish_too() -> None:
    manager = Actor(id="ja-manager", role=Role.MANAGER, centre_id="ja-centre")
    for actor in (manager, HUB_ADMIN):
        assert fold(decide(initial_state(), publish(actor=actor), at(0))).status == OpenCallStatus.OPEN


@pytest.mark.parametrize(
    ("offer", "words"),
    [
        (bid(trl=5), "成果技术就绪度 5 低于要求的 6"),
        (bid(region="440300"), "成果所在地区 440300 不在要求的地区 360000 之内"),
        (bid(kind=InstitutionKind.ENTERPRISE), "单位类型为企业，不在允许的类型之内"),
    ],
)
def test_an_unqualified_bid_is_told_what_failed_and_what_the_call_requires(offer: Bid, words: str) -> None:
    error = refusal(published(), SubmitBid(command_id="b", actor=JGSU, bid=offer), at(1))
    assert error.code == "not_qualified" and words in error.message
    assert "本榜要求：单位类型：高校；技术就绪度 ≥ 6；所在地区：360000" in error.message


def test_bids_are_numbered_until_the_deadline_and_refused_from_it_on() -> None:
    state = fold(decide(published(), SubmitBid(command_id="b1", actor=JGSU, bid=bid()), at(1)), published())
    assert [b.bid_id for b in state.bids] == ["B1"]
    again = refusal(state, SubmitBid(command_id="b2", actor=JGSU, bid=bid()), at(2))
    assert again.code == "already_bid"
    late = refusal(state, SubmitBid(command_id="b3", actor=JGSU, bid=bid(n=2)), at(10))  # exactly at the deadline
    assert late.code == "open_call_closed" and late.message.startswith("揭榜已于 2026年03月12日 09:00（北京时间）截止")


def test_only_the_owning_centre_bids_with_an_achievement() -> None:
    other = Actor(id="jxau-manager", role=Role.MANAGER, centre_id="jxau")
    error = refusal(published(), SubmitBid(command_id="b", actor=other, bid=bid()), at(1))
    assert error.code == "forbidden" and "属于中心 jgsu" in error.message


def test_an_auditor_may_not_bid() -> None:
    auditor = Actor(id="auditor-zhao", role=Role.AUDITOR)
    error = refusal(published(), SubmitBid(command_id="b", actor=auditor, bid=bid()), at(1))
    assert error.code == "forbidden" and "审计员为只读角色" in error.message


def test_the_timer_closes_only_at_the_deadline_and_selection_waits_for_it() -> None:
    state = published()
    assert refusal(state, CloseOpenCall(command_id="t", actor=TIMER), at(9)).code == "not_due"
    assert refusal(state, SelectWinner(command_id="s", actor=BROKER, bid_id="B1"), at(9)).code == "open_call_open"
    state = fold(decide(state, SubmitBid(command_id="b1", actor=JGSU, bid=bid()), at(1)), state)
    state = fold(decide(state, CloseOpenCall(command_id="t", actor=TIMER), at(10)), state)
    assert state.status == OpenCallStatus.CLOSED and not state.closed_early
    assert refusal(state, SelectWinner(command_id="s", actor=AUDITOR, bid_id="B1"), at(11)).code == "forbidden"
    assert refusal(state, SelectWinner(command_id="s", actor=BROKER, bid_id="B7"), at(11)).code == "unknown_bid"
    (event,) = decide(state, SelectWinner(command_id="s", actor=BROKER, bid_id="B1"), OpenCallContext(now=T0, deal_seq=12))
    assert isinstance(event.payload, WinnerSelected) and event.payload.deal_seq == 12
    state = fold([event], state)
    assert state.status == OpenCallStatus.AWARDED and state.winner_bid_id == "B1"
    assert refusal(state, SelectWinner(command_id="s2", actor=BROKER, bid_id="B1"), at(12)).code == "already_awarded"


def test_region_scopes_follow_the_code_hierarchy() -> None:
    assert region_contains("360000", "360802") and region_contains("360800", "360802")
    assert not region_contains("360800", "360100") and not region_contains("360000", "440300")
    assert region_contains("360802", "360802") and not region_contains("360802", "360803")


def test_a_closed_call_lapses_only_by_the_timer_after_the_selection_period() -> None:
    state = fold(decide(published(), CloseOpenCall(command_id="t", actor=TIMER), at(10)), published())
    assert refusal(state, LapseOpenCall(command_id="l", actor=TIMER), at(99)).code == "not_due"
    assert refusal(state, LapseOpenCall(command_id="l", actor=BROKER), at(101)).code == "forbidden"
    state = fold(decide(state, LapseOpenCall(command_id="l", actor=TIMER), at(100)), state)
    assert state.status == OpenCallStatus.LAPSED
    error = refusal(state, SelectWinner(command_id="s", actor=BROKER, bid_id="B1"), at(101))
    assert error.code == "open_call_lapsed" and "90 天内未选定" in error.message
