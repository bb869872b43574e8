"""A roadshow carrying several deals: investors' interest becomes applications in each deal, commitments stay there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.partners import Instrument, PartnerKind
from domain.roadshow import (
    CloseRoadshow,
    InvitedInvestor,
    InviteInvestor,
    PresentDeal,
    RegisterInterest,
    RoadshowCommand,
    RoadshowDealView,
    RoadshowMode,
    RoadshowState,
    ScheduleRoadshow,
    fold_roadshow,
)
from domain.stages import Stage
from store.roadshows import interests, roadshow_events, roadshow_row, verify_roadshow_chain
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES, HUB_ADMIN
from tests.partnering import PartnerStack, partner_stack, to_financing
from workflows.roadshow import (
    DealViewRequest,
    RoadshowAnswer,
    RoadshowCommandRequest,
    RoadshowInput,
    RoadshowWorkflow,
    roadshow_workflow_id,
)

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)  # needs 5,000 万元
JIUJIANG = next(p for p in EXAMPLE_FILES if "jiujiang" in p.name)  # needs 2,000 万元
JIAN = next(p for p in EXAMPLE_FILES if "jian-" in p.name)
WAN = 1_000_000


@pytest.fixture(scope="module")
def sqlite_url() -> Iterator[str]:
    with migrated_database("sqlite") as url:
        yield url


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[PartnerStack]:
    async with partner_stack(temporal_env.client, sqlite_url) as s:
        yield s


async def test_one_roadshow_finances_several_deals_and_each_deal_sees_only_its_own_commitments(stack: PartnerStack) -> None:
    fz, _ = await stack.kuayue.open(FUZHOU)
    jj, _ = await stack.kuayue.open(JIUJIANG)
    ja, _ = await stack.kuayue.open(JIAN)
    for cmd in (fz, jj):
        await to_financing(stack, cmd)
    client = stack.kuayue.client
    schedule = ScheduleRoadshow(
        command_id="schedule",
        actor=HUB_ADMIN,
        roadshow_id=f"LY-{fz.deal_id}",
        title="抚州高新区科技成果转化路演",
        held_on=date(2026, 12, 8),
        mode=RoadshowMode.ONLINE,
        centre_id="hub",
    )
    handle = await client.start_workflow(
        RoadshowWorkflow.run,
        RoadshowInput(schedule=schedule),
        id=roadshow_workflow_id(schedule.roadshow_id),
        task_queue=stack.kuayue.task_queue,
    )

    async def act(command: RoadshowCommand) -> RoadshowAnswer:
        return await handle.execute_update(RoadshowWorkflow.execute, RoadshowCommandRequest(command=command))

    for cmd in (fz, jj, ja):
        await act(PresentDeal(command_id=f"present-{cmd.deal_id}", actor=HUB_ADMIN, deal_id=cmd.deal_id))
    for pid, kind in (("jxbank", PartnerKind.BANK), ("jxfund", PartnerKind.FUND)):
        await act(
            InviteInvestor(
                command_id=f"invite-{pid}", actor=HUB_ADMIN, investor=InvitedInvestor(partner_id=pid, name=pid, kind=kind)
            )
        )
    # The bank is interested in two deals, the fund in one; Ji'an's deal is presented but is not in FINANCING.
    for investor, cmd, amount in (("jxbank", fz, 3000), ("jxbank", jj, 2000), ("jxfund", fz, 2000), ("jxfund", ja, 100)):
        await act(
            RegisterInterest(
                command_id=f"interest-{investor}-{cmd.deal_id}",
                actor=HUB_ADMIN,
                investor_id=investor,
                deal_id=cmd.deal_id,
                amount_fen=amount * WAN,
                instrument=Instrument.LOAN if investor == "jxbank" else Instrument.EQUITY,
            )
        )

    fz_state = await stack.wait_for(fz.deal_id, lambda s: s.stage == Stage.SIGNING)
    jj_state = await stack.wait_for(jj.deal_id, lambda s: s.stage == Stage.SIGNING)
    assert sorted((c.partner_id, c.amount_fen) for c in fz_state.firm_commitments) == [
        ("jxbank", 3000 * WAN),
        ("jxfund", 2000 * WAN),
    ]
    assert [(c.partner_id, c.amount_fen) for c in jj_state.firm_commitments] == [("jxbank", 2000 * WAN)]
    assert {r.request_id for r in jj_state.partner_requests} == {f"{schedule.roadshow_id}-jxbank"}

    state = await handle.query(RoadshowWorkflow.state)
    assert isinstance(state, RoadshowState) and state.pending_forwarding == ()
    (ja_interest,) = [i for i in state.interests if i.deal_id == ja.deal_id]
    assert ja_interest.refusal is not None and "wrong_stage" in ja_interest.refusal  # the deal's own refusal, kept
    assert (await stack.state(ja.deal_id)).partner_requests == ()
    view = await handle.query(RoadshowWorkflow.deal_view, DealViewRequest(deal_id=jj.deal_id))
    assert isinstance(view, RoadshowDealView)
    assert [(i.investor_id, i.amount_fen) for i in view.interests] == [("jxbank", 2000 * WAN)]

    # Every event is archived, hash-chained, before its command was answered; the read model follows the events.
    with stack.kuayue.sessions() as session:
        archived = roadshow_events(session, schedule.roadshow_id)
        assert fold_roadshow(archived) == state
        assert verify_roadshow_chain(session, schedule.roadshow_id) == []
        row = roadshow_row(session, schedule.roadshow_id)
        assert row is not None and (row.status, row.deals, row.investors, row.interests) == ("open", 3, 2, 4)
        statuses = {(i.investor_id, i.deal_id): i.status for i in interests(session, schedule.roadshow_id)}
        assert statuses == {
            ("jxbank", fz.deal_id): "forwarded",
            ("jxbank", jj.deal_id): "forwarded",
            ("jxfund", fz.deal_id): "forwarded",
            ("jxfund", ja.deal_id): "refused",
        }
    await handle.terminate(reason="test finished")


async def test_a_roadshow_opens_with_its_deals_and_investors_at_once_or_not_at_all(stack: PartnerStack) -> None:
    fz, _ = await stack.kuayue.open(FUZHOU)
    client, queue = stack.kuayue.client, stack.kuayue.task_queue
    schedule = ScheduleRoadshow(
        command_id="schedule",
        actor=HUB_ADMIN,
        roadshow_id=f"OPEN-{fz.deal_id}",
        title="开幕即推介的路演",
        held_on=date(2026, 12, 9),
        mode=RoadshowMode.ONLINE,
        centre_id="hub",
    )
    bank = InviteInvestor(
        command_id="invite", actor=HUB_ADMIN, investor=InvitedInvestor(partner_id="jxbank", name="银行", kind=PartnerKind.BANK)
    )
    opening = (PresentDeal(command_id="present", actor=HUB_ADMIN, deal_id=fz.deal_id), bank)
    handle = await client.start_workflow(
        RoadshowWorkflow.run,
        RoadshowInput(schedule=schedule, opening=opening),
        id=roadshow_workflow_id(schedule.roadshow_id),
        task_queue=queue,
    )
    # A command sent right after the start is answered after the opening, with the next seq, and archived in order.
    answer = await handle.execute_update(
        RoadshowWorkflow.execute, RoadshowCommandRequest(command=CloseRoadshow(command_id="close", actor=HUB_ADMIN))
    )
    assert [e.seq for e in answer.events] == [4]
    final = await handle.result()
    assert final.deal_ids == (fz.deal_id,) and [i.partner_id for i in final.investors] == ["jxbank"] and final.closed
    with stack.kuayue.sessions() as session:
        assert [e.type for e in roadshow_events(session, schedule.roadshow_id)] == [
            "RoadshowScheduled",
            "DealPresented",
            "InvestorInvited",
            "RoadshowClosed",
        ]
        row = roadshow_row(session, schedule.roadshow_id)
        assert row is not None and row.status == "closed" and row.deals == 1

    # One refused opening command (the same deal twice) refuses the whole start: nothing is archived.
    refused = schedule.model_copy(update={"roadshow_id": f"BAD-{fz.deal_id}"})
    twice = (*opening, PresentDeal(command_id="again", actor=HUB_ADMIN, deal_id=fz.deal_id))
    bad = await client.start_workflow(
        RoadshowWorkflow.run,
        RoadshowInput(schedule=refused, opening=twice),
        id=roadshow_workflow_id(refused.roadshow_id),
        task_queue=queue,
    )
    with pytest.raises(WorkflowFailureError) as failure:
        await bad.result()
    assert isinstance(failure.value.cause, ApplicationError) and failure.value.cause.type == "already_presented"
    with stack.kuayue.sessions() as session:
        assert roadshow_events(session, refused.roadshow_id) == [] and roadshow_row(session, refused.roadshow_id) is None
