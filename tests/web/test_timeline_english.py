"""Every event type of a deal and of a roadshow has its English timeline line, with English names, money and dates.

The samples cover each payload type of `domain.events.EventPayload` and `domain.roadshow.RoadshowEventPayload`; a new
event type without a sample here fails, and a sample whose English line falls back to the type name, or still has
Chinese words that are not the event's own data (what people typed), fails too.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from domain import events as ev
from domain import roadshow as rs
from domain.actors import ROADSHOW, TIMER, Actor, Role
from domain.parties import ContractType, TransferMode
from domain.partners import Instrument, PartnerKind
from domain.sla import LadderStep
from domain.stages import Stage
from tests.factories import (
    EXAMPLE_FILES,
    PARTNER,
    T0,
    broker_of,
    candidates,
    contract,
    open_command,
    simple_plan,
    technology_contract,
    terms,
)
from web.timeline import roadshow_what, roadshow_what_en, what, what_en, who, who_en

CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
OPEN = open_command(EXAMPLE_FILES[0])
BROKER = broker_of(OPEN)
EXPIRES = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 1 Jan 2027 in Beijing
PLAN = simple_plan(Stage.FINANCING, T0)
EQUITY_COMMITMENT = ev.CommitmentRecorded(
    request_id="FA-1",
    answer_id="A2",
    partner_id="jxbank",
    instrument=Instrument.EQUITY,
    amount_fen=5_000_000_00,
    conditions="完成中试",
    expires_at=EXPIRES,
)

DEAL_SAMPLES: list[Any] = [
    ev.DealOpened(demand=OPEN.demand, broker=OPEN.broker, centre=OPEN.centre),
    *(ev.StageEntered(stage=s, previous=None, plan=None) for s in Stage),
    ev.DemandValidated(note="企业已确认指标"),
    ev.DemandValidated(),
    ev.CandidatesProposed(candidates=candidates(1, 2), source="broker"),
    ev.CandidateShortlisted(achievement_id="ACH-0001"),
    *(ev.CandidateRejected(achievement_id="ACH-0002", reason=r) for r in ev.DeclineReason),
    *(ev.MatchAccepted(achievement_id="ACH-0001", side=s) for s in ev.Side),
    *(ev.TermsAgreed(terms=terms().model_copy(update={"transfer_mode": m})) for m in TransferMode),
    ev.NegotiationFailed(achievement_id="ACH-0001", reason=ev.DeclineReason.PRICE, note="报价过高"),
    *(ev.FinancingCommitted(investor="江西银行", instrument=i, amount_fen=1_000_000_00) for i in Instrument),
    ev.FinancingWaived(reason="企业自有资金充足"),
    *(ev.ContractSigned(contract=contract().model_copy(update={"contract_type": t})) for t in ContractType),
    ev.ContractRegistered(registration_number="3608002026000123"),
    ev.DealWithdrawn(reason="企业取消需求"),
    ev.DealLapsed(inactive_days=180, policy_version="sla-2026.1"),
    ev.BrokerReassigned(previous_broker_id="ja-broker-liu", broker=OPEN.broker, reason="工作调整"),
    ev.DeadlineExtended(working_days=5, reason="企业补充检测报告", plan=None),
    *(ev.ReminderSent(stage=Stage.MATCHING, step=s, recipient_id="ja-broker-liu") for s in LadderStep),
    ev.Escalated(stage=Stage.MATCHING, step=LadderStep.ESCALATE_MANAGER, level=1, recipient_centre_id="ja-centre"),
    ev.FinancingApplied(
        application_id="FA-1",
        partner_id="jxbank",
        partner_kind=PartnerKind.BANK,
        instrument=Instrument.LOAN,
        amount_fen=5_000_000_00,
        answer_plan=PLAN,
        rules_version="registration-2026",
    ),
    ev.PartnerRequestDelivered(request_id="FA-1", partner_reference="JXB-77"),
    ev.PartnerRequestRefused(request_id="FA-1", status_code=422, partner_message="材料不全"),
    ev.CommitmentRecorded(
        request_id="FA-1", answer_id="A1", partner_id="jxbank", instrument=Instrument.LOAN, amount_fen=5_000_000_00
    ),
    EQUITY_COMMITMENT,
    ev.FinancingDeclined(request_id="FA-1", answer_id="A3", partner_id="jxfund", message="不符合投资方向"),
    ev.FinancingDeclined(request_id="FA-1", answer_id="A3", partner_id="jxfund"),
    ev.CommitmentWithdrawn(request_id="FA-1", answer_id="A4", partner_id="jxbank", amount_fen=5_000_000_00, message="额度调整"),
    ev.CommitmentExpired(request_id="FA-1", partner_id="jxbank", amount_fen=5_000_000_00, expired_at=EXPIRES),
    ev.PartnerAnswerOverdue(
        request_id="FA-1", partner_id="jxbank", step=LadderStep.REMINDER_80, level=0, recipient_id="ja-broker-liu"
    ),
    ev.TechnologyContractSigned(contract=technology_contract(OPEN)),
    *(
        ev.RegistrationSubmitted(
            submission_id="RS-1",
            partner_id="jxregistry",
            contract_no="HT-2026-0001",
            total_value_fen=6_000_000_00,
            expert_review=expert,
            resubmission=again,
            answer_plan=None,
            rules_version="registration-2026",
        )
        for expert in (False, True)
        for again in (False, True)
    ),
    ev.RegistrationCorrectionRequested(submission_id="RS-1", answer_id="R1", reason_codes=("missing_signature",)),
    ev.RegistrationRefused(submission_id="RS-1", answer_id="R2", reason_codes=("not_technology", "value_mismatch")),
    ev.ContractRegistrationRecorded(submission_id="RS-1", answer_id="R3"),
]

INVESTOR = rs.InvitedInvestor(partner_id="jxbank", name="江西银行", kind=PartnerKind.BANK)
ROADSHOW_SAMPLES: list[Any] = [
    rs.RoadshowScheduled(title="吉安路演", held_on=date(2026, 12, 18), mode=rs.RoadshowMode.ONLINE, venue="", centre_id="hub"),
    rs.RoadshowScheduled(
        title="吉安路演", held_on=date(2026, 12, 18), mode=rs.RoadshowMode.VENUE, venue="吉安市会展中心", centre_id="hub"
    ),
    rs.DealPresented(deal_id="FZ-2026-002"),
    rs.InvestorInvited(investor=INVESTOR),
    *(
        rs.InterestRegistered(
            investor_id="jxbank", deal_id="FZ-2026-002", amount_fen=2_000_000_00, instrument=i, note=n, application_id="RS-A1"
        )
        for i in Instrument
        for n in ("", "需尽调")
    ),
    rs.DueDiligenceRequested(investor_id="jxbank", deal_id="FZ-2026-002", materials=("专利证书", "审计报告")),
    rs.ApplicationForwarded(application_id="RS-A1", deal_id="FZ-2026-002"),
    rs.ApplicationNotForwarded(application_id="RS-A1", deal_id="FZ-2026-002", refusal="案件当前处于签约阶段"),
    rs.RoadshowClosed(note=""),
    rs.RoadshowClosed(note="圆满结束"),
]


def _payload_types(union: Any) -> set[type]:
    (members, _field) = get_args(union)
    return set(get_args(members))


def _typed_texts(value: Any) -> set[str]:
    """The texts inside a payload that people or partners wrote (names, titles, notes); enum names are not data."""
    if isinstance(value, Enum):
        return set()
    if isinstance(value, str):
        return {value}
    if isinstance(value, BaseModel):
        return set().union(*(_typed_texts(getattr(value, f)) for f in type(value).model_fields))
    if isinstance(value, (tuple, list)):
        return set().union(*(_typed_texts(v) for v in value))
    return set()


def _without_data(line: str, payload: Any) -> str:
    for text in sorted(_typed_texts(payload), key=len, reverse=True):
        if text:
            line = line.replace(text, "")
    return line


def _deal_event(payload: Any) -> ev.Event:
    return ev.Event(deal_id="JA-2026-001", seq=3, occurred_at=T0, actor=BROKER, command_id="c", payload=payload)


def _roadshow_event(payload: Any) -> rs.RoadshowEvent:
    return rs.RoadshowEvent(roadshow_id="LY-2026-12", seq=2, occurred_at=T0, actor=BROKER, command_id="c", payload=payload)


def test_every_event_type_has_a_sample() -> None:
    assert _payload_types(ev.EventPayload) - {type(p) for p in DEAL_SAMPLES} == set()
    assert _payload_types(rs.RoadshowEventPayload) - {type(p) for p in ROADSHOW_SAMPLES} == set()


@pytest.mark.parametrize("payload", DEAL_SAMPLES, ids=lambda p: p.type)
def test_a_deal_event_has_an_english_line(payload: Any) -> None:
    event = _deal_event(payload)
    english, chinese = what_en(event), what(event)
    assert english != event.type and chinese != event.type
    assert CHINESE.search(_without_data(english, payload)) is None, english
    if "万元" in chinese:  # money the English way: yuan with two decimals
        assert re.search(r"\d{1,3}(,\d{3})*\.\d\d yuan", english), english


@pytest.mark.parametrize("payload", ROADSHOW_SAMPLES, ids=lambda p: p.type)
def test_a_roadshow_event_has_an_english_line(payload: Any) -> None:
    event = _roadshow_event(payload)
    english, chinese = roadshow_what_en(event), roadshow_what(event)
    assert english != event.type and chinese != event.type
    assert CHINESE.search(_without_data(english, payload)) is None, english
    if "万元" in chinese:
        assert re.search(r"\d{1,3}(,\d{3})*\.\d\d yuan", english), english


def test_examples_of_english_lines() -> None:
    """A few lines exactly, as a reader sees them: names, stages, dates (Beijing) and money the English way."""
    assert what_en(_deal_event(ev.StageEntered(stage=Stage.FINANCING, previous=Stage.BROKERING, plan=None))) == (
        "Entered the stage “Financing”"
    )
    assert what_en(_deal_event(EQUITY_COMMITMENT)) == ("jxbank committed 5,000,000.00 yuan (equity), valid until 1 Jan 2027")
    assert what_en(_deal_event(ev.CandidateRejected(achievement_id="ACH-0002", reason=ev.DeclineReason.IP_UNCLEAR))) == (
        "Achievement ACH-0002 rejected (IP status unclear)"
    )
    assert roadshow_what_en(_roadshow_event(ROADSHOW_SAMPLES[0])) == (
        "Roadshow “吉安路演” scheduled: 18 Dec 2026, online, organised by hub"
    )
    # The record keeps its Chinese line: the API and Chinese pages read this.
    assert what(_deal_event(ev.StageEntered(stage=Stage.FINANCING, previous=None, plan=None))) == "进入「路演融资」阶段"


@pytest.mark.parametrize(
    ("actor", "english"),
    [
        (BROKER, f"Broker {BROKER.id}"),
        (Actor(id="ja-manager", role=Role.MANAGER, centre_id="ja-centre"), "Centre manager ja-manager"),
        (Actor(id="hub-admin", role=Role.HUB_ADMIN, centre_id="hub"), "Provincial hub hub-admin"),
        (Actor(id="auditor-zhao", role=Role.AUDITOR), "Auditor auditor-zhao"),
        (TIMER, "System timer"),
        (PARTNER, "Partner"),
        (ROADSHOW, "Roadshow workflow"),
        (Actor(id="system:matching", role=Role.SYSTEM), "System system:matching"),
    ],
)
def test_who_acted_in_english(actor: Actor, english: str) -> None:
    event = _deal_event(ev.DemandValidated()).model_copy(update={"actor": actor})
    assert who_en(event) == english
    assert CHINESE.search(who(event))  # the Chinese line is unchanged


def test_due_moments_are_beijing_dates() -> None:
    """A commitment valid until 23:59 on 31 Dec in Beijing is shown on that date, not on the UTC date before it."""
    late = EXPIRES - timedelta(hours=8, minutes=1)  # 2026-12-31 07:59 UTC = 15:59 Beijing, same day
    payload = ev.CommitmentRecorded(
        request_id="FA-1", answer_id="A", partner_id="jxbank", instrument=Instrument.LOAN, amount_fen=100, expires_at=late
    )
    assert what_en(_deal_event(payload)).endswith("valid until 31 Dec 2026")
    assert what_en(_deal_event(payload.model_copy(update={"expires_at": EXPIRES}))).endswith("valid until 1 Jan 2027")
