"""The roadshow's own decider: who may schedule it, which investors and deals it carries, what each deal sees."""

from __future__ import annotations

from datetime import date

import pytest

from domain.actors import ROADSHOW, Actor, Role
from domain.errors import DomainError
from domain.partners import Instrument, PartnerKind
from domain.roadshow import (
    PERSON_COMMANDS,
    CloseRoadshow,
    InvitedInvestor,
    InviteInvestor,
    PresentDeal,
    RecordForwarding,
    RegisterInterest,
    RequestDueDiligence,
    RoadshowCommand,
    RoadshowEvent,
    RoadshowMode,
    RoadshowState,
    ScheduleRoadshow,
    allowed_roadshow_commands,
    authorize_schedule,
    deal_view,
    decide_roadshow,
    fold_roadshow,
)
from tests.factories import AUDITOR, HUB_ADMIN, T0

MANAGER = Actor(id="manager-fz", role=Role.MANAGER, centre_id="fz-centre")


def run(state: RoadshowState, command: RoadshowCommand) -> RoadshowState:
    return fold_roadshow(decide_roadshow(state, command, T0), state)


def refused(state: RoadshowState, command: RoadshowCommand, code: str) -> None:
    with pytest.raises(DomainError) as info:
        decide_roadshow(state, command, T0)
    assert info.value.code == code, info.value


def scheduled() -> RoadshowState:
    s = run(
        RoadshowState(),
        ScheduleRoadshow(
            command_id="s",
            actor=HUB_ADMIN,
            roadshow_id="LY-2026-11",
            title="抚州高新区科技成果路演",
            held_on=date(2026, 12, 8),
            mode=RoadshowMode.VENUE,
            venue="抚州高新区科创中心",
            centre_id="hub",
        ),
    )
    for deal in ("FZ-2026-002", "JJ-2026-003"):
        s = run(s, PresentDeal(command_id=f"p-{deal}", actor=HUB_ADMIN, deal_id=deal))
    for pid, kind in (("jxbank", PartnerKind.BANK), ("jxfund", PartnerKind.FUND)):
        s = run(
            s,
            InviteInvestor(command_id=f"i-{pid}", actor=HUB_ADMIN, investor=InvitedInvestor(partner_id=pid, name=pid, kind=kind)),
        )
    return s


def interest(investor: str, deal: str, amount: int) -> RegisterInterest:
    return RegisterInterest(
        command_id=f"{investor}-{deal}",
        actor=HUB_ADMIN,
        investor_id=investor,
        deal_id=deal,
        amount_fen=amount,
        instrument=Instrument.LOAN,
    )


def test_each_deal_sees_only_its_own_interest_and_requests() -> None:
    s = scheduled()
    s = run(s, interest("jxbank", "FZ-2026-002", 300))
    s = run(s, interest("jxbank", "JJ-2026-003", 200))
    s = run(s, interest("jxfund", "FZ-2026-002", 100))
    s = run(
        s,
        RequestDueDiligence(
            command_id="dd", actor=HUB_ADMIN, investor_id="jxfund", deal_id="JJ-2026-003", materials=("专利证书",)
        ),
    )
    fz, jj = deal_view(s, "FZ-2026-002"), deal_view(s, "JJ-2026-003")
    assert sorted((i.investor_id, i.amount_fen) for i in fz.interests) == [("jxbank", 300), ("jxfund", 100)]
    assert [(i.investor_id, i.amount_fen) for i in jj.interests] == [("jxbank", 200)]
    assert fz.due_diligence == () and len(jj.due_diligence) == 1
    assert [i.application_id for i in s.pending_forwarding] == ["LY-2026-11-jxbank"] * 2 + ["LY-2026-11-jxfund"]
    assert deal_view(s, "OTHER").presented is False and deal_view(s, "OTHER").interests == ()


def test_forwarding_outcomes_are_recorded_only_by_the_roadshow_itself() -> None:
    s = run(scheduled(), interest("jxbank", "FZ-2026-002", 300))
    refused(
        s,
        RecordForwarding(command_id="f", actor=HUB_ADMIN, deal_id="FZ-2026-002", application_id="LY-2026-11-jxbank"),
        "forbidden",
    )
    s = run(
        s,
        RecordForwarding(
            command_id="f", actor=ROADSHOW, deal_id="FZ-2026-002", application_id="LY-2026-11-jxbank", refusal="[wrong_stage] …"
        ),
    )
    assert s.pending_forwarding == () and s.interests[0].refusal == "[wrong_stage] …"


def test_roadshow_guards() -> None:
    s = scheduled()
    refused(s, interest("cmbbank", "FZ-2026-002", 1), "not_invited")
    refused(s, interest("jxbank", "JA-2026-001", 1), "not_presented")
    refused(s, interest("jxbank", "FZ-2026-002", 0), "amount_not_positive")
    s2 = run(s, interest("jxbank", "FZ-2026-002", 5))
    refused(s2, interest("jxbank", "FZ-2026-002", 5).model_copy(update={"command_id": "again"}), "already_interested")
    refused(s, PresentDeal(command_id="x", actor=HUB_ADMIN, deal_id="FZ-2026-002"), "already_presented")
    refused(s, PresentDeal(command_id="x", actor=AUDITOR, deal_id="X"), "forbidden")
    refused(s, PresentDeal(command_id="x", actor=MANAGER, deal_id="X"), "forbidden")  # another centre's roadshow
    closed = run(s, CloseRoadshow(command_id="c", actor=HUB_ADMIN))
    refused(closed, PresentDeal(command_id="x", actor=HUB_ADMIN, deal_id="X"), "roadshow_closed")
    online = ScheduleRoadshow(
        command_id="s",
        actor=MANAGER,
        roadshow_id="R",
        title="线上路演",
        held_on=date(2026, 12, 1),
        mode=RoadshowMode.VENUE,
        centre_id="fz-centre",
    )
    refused(RoadshowState(), online, "venue_required")
    refused(RoadshowState(), online.model_copy(update={"centre_id": "hub", "mode": RoadshowMode.ONLINE}), "forbidden")
    with pytest.raises(ValueError, match="只邀请投资方"):
        InvitedInvestor(partner_id="jxregistry", name="登记机构", kind=PartnerKind.REGISTRATION_OFFICE)


def test_the_commands_offered_to_each_person_are_those_decide_accepts() -> None:
    """The web page offers forms by `allowed_roadshow_commands`; each offer must agree with `decide`."""
    s = scheduled()  # organised by the hub
    fz_broker = Actor(id="fz-broker", role=Role.BROKER, centre_id="fz-centre")
    hub_broker = Actor(id="hub-broker-wang", role=Role.BROKER, centre_id="hub")
    for actor, offered in ((HUB_ADMIN, True), (hub_broker, True), (MANAGER, False), (fz_broker, False), (AUDITOR, False)):
        assert bool(allowed_roadshow_commands(s, actor)) == offered, actor.id
        command = CloseRoadshow(command_id="c", actor=actor)
        if offered:
            assert decide_roadshow(s, command, T0)
        else:
            refused(s, command, "forbidden")
    assert allowed_roadshow_commands(s) == list(PERSON_COMMANDS)
    closed = run(s, CloseRoadshow(command_id="c", actor=HUB_ADMIN))
    assert allowed_roadshow_commands(closed) == [] and allowed_roadshow_commands(closed, HUB_ADMIN) == []
    assert allowed_roadshow_commands(RoadshowState(), HUB_ADMIN) == []


def test_who_may_schedule_is_the_rule_decide_applies() -> None:
    for actor, centre, allowed in (
        (HUB_ADMIN, "hub", True),
        (HUB_ADMIN, "fz-centre", True),
        (MANAGER, "fz-centre", True),
        (MANAGER, "hub", False),
        (Actor(id="b", role=Role.BROKER, centre_id="fz-centre"), "fz-centre", False),
        (AUDITOR, "hub", False),
    ):
        schedule = ScheduleRoadshow(
            command_id="s",
            actor=actor,
            roadshow_id="R",
            title="路演",
            held_on=date(2026, 12, 1),
            mode=RoadshowMode.ONLINE,
            centre_id=centre,
        )
        if allowed:
            authorize_schedule(actor, centre)
            assert decide_roadshow(RoadshowState(), schedule, T0)
        else:
            with pytest.raises(DomainError) as info:
                authorize_schedule(actor, centre)
            assert info.value.code == "forbidden"
            refused(RoadshowState(), schedule, "forbidden")


def test_a_roadshow_event_knows_its_deal_and_its_canonical_text() -> None:
    events = decide_roadshow(scheduled(), interest("jxbank", "FZ-2026-002", 5), T0)
    (event,) = events
    assert event.about_deal() == "FZ-2026-002" and event.type == "InterestRegistered"
    assert RoadshowEvent.model_validate_json(event.canonical_json()) == event
    assert '"amount_fen":5' in event.canonical_json() and ": " not in event.canonical_json()
