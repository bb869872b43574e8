"""Financing applications, partner answers, commitments, the full contract and its registration, in the pure decider."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from domain.actors import TIMER, Actor
from domain.commands import (
    AgreeTerms,
    ApplyForFinancing,
    ExpireCommitment,
    FireLadderStep,
    FirePartnerLadderStep,
    RecordDelivery,
    RecordPartnerAnswer,
    SignTechnologyContract,
    SubmitRegistration,
)
from domain.decider import allowed_commands, next_due
from domain.events import Instrument
from domain.partners import Decision, PartnerAnswer, PartnerKind, RequestStatus, Signature, TechnologyContract
from domain.sla import LadderStep
from domain.stages import Stage
from tests.domain.harness import PureDeal
from tests.domain.test_decider import opened, rejected, to_brokering
from tests.factories import EXAMPLE_FILES, HUB_ADMIN, PARTNER, T0, open_command, technology_contract, terms

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)
JIAN = next(p for p in EXAMPLE_FILES if "jian" in p.name)
NEED = 5_000_000_000  # the Fuzhou deal needs 50,000,000 yuan


def in_financing() -> tuple[PureDeal, Actor]:
    deal, broker = opened(FUZHOU)
    to_brokering(deal, broker)
    deal.run(AgreeTerms(command_id="t", actor=broker, terms=terms()), T0)
    assert deal.state.stage == Stage.FINANCING
    return deal, broker


def apply(deal: PureDeal, broker: Actor, app_id: str, partner: str, kind: PartnerKind, amount: int) -> None:
    deal.run(
        ApplyForFinancing(
            command_id=f"apply-{app_id}",
            actor=broker,
            application_id=app_id,
            partner_id=partner,
            partner_kind=kind,
            instrument=Instrument.GUARANTEE if kind == PartnerKind.GUARANTEE else Instrument.LOAN,
            amount_fen=amount,
        ),
        T0,
    )


def answer(request_id: str, partner: str, decision: Decision, answer_id: str, **fields) -> RecordPartnerAnswer:  # type: ignore[no-untyped-def]
    if decision == Decision.COMMITTED:
        fields.setdefault("instrument", Instrument.LOAN)
    a = PartnerAnswer(answer_id=answer_id, partner_id=partner, request_id=request_id, decision=decision, **fields)
    return RecordPartnerAnswer(command_id=f"answer:{partner}:{answer_id}", actor=PARTNER, answer=a)


def three_applications(deal: PureDeal, broker: Actor) -> None:
    apply(deal, broker, "A-bank", "jxbank", PartnerKind.BANK, 2_000_000_000)
    apply(deal, broker, "A-guar", "jxguarantee", PartnerKind.GUARANTEE, 2_000_000_000)
    apply(deal, broker, "A-fund", "jxfund", PartnerKind.FUND, 1_000_000_000)


def test_answers_out_of_order_and_twice_record_each_commitment_once_and_leave_financing_when_covered() -> None:
    deal, broker = in_financing()
    three_applications(deal, broker)
    plan = deal.state.partner_request("A-fund").answer_plan  # type: ignore[union-attr]
    assert plan is not None and plan.budget_working_days == 15  # a fund answers within 15 working days (rules)
    # The fund answers first, the bank answers twice, the guarantee firm last.
    deal.run(answer("A-fund", "jxfund", Decision.COMMITTED, "f1", amount_fen=1_000_000_000, instrument=Instrument.EQUITY), T0)
    deal.run(answer("A-bank", "jxbank", Decision.COMMITTED, "b1", amount_fen=2_000_000_000), T0)
    rejected(deal, answer("A-bank", "jxbank", Decision.COMMITTED, "b1", amount_fen=2_000_000_000), "duplicate_answer")
    assert deal.state.stage == Stage.FINANCING and deal.state.committed_fen == 3_000_000_000
    deal.run(
        answer("A-guar", "jxguarantee", Decision.COMMITTED, "g1", amount_fen=2_000_000_000, instrument=Instrument.GUARANTEE), T0
    )
    assert deal.state.committed_fen == NEED
    assert deal.state.stage == Stage.SIGNING
    recorded = [e.payload.request_id for e in deal.events if e.type == "CommitmentRecorded"]  # type: ignore[union-attr]
    assert sorted(recorded) == ["A-bank", "A-fund", "A-guar"]


def test_an_answer_for_another_partners_application_or_an_unknown_one_is_refused() -> None:
    deal, broker = in_financing()
    three_applications(deal, broker)
    rejected(deal, answer("A-bank", "jxfund", Decision.DECLINED, "x1"), "wrong_partner")
    rejected(deal, answer("A-nope", "jxbank", Decision.DECLINED, "x2"), "unknown_request")
    rejected(deal, answer("A-bank", "jxbank", Decision.REGISTERED, "x3", registration_number="N1"), "wrong_decision")


def test_a_commitment_can_be_withdrawn_in_financing_but_not_after_the_deal_left_it() -> None:
    deal, broker = in_financing()
    three_applications(deal, broker)
    deal.run(answer("A-bank", "jxbank", Decision.COMMITTED, "b1", amount_fen=2_000_000_000), T0)
    deal.run(answer("A-bank", "jxbank", Decision.WITHDRAWN, "b2", message="授信额度调整"), T0)
    assert deal.state.committed_fen == 0 and deal.state.firm_commitments == ()
    rejected(deal, answer("A-bank", "jxbank", Decision.WITHDRAWN, "b3"), "no_commitment")
    deal.run(answer("A-guar", "jxguarantee", Decision.COMMITTED, "g1", amount_fen=NEED), T0)
    assert deal.state.stage == Stage.SIGNING
    rejected(deal, answer("A-guar", "jxguarantee", Decision.WITHDRAWN, "g2"), "too_late_to_withdraw")


def test_an_expired_commitment_reopens_the_gap_and_financing_with_a_new_ladder() -> None:
    deal, broker = in_financing()
    three_applications(deal, broker)
    expires = T0 + timedelta(days=3)
    deal.run(answer("A-bank", "jxbank", Decision.COMMITTED, "b1", amount_fen=2_000_000_000, expires_at=expires), T0)
    deal.run(answer("A-guar", "jxguarantee", Decision.COMMITTED, "g1", amount_fen=3_000_000_000), T0)
    assert deal.state.stage == Stage.SIGNING
    due = next_due(deal.state)
    assert due is not None and (due.at, due.request_id, due.expiry) == (expires, "A-bank", True)
    rejected(deal, ExpireCommitment(command_id="e0", actor=TIMER, request_id="A-bank"), "not_expired")
    later = expires + timedelta(minutes=1)
    deal.run(ExpireCommitment(command_id="e1", actor=TIMER, request_id="A-bank"), later)
    assert deal.state.committed_fen == 3_000_000_000
    assert deal.state.stage == Stage.FINANCING
    assert deal.state.plan is not None and deal.state.plan.started_at == later  # the SLA ladder starts again
    assert [e.type for e in deal.events[-2:]] == ["CommitmentExpired", "StageEntered"]


def test_an_unanswered_application_climbs_its_own_ladder() -> None:
    deal, broker = in_financing()
    apply(deal, broker, "A-bank", "jxbank", PartnerKind.BANK, 1_000_000_000)
    deal.run(RecordDelivery(command_id="d", actor=PARTNER, request_id="A-bank", partner_reference="BANK-77"), T0)
    assert deal.state.partner_request("A-bank").status == RequestStatus.DELIVERED  # type: ignore[union-attr]
    # The stage's own 50 % reminder falls on the same day here; it goes first, then the bank's.
    deal.run(FireLadderStep(command_id="stage-50", actor=TIMER, step=LadderStep.REMINDER_50), T0 + timedelta(days=5))
    due = next_due(deal.state)
    assert due is not None and due.request_id == "A-bank" and due.step == LadderStep.REMINDER_50
    assert due.at == T0 + timedelta(days=5)  # 50 % of the bank's 10 days (plain days in this test)
    rejected(
        deal, FirePartnerLadderStep(command_id="f", actor=TIMER, request_id="A-bank", step=LadderStep.REMINDER_50), "step_not_due"
    )
    seen = []
    for step in LadderStep:
        at = deal.state.partner_request("A-bank").answer_plan.due_at(step)  # type: ignore[union-attr]
        (event,) = deal.run(FirePartnerLadderStep(command_id=f"f-{step}", actor=TIMER, request_id="A-bank", step=step), at)
        seen.append((event.payload.level, event.payload.recipient_id))  # type: ignore[union-attr]
    assert seen == [(0, broker.id), (0, broker.id), (1, "hub"), (2, "hub")]
    assert deal.state.escalation_level == 2
    # An answer closes the request's ladder: nothing of it is due any more.
    deal.run(answer("A-bank", "jxbank", Decision.DECLINED, "b1", message="不符合授信条件"), T0 + timedelta(days=30))
    due = next_due(deal.state)
    assert due is None or due.request_id is None


def test_a_refused_delivery_keeps_the_partners_message_and_stops_waiting() -> None:
    deal, broker = in_financing()
    apply(deal, broker, "A-bank", "jxbank", PartnerKind.BANK, 1_000_000_000)
    deal.run(
        RecordDelivery(command_id="d", actor=PARTNER, request_id="A-bank", status_code=422, partner_message="企业征信授权缺失"),
        T0,
    )
    request = deal.state.partner_request("A-bank")
    assert request is not None and request.status == RequestStatus.REFUSED and request.partner_message == "企业征信授权缺失"
    assert deal.events[-1].payload.status_code == 422  # type: ignore[union-attr]


def test_application_guards() -> None:
    deal, broker = in_financing()
    apply(deal, broker, "A-bank", "jxbank", PartnerKind.BANK, 1)
    cmd = ApplyForFinancing(
        command_id="x",
        actor=broker,
        application_id="A-bank",
        partner_id="jxbank",
        partner_kind=PartnerKind.BANK,
        instrument=Instrument.LOAN,
        amount_fen=5,
    )
    rejected(deal, cmd, "duplicate_request")
    rejected(deal, cmd.model_copy(update={"application_id": "A2", "amount_fen": 0}), "amount_not_positive")
    rejected(
        deal, cmd.model_copy(update={"application_id": "A3", "partner_kind": PartnerKind.REGISTRATION_OFFICE}), "not_an_investor"
    )
    rejected(deal, cmd.model_copy(update={"application_id": "A4", "actor": PARTNER}), "forbidden")
    # Nobody but the partner path may record an answer or a delivery: not the broker, not the hub.
    forged = answer("A-bank", "jxbank", Decision.COMMITTED, "b1", amount_fen=5)
    for person in (broker, HUB_ADMIN):
        rejected(deal, forged.model_copy(update={"actor": person}), "forbidden")
        rejected(deal, RecordDelivery(command_id="d", actor=person, request_id="A-bank", partner_reference="x"), "forbidden")
    assert "RecordPartnerAnswer" not in allowed_commands(deal.state) and "ApplyForFinancing" in allowed_commands(
        deal.state, broker
    )


# ------------------------------------------------------------------------------------------- signing


def in_signing(path=JIAN) -> tuple[PureDeal, Actor]:  # type: ignore[no-untyped-def]
    deal, broker = opened(path)
    to_brokering(deal, broker)
    deal.run(AgreeTerms(command_id="t", actor=broker, terms=terms()), T0)
    if deal.state.stage == Stage.FINANCING:
        from domain.commands import WaiveFinancing

        deal.run(WaiveFinancing(command_id="w", actor=broker, reason="企业自筹"), T0)
    assert deal.state.stage == Stage.SIGNING
    return deal, broker


def sign(deal: PureDeal, broker: Actor, path=JIAN, value: int = 50_000_000, no: str = "HT-1") -> None:  # type: ignore[no-untyped-def]
    contract = technology_contract(open_command(path), value_fen=value, contract_no=no)
    deal.run(SignTechnologyContract(command_id=f"sign-{no}", actor=broker, contract=contract), T0)


def submit(deal: PureDeal, broker: Actor, sid: str) -> None:
    deal.run(SubmitRegistration(command_id=f"submit-{sid}", actor=broker, submission_id=sid, partner_id="jxregistry"), T0)


def test_the_contract_needs_both_parties_codes_signatures_and_a_schedule_that_adds_up() -> None:
    good = technology_contract(open_command(JIAN))
    data = good.model_dump()
    with pytest.raises(ValidationError, match="双方各签署"):
        TechnologyContract.model_validate({**data, "signatures": data["signatures"][:1]})
    with pytest.raises(ValidationError, match="付款计划合计"):
        TechnologyContract.model_validate({**data, "total_value_fen": good.total_value_fen + 1})
    with pytest.raises(ValidationError, match="校验位"):
        TechnologyContract.model_validate(
            {**data, "parties": [{**data["parties"][0], "credit_code": "91360800MA35XXXX0X"}, data["parties"][1]]}
        )
    late = Signature(role=good.signatures[0].role, signatory="x", signed_on=good.signed_on + timedelta(days=1))
    with pytest.raises(ValidationError, match="晚于合同签订日期"):
        TechnologyContract.model_validate({**data, "signatures": [late.model_dump(), data["signatures"][1]]})
    deal, broker = in_signing()
    other = technology_contract(open_command(FUZHOU))  # the enterprise of another deal
    rejected(deal, SignTechnologyContract(command_id="s", actor=broker, contract=other), "wrong_party")


def test_registration_correction_loop_then_registered_is_signed() -> None:
    deal, broker = in_signing()
    rejected(
        deal,
        SubmitRegistration(command_id="s0", actor=broker, submission_id="R1", partner_id="jxregistry"),
        "contract_not_signed",
    )
    sign(deal, broker)
    submit(deal, broker, "R1")
    submitted = deal.events[-1].payload
    assert submitted.expert_review is False and submitted.resubmission is False  # type: ignore[union-attr]
    assert submitted.answer_plan.budget_working_days == 5  # type: ignore[union-attr]
    rejected(
        deal, SubmitRegistration(command_id="s1", actor=broker, submission_id="R2", partner_id="jxregistry"), "submission_pending"
    )
    deal.run(answer("R1", "jxregistry", Decision.CORRECTION_REQUESTED, "o1", reason_codes=("payment_schedule_missing",)), T0)
    assert deal.state.registration_state == "correction_requested"
    assert "SubmitRegistration" not in allowed_commands(deal.state, broker)
    rejected(
        deal, SubmitRegistration(command_id="s2", actor=broker, submission_id="R2", partner_id="jxregistry"), "correction_needed"
    )
    sign(deal, broker, no="HT-1-rev1")
    later = T0 + timedelta(days=7)
    deal.run(SubmitRegistration(command_id="s3", actor=broker, submission_id="R2", partner_id="jxregistry"), later)
    resubmitted = deal.events[-1].payload
    assert resubmitted.resubmission is True  # type: ignore[union-attr]
    assert resubmitted.answer_plan.started_at == later  # type: ignore[union-attr]  # the office's clock restarts
    assert deal.state.stage == Stage.SIGNING
    deal.run(answer("R2", "jxregistry", Decision.REGISTERED, "o2", registration_number="2026360800000123"), later)
    assert deal.state.stage == Stage.SIGNED
    assert deal.state.registration_number == "2026360800000123"
    assert deal.state.contract is not None and deal.state.contract.signed_on == date(2026, 12, 1)


def test_a_refusal_keeps_the_reasons_and_the_deal_stays_in_signing() -> None:
    deal, broker = in_signing()
    sign(deal, broker)
    submit(deal, broker, "R1")
    deal.run(
        answer("R1", "jxregistry", Decision.REFUSED, "o1", reason_codes=("restrictive_clauses",), message="第七条限制乙方改进"),
        T0,
    )
    assert deal.state.stage == Stage.SIGNING
    assert deal.state.registration_state == "refused" and deal.state.registration_reasons == ("restrictive_clauses",)
    rejected(deal, answer("R1", "jxregistry", Decision.REGISTERED, "o2", registration_number="N"), "already_answered")


def test_a_contract_of_five_million_yuan_goes_to_expert_review_with_its_longer_deadline() -> None:
    deal, broker = in_signing()
    sign(deal, broker, value=500_000_000)  # exactly 5,000,000 yuan
    submit(deal, broker, "R1")
    submitted = deal.events[-1].payload
    assert submitted.expert_review is True  # type: ignore[union-attr]
    assert submitted.answer_plan.budget_working_days == 20  # type: ignore[union-attr]
    deal2, broker2 = in_signing()
    sign(deal2, broker2, value=499_999_999)
    submit(deal2, broker2, "R1")
    assert deal2.events[-1].payload.expert_review is False  # type: ignore[union-attr]
