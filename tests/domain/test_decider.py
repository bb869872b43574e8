"""Every stage of a deal through the pure decider, and every guard a broker relies on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.actors import TIMER, Actor, Role
from domain.commands import (
    AcceptMatch,
    AgreeTerms,
    ExtendDeadline,
    FailNegotiation,
    FireLadderStep,
    LapseDeal,
    ProposeCandidates,
    ReassignBroker,
    RecordCommitment,
    RegisterContract,
    ShortlistCandidate,
    SignContract,
    ValidateDemand,
    WaiveFinancing,
    WithdrawDeal,
)
from domain.decider import allowed_commands, next_due
from domain.errors import DomainError
from domain.events import DeclineReason, Instrument, Side
from domain.parties import Broker
from domain.sla import LadderStep
from domain.stages import Stage
from tests.domain.harness import PureDeal
from tests.factories import (
    AUDITOR,
    EXAMPLE_FILES,
    PARTNER,
    T0,
    broker_of,
    candidates,
    contract,
    manager_of,
    open_command,
    terms,
)

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)


def opened(path=FUZHOU) -> tuple[PureDeal, Actor]:  # type: ignore[no-untyped-def]
    deal = PureDeal()
    cmd = open_command(path)
    deal.run(cmd, T0)
    return deal, broker_of(cmd)


def to_brokering(deal: PureDeal, broker: Actor) -> None:
    deal.run(ValidateDemand(command_id="v", actor=broker), T0)
    deal.run(ProposeCandidates(command_id="p", actor=broker, candidates=candidates(1, 2)), T0)
    deal.run(ShortlistCandidate(command_id="s", actor=broker, achievement_id="ACH-0001"), T0)
    deal.run(AcceptMatch(command_id="ae", actor=broker, achievement_id="ACH-0001", side=Side.ENTERPRISE), T0)
    deal.run(AcceptMatch(command_id="ao", actor=broker, achievement_id="ACH-0001", side=Side.OWNER), T0)


def rejected(deal: PureDeal, command, code: str) -> DomainError:  # type: ignore[no-untyped-def]
    before = (deal.state, list(deal.events))
    with pytest.raises(DomainError) as info:
        deal.run(command, T0)
    assert info.value.code == code, info.value
    assert (deal.state, deal.events) == before  # a refusal changes nothing
    return info.value


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_each_example_deal_goes_from_demand_to_signed(path) -> None:  # type: ignore[no-untyped-def]
    deal, broker = opened(path)
    assert deal.state.stage == Stage.DEMAND_MINING
    assert [e.type for e in deal.events] == ["DealOpened", "StageEntered"]
    assert deal.events[1].payload.plan is not None  # type: ignore[union-attr]
    to_brokering(deal, broker)
    assert deal.state.stage == Stage.BROKERING and deal.state.match is not None
    deal.run(AgreeTerms(command_id="t", actor=broker, terms=terms()), T0)
    assert deal.state.stage == Stage.FINANCING
    need = deal.state.financing_need_fen
    if need:
        deal.run(
            RecordCommitment(
                command_id="c1",
                actor=PARTNER,
                investor="江西省信用融资担保集团",
                instrument=Instrument.GUARANTEE,
                amount_fen=need // 2,
            ),
            T0,
        )
        assert deal.state.stage == Stage.FINANCING  # half the need is not enough
        deal.run(
            RecordCommitment(
                command_id="c2", actor=broker, investor="九江银行", instrument=Instrument.LOAN, amount_fen=need - need // 2
            ),
            T0,
        )
        assert deal.state.committed_fen == need
    else:
        deal.run(WaiveFinancing(command_id="w", actor=broker, reason="委托研究经费由企业自筹"), T0)
    assert deal.state.stage == Stage.SIGNING
    deal.run(SignContract(command_id="sign", actor=broker, contract=contract()), T0)
    deal.run(RegisterContract(command_id="reg", actor=PARTNER, registration_number="2026360000000123"), T0)
    assert deal.state.stage == Stage.SIGNED and deal.state.registration_number == "2026360000000123"
    assert [e.seq for e in deal.events] == list(range(1, len(deal.events) + 1))
    assert allowed_commands(deal.state) == []


def test_nothing_is_accepted_after_a_terminal_state() -> None:
    deal, broker = opened()
    deal.run(WithdrawDeal(command_id="w", actor=broker, reason="企业转产"), T0)
    assert deal.state.stage == Stage.WITHDRAWN
    err = rejected(deal, ValidateDemand(command_id="v", actor=broker), "deal_closed")
    assert "已撤回" in err.message


def test_commands_in_the_wrong_stage_name_the_stage() -> None:
    deal, broker = opened()
    err = rejected(deal, AgreeTerms(command_id="t", actor=broker, terms=terms()), "wrong_stage")
    assert "经纪服务" in err.message and "需求挖掘" in err.message


def test_no_signing_without_match_and_terms_and_no_double_signing() -> None:
    deal, broker = opened()
    to_brokering(deal, broker)
    deal.run(AgreeTerms(command_id="t", actor=broker, terms=terms()), T0)
    deal.run(WaiveFinancing(command_id="w", actor=broker, reason="无需融资"), T0)
    deal.run(SignContract(command_id="s1", actor=broker, contract=contract()), T0)
    rejected(deal, SignContract(command_id="s2", actor=broker, contract=contract()), "already_signed")


def test_registration_needs_a_signed_contract() -> None:
    deal, broker = opened()
    to_brokering(deal, broker)
    deal.run(AgreeTerms(command_id="t", actor=broker, terms=terms()), T0)
    deal.run(WaiveFinancing(command_id="w", actor=broker, reason="无需融资"), T0)
    rejected(deal, RegisterContract(command_id="r", actor=PARTNER, registration_number="X1"), "contract_not_signed")


def test_match_needs_both_sides_and_a_shortlisted_candidate() -> None:
    deal, broker = opened()
    deal.run(ValidateDemand(command_id="v", actor=broker), T0)
    deal.run(ProposeCandidates(command_id="p", actor=broker, candidates=candidates(1, 2)), T0)
    rejected(deal, AcceptMatch(command_id="a", actor=broker, achievement_id="ACH-0001", side=Side.OWNER), "not_shortlisted")
    rejected(deal, ShortlistCandidate(command_id="s", actor=broker, achievement_id="ACH-0099"), "unknown_candidate")
    deal.run(ShortlistCandidate(command_id="s", actor=broker, achievement_id="ACH-0001"), T0)
    deal.run(AcceptMatch(command_id="a", actor=broker, achievement_id="ACH-0001", side=Side.OWNER), T0)
    assert deal.state.stage == Stage.MATCHING  # one side is not a match
    rejected(deal, AcceptMatch(command_id="a2", actor=broker, achievement_id="ACH-0001", side=Side.OWNER), "already_accepted")
    assert "AgreeTerms" not in allowed_commands(deal.state)


def test_negotiation_failure_goes_back_to_matching_with_a_structured_reason() -> None:
    deal, broker = opened()
    to_brokering(deal, broker)
    deal.run(FailNegotiation(command_id="f", actor=broker, reason=DeclineReason.PRICE, note="报价超出预算"), T0)
    assert deal.state.stage == Stage.MATCHING
    assert deal.state.match is None
    assert deal.state.rejections[-1].reason == DeclineReason.PRICE
    rejected(deal, AgreeTerms(command_id="t", actor=broker, terms=terms()), "wrong_stage")


def test_financing_leaves_only_when_covered_or_waived() -> None:
    deal, broker = opened()
    to_brokering(deal, broker)
    deal.run(AgreeTerms(command_id="t", actor=broker, terms=terms()), T0)
    deal.run(RecordCommitment(command_id="c", actor=broker, investor="基金", instrument=Instrument.EQUITY, amount_fen=1), T0)
    assert deal.state.stage == Stage.FINANCING
    rejected(
        deal,
        RecordCommitment(command_id="z", actor=broker, investor="基金", instrument=Instrument.EQUITY, amount_fen=0),
        "amount_not_positive",
    )
    rejected(deal, SignContract(command_id="s", actor=broker, contract=contract()), "wrong_stage")


def test_who_may_do_what() -> None:
    deal, broker = opened()
    cmd = open_command(FUZHOU)
    stranger = Actor(id="someone-else", role=Role.BROKER, centre_id=cmd.centre.centre_id)
    other_manager = Actor(id="m2", role=Role.MANAGER, centre_id="jj-centre")
    err = rejected(deal, ValidateDemand(command_id="v", actor=stranger), "forbidden")
    assert "王磊" in err.message and "someone-else" in err.message
    rejected(deal, ValidateDemand(command_id="v", actor=AUDITOR), "forbidden")
    rejected(deal, ExtendDeadline(command_id="e", actor=broker, working_days=3, reason="r"), "forbidden")
    rejected(deal, ExtendDeadline(command_id="e", actor=other_manager, working_days=3, reason="r"), "forbidden")
    rejected(deal, FireLadderStep(command_id="f", actor=broker, step=LadderStep.REMINDER_50), "forbidden")
    assert allowed_commands(deal.state, AUDITOR) == []
    assert "ExtendDeadline" in allowed_commands(deal.state, manager_of(cmd))
    assert "ExtendDeadline" not in allowed_commands(deal.state, broker)


def test_reassignment_hands_the_deal_to_the_new_broker() -> None:
    deal, broker = opened()
    cmd = open_command(FUZHOU)
    new = Broker(broker_id="hub-broker-li", name="李强", centre_id="hub")
    deal.run(ReassignBroker(command_id="r", actor=manager_of(cmd), broker=new, reason="原经纪人休假"), T0)
    rejected(deal, ValidateDemand(command_id="v", actor=broker), "forbidden")
    deal.run(ValidateDemand(command_id="v", actor=Actor(id="hub-broker-li", role=Role.BROKER, centre_id="hub")), T0)
    rejected(
        deal,
        ReassignBroker(
            command_id="r2", actor=manager_of(cmd), broker=Broker(broker_id="x", name="x", centre_id="jj-centre"), reason="r"
        ),
        "broker_not_in_centre",
    )


def test_ladder_fires_in_order_only_when_due_and_once() -> None:
    deal, _ = opened()
    plan = deal.state.plan
    assert plan is not None
    due = next_due(deal.state)
    assert due is not None and due.step == LadderStep.REMINDER_50
    early = plan.due_at(LadderStep.REMINDER_50) - timedelta(seconds=1)
    with pytest.raises(DomainError, match="尚未到期"):
        deal.run(FireLadderStep(command_id="f", actor=TIMER, step=LadderStep.REMINDER_50), early)
    for step in LadderStep:
        deal.run(FireLadderStep(command_id=f"f-{step}", actor=TIMER, step=step), plan.due_at(step))
    assert deal.state.escalation_level == 2
    assert [e.type for e in deal.events[-4:]] == ["ReminderSent", "ReminderSent", "Escalated", "Escalated"]
    with pytest.raises(DomainError) as info:
        deal.run(
            FireLadderStep(command_id="again", actor=TIMER, step=LadderStep.ESCALATE_HUB), plan.due_at(LadderStep.ESCALATE_HUB)
        )
    assert info.value.code == "step_already_fired"
    assert next_due(deal.state).step is None  # type: ignore[union-attr]  # only the lapse is left


def test_an_extension_moves_the_remaining_steps_and_a_new_stage_resets_the_ladder() -> None:
    deal, broker = opened()
    cmd = open_command(FUZHOU)
    first = deal.state.plan
    assert first is not None
    deal.run(FireLadderStep(command_id="f", actor=TIMER, step=LadderStep.REMINDER_50), first.due_at(LadderStep.REMINDER_50))
    deal.run(ExtendDeadline(command_id="e", actor=manager_of(cmd), working_days=5, reason="企业补充资料"), T0)
    moved = deal.state.plan
    assert moved is not None and moved.extra_working_days == 5
    assert moved.due_at(LadderStep.ESCALATE_MANAGER) > first.due_at(LadderStep.ESCALATE_MANAGER)
    assert deal.state.fired_steps == (LadderStep.REMINDER_50,)  # what fired stays fired
    deal.run(ValidateDemand(command_id="v", actor=broker), T0)
    assert deal.state.fired_steps == () and deal.state.extension_working_days == 0


def test_lapse_only_after_the_inactivity_period() -> None:
    deal, _ = opened()
    with pytest.raises(DomainError, match="无活动"):
        deal.run(LapseDeal(command_id="l", actor=TIMER, inactive_days=1), T0 + timedelta(days=1))
    assert deal.state.plan is not None
    for step in LadderStep:  # timers alone are not activity
        deal.run(FireLadderStep(command_id=f"f-{step}", actor=TIMER, step=step), deal.state.plan.due_at(step))
    later = T0 + timedelta(days=deal.state.plan.inactivity_lapse_days)
    deal.run(LapseDeal(command_id="l", actor=TIMER, inactive_days=180), later)
    assert deal.state.stage == Stage.LAPSED
