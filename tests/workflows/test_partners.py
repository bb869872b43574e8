"""Deals financed and registered through real partner calls: the simulator, signed callbacks, the worker, the archive."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.commands import ApplyForFinancing, SubmitRegistration, WaiveFinancing
from domain.events import (
    CommitmentRecorded,
    PartnerAnswerOverdue,
    PartnerRequestRefused,
    RegistrationRefused,
    RegistrationSubmitted,
)
from domain.partners import Decision, Instrument, PartnerKind, RequestStatus
from domain.sla import LadderStep
from domain.stages import Stage
from partnersim.app import Behaviour
from store.queries import notifications_for
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES
from tests.partnering import PartnerStack, partner_stack, sign, to_financing

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)
JIAN = next(p for p in EXAMPLE_FILES if "jian" in p.name)
WAN = 1_000_000  # fen in 10,000 yuan


@pytest.fixture(scope="module")
def sqlite_url() -> Iterator[str]:
    with migrated_database("sqlite") as url:
        yield url


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[PartnerStack]:
    async with partner_stack(temporal_env.client, sqlite_url) as s:
        yield s


def apply(app_id: str, partner: str, kind: PartnerKind, amount_fen: int, broker, instrument=Instrument.LOAN) -> ApplyForFinancing:  # type: ignore[no-untyped-def]
    return ApplyForFinancing(
        command_id=f"apply-{app_id}",
        actor=broker,
        application_id=app_id,
        partner_id=partner,
        partner_kind=kind,
        instrument=instrument,
        amount_fen=amount_fen,
    )


async def test_partners_out_of_order_twice_and_down_then_up_finance_and_register_the_deal_once_each(stack: PartnerStack) -> None:
    cmd, _ = await stack.kuayue.open(FUZHOU)  # needs 5,000 万元 of financing
    deal = cmd.deal_id
    broker = await to_financing(stack, cmd)
    # Applied in the order bank, guarantee firm, fund; answered guarantee (twice), fund, bank. The fund is down
    # (HTTP 500) for its first two deliveries; one more application is refused by the bank with a 422.
    await stack.behave(Behaviour(delay=4.0), partner_id="jxbank")
    await stack.behave(Behaviour(delay=0.1, twice=True), partner_id="jxguarantee")
    await stack.behave(Behaviour(delay=0.4, http500=2), partner_id="jxfund")
    await stack.behave(Behaviour(mode="reject", message="授信主体不符：申请人须为项目公司"), request_id="A-extra")
    for app_id, partner, kind, amount, instrument in [
        ("A-bank", "jxbank", PartnerKind.BANK, 2000 * WAN, Instrument.LOAN),
        ("A-guar", "jxguarantee", PartnerKind.GUARANTEE, 2000 * WAN, Instrument.GUARANTEE),
        ("A-fund", "jxfund", PartnerKind.FUND, 1000 * WAN, Instrument.EQUITY),
        ("A-extra", "jxbank", PartnerKind.BANK, 500 * WAN, Instrument.LOAN),
    ]:
        await stack.kuayue.act(deal, apply(app_id, partner, kind, amount, broker, instrument))

    state = await stack.wait_for(deal, lambda s: s.stage == Stage.SIGNING)
    assert state.committed_fen == 5000 * WAN
    archive = stack.kuayue.archive(deal)
    recorded = [e.payload.request_id for e in archive if isinstance(e.payload, CommitmentRecorded)]
    arrived = list(dict.fromkeys(rid for rid, status, _ in stack.sim.callbacks if status == 202))
    assert recorded == arrived == ["A-guar", "A-fund", "A-bank"]  # each once, in the order the answers arrived
    assert stack.sim.attempts["A-fund"] == 3  # two outages, then delivered
    guarantee_callbacks = [status for rid, status, _ in stack.sim.callbacks if rid == "A-guar"]
    assert len(guarantee_callbacks) == 2 and guarantee_callbacks[0] == 202
    (refused,) = [e.payload for e in archive if isinstance(e.payload, PartnerRequestRefused)]
    assert (refused.request_id, refused.status_code) == ("A-extra", 422)
    assert refused.partner_message == "授信主体不符：申请人须为项目公司"

    # A contract of 500 万元 goes to expert review; the office asks for a correction first, then registers.
    # The office's first delivery hangs past the worker's 2 s timeout and is retried.
    await stack.behave(
        Behaviour(
            delay=0.1,
            decision=Decision.CORRECTION_REQUESTED,
            reason_codes=("payment_schedule_missing",),
            hang=1,
            hang_seconds=2.5,
        ),
        request_id="R1",
    )
    await sign(stack, cmd, broker, 500 * WAN, "HT-FZ-1")
    await stack.kuayue.act(deal, SubmitRegistration(command_id="r1", actor=broker, submission_id="R1", partner_id="jxregistry"))
    state = await stack.wait_for(deal, lambda s: s.registration_state == "correction_requested")
    assert state.registration_reasons == ("payment_schedule_missing",)
    assert stack.sim.attempts["R1"] == 2  # timed out once, then delivered
    await sign(stack, cmd, broker, 500 * WAN, "HT-FZ-1-rev1")
    await stack.kuayue.act(deal, SubmitRegistration(command_id="r2", actor=broker, submission_id="R2", partner_id="jxregistry"))
    state = await stack.wait_for(deal, lambda s: s.stage == Stage.SIGNED)
    assert state.registration_number is not None and state.registration_number.startswith("2026JX")

    archive = stack.kuayue.archive(deal)
    submissions = [e.payload for e in archive if isinstance(e.payload, RegistrationSubmitted)]
    assert [(s.submission_id, s.expert_review, s.resubmission) for s in submissions] == [("R1", True, False), ("R2", True, True)]
    assert all(s.answer_plan is not None and s.answer_plan.budget_working_days == 20 for s in submissions)
    assert submissions[1].answer_plan.started_at > submissions[0].answer_plan.started_at  # type: ignore[union-attr]
    assert [e.seq for e in archive] == list(range(1, len(archive) + 1))
    # The office received the full contract, parties and signatures included.
    received = (await stack.http.get(f"{stack.sim_url}/received")).json()
    (r2,) = [r for r in received if r["request_id"] == "R2"]
    assert r2["contract"]["contract_no"] == "HT-FZ-1-rev1" and len(r2["contract"]["signatures"]) == 2


async def test_a_refused_registration_keeps_the_deal_in_signing_with_the_offices_reasons(stack: PartnerStack) -> None:
    cmd, _ = await stack.kuayue.open(JIAN)  # no financing need: waived
    deal = cmd.deal_id
    broker = await to_financing(stack, cmd)
    await stack.kuayue.act(deal, WaiveFinancing(command_id="w", actor=broker, reason="委托研究经费由企业自筹"))
    await stack.behave(
        Behaviour(
            delay=0.1, decision=Decision.REFUSED, reason_codes=("restrictive_clauses",), message="第七条限制受托方后续改进"
        ),
        request_id="R1",
    )
    await sign(stack, cmd, broker, 80 * WAN, "HT-JA-1")
    await stack.kuayue.act(deal, SubmitRegistration(command_id="r1", actor=broker, submission_id="R1", partner_id="jxregistry"))
    state = await stack.wait_for(deal, lambda s: s.registration_state == "refused")
    assert state.stage == Stage.SIGNING and state.registration_number is None
    (refusal,) = [e.payload for e in stack.kuayue.archive(deal) if isinstance(e.payload, RegistrationRefused)]
    assert refusal.reason_codes == ("restrictive_clauses",) and refusal.message == "第七条限制受托方后续改进"
    submitted = next(e.payload for e in stack.kuayue.archive(deal) if isinstance(e.payload, RegistrationSubmitted))
    assert submitted.expert_review is False and submitted.answer_plan.budget_working_days == 5  # type: ignore[union-attr]


@pytest.fixture
async def skipping_stack(time_skipping_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[PartnerStack]:
    async with partner_stack(time_skipping_env.client, sqlite_url) as s:
        yield s


async def test_a_partner_that_never_answers_gets_reminders_then_escalations_on_simulated_time(
    skipping_stack: PartnerStack, time_skipping_env: WorkflowEnvironment
) -> None:
    stack = skipping_stack
    await stack.behave(Behaviour(mode="never"), partner_id="jxbank")
    cmd, _ = await stack.kuayue.open(FUZHOU)
    deal = cmd.deal_id
    broker = await to_financing(stack, cmd)
    await stack.kuayue.act(deal, apply("A-bank", "jxbank", PartnerKind.BANK, 1000 * WAN, broker))
    state = await stack.wait_for(deal, lambda s: s.partner_request("A-bank").status == RequestStatus.DELIVERED)  # type: ignore[union-attr]
    plan = state.partner_request("A-bank").answer_plan  # type: ignore[union-attr]
    assert plan is not None and plan.budget_working_days == 10  # a bank's answer deadline in the rules
    stage_plan = state.plan
    assert stage_plan is not None and stage_plan.budget_working_days == 30  # the stage's own ladder is slower

    now = await time_skipping_env.get_current_time()
    await time_skipping_env.sleep(plan.due_at(LadderStep.ESCALATE_HUB) - now + timedelta(minutes=1))
    overdue = [e for e in stack.kuayue.archive(deal) if isinstance(e.payload, PartnerAnswerOverdue)]
    assert [(e.payload.step, e.payload.level) for e in overdue] == [  # type: ignore[union-attr]
        (LadderStep.REMINDER_50, 0),
        (LadderStep.REMINDER_80, 0),
        (LadderStep.ESCALATE_MANAGER, 1),
        (LadderStep.ESCALATE_HUB, 2),
    ]
    for e in overdue:
        assert timedelta(0) <= e.occurred_at - plan.due_at(e.payload.step) < timedelta(seconds=2)  # type: ignore[union-attr]
    with stack.kuayue.sessions() as session:
        to_broker = notifications_for(session, broker.id)
        to_hub = notifications_for(session, "hub")
    assert sum("A-bank" in n.message for n in to_broker) == 2
    assert sum("A-bank" in n.message for n in to_hub) == 2  # this deal's centre is the hub: levels 1 and 2
