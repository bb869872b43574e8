"""Finance and register the three example deals through the partners (the simulator of `kuayue up`).

    .venv/bin/python -m examples.partners_demo            # all three example deals
    .venv/bin/python -m examples.partners_demo FZ-2026-002

For each deal, as its broker: the steps up to agreed terms (skipped when already done). The deals that need money are
presented at one roadshow (路演, RoadshowWorkflow `roadshow-LY-2026-DEMO`) to the bank, the guarantee firm and the fund;
each investor's interest becomes a financing application in that deal (a deal without a need waives financing). Once
the partners' signed callbacks have covered the need: the full technology contract and its registration. The
partners answer by themselves; the script only waits and prints. Every command has a stable id: running it again is
safe.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date, timedelta
from typing import Any

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

import starter
from domain.actors import Actor, Role
from domain.commands import ApplyForFinancing, Command, OpenDeal, SignTechnologyContract, SubmitRegistration, WaiveFinancing
from domain.identifiers import uscc_check_character
from domain.parties import ContractType, Instalment, format_wan
from domain.partners import ContractParty, Instrument, PartnerKind, PartyRole, Signature, TechnologyContract
from domain.roadshow import (
    InvitedInvestor,
    InviteInvestor,
    PresentDeal,
    RegisterInterest,
    RoadshowCommand,
    RoadshowMode,
    ScheduleRoadshow,
)
from domain.stages import Stage
from domain.state import DealState
from examples.lifecycle import broker_actor, lifecycle
from kuayue.logging import configure_logging
from kuayue.process import exit_hard
from kuayue.settings import REPO_ROOT, Settings
from kuayue.temporal import connect

EXAMPLES = REPO_ROOT / "examples" / "deals"
# An illustrative supplier code with a valid check character (GB 32100), not a real institution's.
SUPPLIER_CREDIT_CODE = "12360000491000001" + uscc_check_character("12360000491000001")
# How each example deal's financing need is split across the simulated investors.
SPLIT = (("jxbank", PartnerKind.BANK, Instrument.LOAN, 40), ("jxguarantee", PartnerKind.GUARANTEE, Instrument.GUARANTEE, 40))
FUND = ("jxfund", PartnerKind.FUND, Instrument.EQUITY)


def technology_contract(
    open_cmd: OpenDeal, value_fen: int, contract_no: str, signed_on: date = date(2026, 11, 20), supplier: str = "江西省科学院"
) -> TechnologyContract:
    """A complete licence contract between the deal's enterprise and its supplier, paid in two instalments."""
    half = value_fen // 2
    return TechnologyContract(
        contract_no=contract_no,
        contract_type=ContractType.LICENCE,
        parties=(
            ContractParty(
                role=PartyRole.ASSIGNEE, name=open_cmd.demand.enterprise.name, credit_code=open_cmd.demand.enterprise.credit_code
            ),
            ContractParty(role=PartyRole.ASSIGNOR, name=supplier, credit_code=SUPPLIER_CREDIT_CODE),
        ),
        total_value_fen=value_fen,
        technical_value_fen=value_fen,
        payment_schedule=(
            Instalment(due_on=signed_on + timedelta(days=30), amount_fen=half),
            Instalment(due_on=signed_on + timedelta(days=180), amount_fen=value_fen - half),
        ),
        signed_on=signed_on,
        signatures=(
            Signature(role=PartyRole.ASSIGNEE, signatory="企业法定代表人", signed_on=signed_on),
            Signature(role=PartyRole.ASSIGNOR, signatory="单位法定代表人", signed_on=signed_on),
        ),
    )


ROADSHOW_ID = "LY-2026-DEMO"
HUB = Actor(id="operator", role=Role.HUB_ADMIN, centre_id="hub")


async def roadshow(client, opens: list[OpenDeal], task_queue: str) -> None:  # type: ignore[no-untyped-def]
    """One roadshow presenting every deal that needs financing; each investor's interest is split as SPLIT/FUND say."""
    from temporalio.client import WorkflowHandle
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from workflows.roadshow import RoadshowCommandRequest, RoadshowInput, RoadshowWorkflow, roadshow_workflow_id

    schedule = ScheduleRoadshow(
        command_id="schedule",
        actor=HUB,
        roadshow_id=ROADSHOW_ID,
        title="江西省科技成果转化融资路演（演示）",
        held_on=date(2026, 12, 8),
        mode=RoadshowMode.VENUE,
        venue="江西省科技成果转移转化中心路演厅",
        centre_id="hub",
    )
    handle: WorkflowHandle[Any, Any]
    try:
        handle = await client.start_workflow(
            RoadshowWorkflow.run, RoadshowInput(schedule=schedule), id=roadshow_workflow_id(ROADSHOW_ID), task_queue=task_queue
        )
    except WorkflowAlreadyStartedError:
        handle = client.get_workflow_handle(roadshow_workflow_id(ROADSHOW_ID))
    commands: list[RoadshowCommand] = []
    for pid, kind, _, _ in (*SPLIT, (*FUND, 0)):
        commands.append(
            InviteInvestor(command_id=f"invite-{pid}", actor=HUB, investor=InvitedInvestor(partner_id=pid, name=pid, kind=kind))
        )
    for o in opens:
        if not o.demand.financing_need_fen:
            continue
        commands.append(PresentDeal(command_id=f"present-{o.deal_id}", actor=HUB, deal_id=o.deal_id))
        for a in financing_applications(o, HUB):
            assert isinstance(a, ApplyForFinancing)
            commands.append(
                RegisterInterest(
                    command_id=f"interest-{a.partner_id}-{o.deal_id}",
                    actor=HUB,
                    investor_id=a.partner_id,
                    deal_id=o.deal_id,
                    amount_fen=a.amount_fen,
                    instrument=a.instrument,
                )
            )
    for command in commands:
        try:
            await handle.execute_update(RoadshowWorkflow.execute, RoadshowCommandRequest(command=command))
        except WorkflowUpdateFailedError as e:
            if not (
                isinstance(e.cause, ApplicationError)
                and e.cause.type in ("already_invited", "already_presented", "already_interested")
            ):
                raise
    presented = sum(1 for c in commands if isinstance(c, PresentDeal))
    print(f"  路演 {ROADSHOW_ID}：{presented} 个案件，3 家投资方，意向已转为各案件的融资申请")


def financing_applications(open_cmd: OpenDeal, broker: Actor) -> list[Command]:
    deal, need = open_cmd.deal_id, open_cmd.demand.financing_need_fen
    if not need:
        return [WaiveFinancing(command_id=f"{deal}:waive", actor=broker, reason="委托研究经费由企业自筹，无需融资")]
    out: list[Command] = []
    given = 0
    for partner, kind, instrument, percent in SPLIT:
        amount = need * percent // 100
        given += amount
        out.append(_apply(deal, broker, partner, kind, instrument, amount))
    out.append(_apply(deal, broker, *FUND, need - given))
    return out


def _apply(deal: str, broker: Actor, partner: str, kind: PartnerKind, instrument: Instrument, amount: int) -> ApplyForFinancing:
    return ApplyForFinancing(
        command_id=f"{deal}:apply:{partner}",
        actor=broker,
        application_id=f"{deal}-{partner}",
        partner_id=partner,
        partner_kind=kind,
        instrument=instrument,
        amount_fen=amount,
    )


async def _send(client, deal: str, command: Command) -> None:  # type: ignore[no-untyped-def]
    try:
        await starter.send_command(client, deal, command)
    except starter.CommandRejected as e:
        if e.code not in ("wrong_stage", "duplicate_request", "already_signed", "submission_pending", "deal_closed"):
            raise  # anything else is a real refusal worth stopping for


async def _wait(client, deal: str, done, what: str, timeout: float = 120.0) -> DealState:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = await starter.deal_state(client, deal)
        if done(state):
            return state
        if loop.time() > deadline:
            raise SystemExit(
                f"{deal}: still waiting for {what} after {timeout:.0f} s (stage {state.stage}); is the simulator up?"
            )
        await asyncio.sleep(0.5)


async def finance_and_register(client, open_cmd: OpenDeal, roadshow_ready: asyncio.Event) -> DealState:  # type: ignore[no-untyped-def]
    deal = open_cmd.deal_id
    broker = broker_actor(open_cmd)
    state = await starter.deal_state(client, deal)
    if state.stage == Stage.SIGNED:
        return state
    for command in lifecycle(open_cmd)[:6]:  # validate, propose, shortlist, both acceptances, terms
        await _send(client, deal, command)
    if not open_cmd.demand.financing_need_fen:
        await _send(
            client, deal, WaiveFinancing(command_id=f"{deal}:waive", actor=broker, reason="委托研究经费由企业自筹，无需融资")
        )
    await roadshow_ready.wait()  # the roadshow turns the investors' interest into this deal's applications
    print(f"  {deal}: 等待合作方答复……")
    state = await _wait(client, deal, lambda s: s.stage != Stage.FINANCING, "the partners' commitments")
    print(f"  {deal}: 融资已落实 {format_wan(state.committed_fen)}（{len(state.firm_commitments)} 项承诺）")
    assert state.terms is not None
    contract = technology_contract(open_cmd, state.terms.price_fen, f"HT-{deal}")
    await _send(client, deal, SignTechnologyContract(command_id=f"{deal}:sign-full", actor=broker, contract=contract))
    submit = SubmitRegistration(command_id=f"{deal}:submit", actor=broker, submission_id=f"{deal}-reg-1", partner_id="jxregistry")
    await _send(client, deal, submit)
    state = await _wait(client, deal, lambda s: s.stage == Stage.SIGNED, "the registration office")
    print(f"  {deal}: 已签约，认定登记编号 {state.registration_number}")
    return state


async def main(deal_ids: list[str]) -> int:
    settings = Settings.from_env()
    client = await connect(settings)
    actor = starter.parse_actor(starter.DEFAULT_ACTOR)
    opens = [starter.load_open_command(p, actor) for p in sorted(EXAMPLES.glob("*.json"))]
    chosen = [o for o in opens if not deal_ids or o.deal_id in deal_ids]
    ready = asyncio.Event()

    async def present() -> None:
        # Deals must be in FINANCING before the roadshow forwards interest to them.
        for o in chosen:
            await _wait(
                client, o.deal_id, lambda s: s.stage not in (Stage.DEMAND_MINING, Stage.MATCHING, Stage.BROKERING), "terms"
            )
        await roadshow(client, chosen, settings.task_queue)
        ready.set()

    results = await asyncio.gather(present(), *(finance_and_register(client, o, ready) for o in chosen))
    states = results[1:]
    return 0 if all(isinstance(s, DealState) and s.stage == Stage.SIGNED for s in states) else 1


if __name__ == "__main__":
    configure_logging()  # info and above, to stderr: the script's own lines stay readable
    exit_hard(asyncio.run(main(sys.argv[1:])))
