"""Record workflow histories of real deals into tests/histories/, for the replay test in CI.

    .venv/bin/python -m tests.histories.record v1

Records, for the given code version (against the example achievement registry): the three example deals
through their whole lifecycle, a deal
that continues-as-new several times, and a deal whose ladder fires and is extended on simulated time.
Record a new version whenever workflow code changes (and guard the change with `workflow.patched`);
never re-record an old version: those files are what running deals replay against.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import starter
from domain.commands import ExtendDeadline, WithdrawDeal
from domain.sla import LadderStep
from examples.lifecycle import broker_actor, lifecycle
from kuayue.devserver import dynamic_config_args, find_executable
from registry.importer import import_file
from store.db import make_engine, make_session_factory, migrate
from tests.factories import EXAMPLE_FILES, manager_of, open_command
from worker import build_worker
from workflows import search_attributes
from workflows.messages import workflow_id

HERE = Path(__file__).resolve().parent
REGISTRY = HERE.parents[1] / "examples" / "registry" / "achievements.csv"


async def _save_all_runs(client: Client, deal_id: str, version: str, name: str) -> list[Path]:
    """Every run of the deal's workflow (continue-as-new makes several), oldest first."""
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id(deal_id)}'")]
    runs.sort(key=lambda w: w.start_time)
    paths = []
    for i, run in enumerate(runs, start=1):
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        path = HERE / f"{version}-{name}-run{i}.json"
        path.write_text(history.to_json(), encoding="utf-8")
        paths.append(path)
    return paths


async def record(version: str) -> list[Path]:
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/kuayue.db"
        # The example registry, so that deals entering MATCHING get the matching engine's shortlist.
        migrate(db_url)
        import_file(make_session_factory(make_engine(db_url)), REGISTRY)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            dev_server_extra_args=dynamic_config_args(),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
        )
        async with env:
            queue = f"record-{uuid.uuid4()}"
            async with build_worker(env.client, queue, db_url):
                for path in EXAMPLE_FILES:
                    cmd = open_command(path, deal_id=f"{version}-{path.stem}")
                    handle = await starter.start_deal(env.client, cmd, queue)
                    for command in lifecycle(cmd):
                        await starter.send_command(env.client, cmd.deal_id, command)
                    await handle.result()
                    written += await _save_all_runs(env.client, cmd.deal_id, version, path.stem)
                cmd = open_command(EXAMPLE_FILES[0], deal_id=f"{version}-continue-as-new")
                handle = await starter.start_deal(env.client, cmd, queue, max_events_per_run=4)
                for command in lifecycle(cmd):
                    await starter.send_command(env.client, cmd.deal_id, command)
                await env.client.get_workflow_handle(workflow_id(cmd.deal_id)).result()
                written += await _save_all_runs(env.client, cmd.deal_id, version, "continue-as-new")

        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(find_executable("temporal-test-server")), data_converter=pydantic_data_converter
        )
        async with env:
            queue = f"record-{uuid.uuid4()}"
            async with build_worker(env.client, queue, db_url):
                cmd = open_command(EXAMPLE_FILES[1], deal_id=f"{version}-ladder")
                handle = await starter.start_deal(env.client, cmd, queue, search_attributes=False)
                state = await starter.wait_until_open(env.client, cmd.deal_id)
                assert state.plan is not None
                await env.sleep(state.plan.due_at(LadderStep.REMINDER_80) - state.plan.started_at + timedelta(minutes=1))
                await starter.send_command(
                    env.client,
                    cmd.deal_id,
                    ExtendDeadline(command_id="extend", actor=manager_of(cmd), working_days=3, reason="补充材料"),
                )
                await env.sleep(timedelta(days=40))
                await starter.send_command(
                    env.client, cmd.deal_id, WithdrawDeal(command_id="withdraw", actor=broker_actor(cmd), reason="企业放弃")
                )
                await handle.result()
                history = await handle.fetch_history()
                path = HERE / f"{version}-ladder-run1.json"
                path.write_text(history.to_json(), encoding="utf-8")
                written.append(path)
        if version >= "v4":
            written += await _record_partners(version, db_url)
    if version >= "v4":
        written.append(await record_roadshow(version))
    return written


async def _record_partners(version: str, db_url: str) -> list[Path]:
    """Since PARTNERS_PATCH: a deal financed and registered through the partner simulator and signed callbacks
    (answers out of order, one twice, a partner down then up, a refused application, a commitment withdrawn, a
    correction loop with expert review), and on simulated time a bank that never answers (its ladder fires) and
    a commitment that expires after the deal reached SIGNING (FINANCING reopens)."""
    from domain.commands import ApplyForFinancing, SubmitRegistration
    from domain.partners import Decision, Instrument, PartnerKind, RequestStatus
    from domain.stages import Stage
    from partnersim.app import Behaviour
    from tests.partnering import partner_stack, sign, to_financing

    wan = 1_000_000
    written: list[Path] = []

    def apply(app_id: str, partner: str, kind: PartnerKind, amount: int, broker, instrument: Instrument) -> ApplyForFinancing:  # type: ignore[no-untyped-def]
        return ApplyForFinancing(
            command_id=f"apply-{app_id}",
            actor=broker,
            application_id=app_id,
            partner_id=partner,
            partner_kind=kind,
            instrument=instrument,
            amount_fen=amount,
        )

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_executable("temporal")),
        dev_server_extra_args=dynamic_config_args(),
        data_converter=pydantic_data_converter,
        search_attributes=search_attributes.ALL,
    )
    async with env, partner_stack(env.client, db_url) as stack:
        cmd = open_command(EXAMPLE_FILES[0], deal_id=f"{version}-partners")  # Fuzhou: 5,000 万元 needed
        await stack.kuayue.start(cmd)
        deal = cmd.deal_id
        broker = await to_financing(stack, cmd)
        await stack.behave(Behaviour(delay=3.0), partner_id="jxbank")
        await stack.behave(Behaviour(delay=0.1, twice=True), partner_id="jxguarantee")
        await stack.behave(Behaviour(delay=0.3, http500=1), partner_id="jxfund")
        await stack.behave(Behaviour(mode="reject", message="授信主体不符"), request_id="A-extra")
        await stack.behave(Behaviour(delay=0.1, amount_fen=500 * wan), request_id="A-fund2")
        for app_id, partner, kind, amount, instrument in [
            ("A-bank", "jxbank", PartnerKind.BANK, 2000 * wan, Instrument.LOAN),
            ("A-guar", "jxguarantee", PartnerKind.GUARANTEE, 2000 * wan, Instrument.GUARANTEE),
            ("A-fund", "jxfund", PartnerKind.FUND, 1000 * wan, Instrument.EQUITY),
            ("A-extra", "jxbank", PartnerKind.BANK, 500 * wan, Instrument.LOAN),
        ]:
            await stack.kuayue.act(deal, apply(app_id, partner, kind, amount, broker, instrument))
        await stack.wait_for(deal, lambda s: s.commitment("A-fund") is not None)
        withdrawal = {"answer_id": "fund-withdraw", "deal_id": deal, "request_id": "A-fund", "decision": "withdrawn"}
        assert (await stack.callback("jxfund", withdrawal)).status_code == 202
        await stack.wait_for(deal, lambda s: s.commitment("A-fund") is None)
        await stack.kuayue.act(deal, apply("A-fund2", "jxfund", PartnerKind.FUND, 1000 * wan, broker, Instrument.EQUITY))
        await stack.behave(Behaviour(delay=0.1, amount_fen=1000 * wan), request_id="A-fund3")
        await stack.wait_for(deal, lambda s: s.commitment("A-fund2") is not None and s.commitment("A-bank") is not None)
        await stack.kuayue.act(deal, apply("A-fund3", "jxfund", PartnerKind.FUND, 1000 * wan, broker, Instrument.EQUITY))
        await stack.wait_for(deal, lambda s: s.stage == Stage.SIGNING)
        await stack.behave(
            Behaviour(delay=0.1, decision=Decision.CORRECTION_REQUESTED, reason_codes=("signature_missing",)), request_id="R1"
        )
        await sign(stack, cmd, broker, 500 * wan, "HT-1")
        await stack.kuayue.act(
            deal, SubmitRegistration(command_id="r1", actor=broker, submission_id="R1", partner_id="jxregistry")
        )
        await stack.wait_for(deal, lambda s: s.registration_state == "correction_requested")
        await sign(stack, cmd, broker, 500 * wan, "HT-1-rev1")
        await stack.kuayue.act(
            deal, SubmitRegistration(command_id="r2", actor=broker, submission_id="R2", partner_id="jxregistry")
        )
        await stack.wait_for(deal, lambda s: s.stage == Stage.SIGNED)
        await env.client.get_workflow_handle(workflow_id(deal)).result()
        written += await _save_all_runs(env.client, deal, version, "partners")

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_executable("temporal-test-server")), data_converter=pydantic_data_converter
    )
    async with env, partner_stack(env.client, db_url) as stack:
        await search_attributes_on(env)
        cmd = open_command(EXAMPLE_FILES[2], deal_id=f"{version}-partner-ladder")  # Jiujiang: 2,000 万元 needed
        await stack.kuayue.start(cmd)
        deal = cmd.deal_id
        broker = await to_financing(stack, cmd)
        await stack.behave(Behaviour(mode="never"), partner_id="jxbank")
        await stack.behave(Behaviour(delay=0.1, expires_in_seconds=30 * 86400), partner_id="jxguarantee")
        await stack.kuayue.act(deal, apply("A-bank", "jxbank", PartnerKind.BANK, 1000 * wan, broker, Instrument.LOAN))
        await stack.wait_for(deal, lambda s: s.partner_request("A-bank").status == RequestStatus.DELIVERED)  # type: ignore[union-attr]
        await env.sleep(timedelta(days=22))  # the bank's ladder: 10 working days, 150 % within three weeks
        await stack.kuayue.act(
            deal, apply("A-guar", "jxguarantee", PartnerKind.GUARANTEE, 2000 * wan, broker, Instrument.GUARANTEE)
        )
        await stack.wait_for(deal, lambda s: s.stage == Stage.SIGNING)
        await env.sleep(timedelta(days=10))  # the guarantee expires (30 days after it was given, by the simulator's
        # clock, which the time-skipping server ran 22 days ahead of) before any contract: FINANCING again
        await stack.wait_for(deal, lambda s: s.stage == Stage.FINANCING)
        await starter.send_command(
            env.client, deal, WithdrawDeal(command_id="withdraw", actor=broker_actor(cmd), reason="担保到期，企业放弃")
        )
        handle = env.client.get_workflow_handle(workflow_id(deal))
        await handle.result()
        path = HERE / f"{version}-partner-ladder-run1.json"
        path.write_text((await handle.fetch_history()).to_json(), encoding="utf-8")
        written.append(path)
    return written


async def record_roadshow(version: str) -> Path:
    """A roadshow presenting two deals to two investors; their interest becomes applications in each deal."""
    from datetime import date

    from domain.partners import Instrument, PartnerKind
    from domain.roadshow import (
        CloseRoadshow,
        InvitedInvestor,
        InviteInvestor,
        PresentDeal,
        RegisterInterest,
        RequestDueDiligence,
        RoadshowCommand,
        RoadshowMode,
        ScheduleRoadshow,
    )
    from domain.stages import Stage
    from tests.factories import HUB_ADMIN
    from tests.partnering import partner_stack, to_financing
    from workflows.roadshow import RoadshowCommandRequest, RoadshowInput, RoadshowWorkflow, roadshow_workflow_id

    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/kuayue.db"
        migrate(db_url)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            dev_server_extra_args=dynamic_config_args(),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
        )
        async with env, partner_stack(env.client, db_url) as stack:
            deals = []
            for path in (EXAMPLE_FILES[0], EXAMPLE_FILES[2]):  # Fuzhou and Jiujiang need money
                cmd = open_command(path, deal_id=f"{version}-roadshow-{path.stem[:8]}")
                await stack.kuayue.start(cmd)
                await to_financing(stack, cmd)
                deals.append(cmd)
            schedule = ScheduleRoadshow(
                command_id="schedule",
                actor=HUB_ADMIN,
                roadshow_id=f"{version}-LY",
                title="科技成果转化融资路演",
                held_on=date(2026, 12, 8),
                mode=RoadshowMode.VENUE,
                venue="南昌",
                centre_id="hub",
            )
            commands: list[RoadshowCommand] = [
                InviteInvestor(command_id=f"i-{p}", actor=HUB_ADMIN, investor=InvitedInvestor(partner_id=p, name=p, kind=k))
                for p, k in (("jxbank", PartnerKind.BANK), ("jxfund", PartnerKind.FUND))
            ]
            for cmd in deals:
                commands.append(PresentDeal(command_id=f"p-{cmd.deal_id}", actor=HUB_ADMIN, deal_id=cmd.deal_id))
            # Since ROADSHOW_ARCHIVE_PATCH (v6) the web page starts a roadshow with its investors and first deal at once.
            opening = tuple(commands[:3]) if version >= "v6" else ()
            commands = commands[len(opening) :]
            handle = await env.client.start_workflow(
                RoadshowWorkflow.run,
                RoadshowInput(schedule=schedule, opening=opening),
                id=roadshow_workflow_id(schedule.roadshow_id),
                task_queue=stack.kuayue.task_queue,
            )
            for cmd in deals:
                need = cmd.demand.financing_need_fen
                commands += [
                    RequestDueDiligence(
                        command_id=f"dd-{cmd.deal_id}",
                        actor=HUB_ADMIN,
                        investor_id="jxfund",
                        deal_id=cmd.deal_id,
                        materials=("专利证书",),
                    ),
                    RegisterInterest(
                        command_id=f"b-{cmd.deal_id}",
                        actor=HUB_ADMIN,
                        investor_id="jxbank",
                        deal_id=cmd.deal_id,
                        amount_fen=need // 2,
                        instrument=Instrument.LOAN,
                    ),
                    RegisterInterest(
                        command_id=f"f-{cmd.deal_id}",
                        actor=HUB_ADMIN,
                        investor_id="jxfund",
                        deal_id=cmd.deal_id,
                        amount_fen=need - need // 2,
                        instrument=Instrument.EQUITY,
                    ),
                ]
            for command in commands:
                await handle.execute_update(RoadshowWorkflow.execute, RoadshowCommandRequest(command=command))
            for cmd in deals:
                await stack.wait_for(cmd.deal_id, lambda s: s.stage == Stage.SIGNING)
            await handle.execute_update(
                RoadshowWorkflow.execute, RoadshowCommandRequest(command=CloseRoadshow(command_id="close", actor=HUB_ADMIN))
            )
            await handle.result()
            path = HERE / f"{version}-roadshow-run1.json"
            path.write_text((await handle.fetch_history()).to_json(), encoding="utf-8")
            return path


async def search_attributes_on(env: WorkflowEnvironment) -> None:
    from kuayue.temporal import register_search_attributes

    await register_search_attributes(env.client, search_attributes.ALL)


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or (len(sys.argv) == 3 and sys.argv[2] != "--roadshow-only"):
        sys.exit("usage: python -m tests.histories.record VERSION [--roadshow-only]   (e.g. v2)")
    if len(sys.argv) == 3:
        print(asyncio.run(record_roadshow(sys.argv[1])).relative_to(HERE.parents[1]))
    else:
        for p in asyncio.run(record(sys.argv[1])):
            print(p.relative_to(HERE.parents[1]))
