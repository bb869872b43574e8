"""Record OpenCallWorkflow histories into tests/histories/, for the replay test in CI.

    .venv/bin/python -m tests.histories.record_open_call v1

Records, on the time-skipping test server against the example achievement registry: a call that takes bids,
refuses a late one after its timer closed it, and has a winner selected into its deal (`awarded`); a call closed
early whose first selection the deal refuses (still in demand mining) before the second goes through
(`refused-then-awarded`); and a call nobody selects from, which ends after its selection period (`lapsed`).
Record a new version whenever OpenCallWorkflow changes (guarded by `workflow.patched`); never re-record an old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import starter
from domain.actors import Actor, Role
from domain.commands import ValidateDemand, WithdrawDeal
from domain.open_call import CloseOpenCall, InstitutionKind, SelectWinner, SolverQualifications, SubmitBid
from examples.lifecycle import broker_actor
from kuayue import open_calls
from kuayue.devserver import find_executable
from registry.importer import import_file
from store.db import make_engine, make_session_factory, migrate
from tests.factories import EXAMPLE_FILES, open_command
from worker import build_worker
from workflows.open_call_messages import open_call_workflow_id

HERE = Path(__file__).resolve().parent
REGISTRY = HERE.parents[1] / "examples" / "registry" / "achievements.csv"
QUALIFICATIONS = SolverQualifications(institution_kinds=(InstitutionKind.UNIVERSITY,), min_trl=6, region_code="360000")
JGSU = Actor(id="jgsu-manager", role=Role.MANAGER, centre_id="jgsu")
JXAU = Actor(id="jxau-manager", role=Role.MANAGER, centre_id="jxau")


async def record(version: str) -> list[Path]:
    written: list[Path] = []
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/kuayue.db"
        migrate(db_url)
        sessions = make_session_factory(make_engine(db_url))
        import_file(sessions, REGISTRY)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(find_executable("temporal-test-server")), data_converter=pydantic_data_converter
        )
        async with env:
            queue = f"record-{uuid.uuid4()}"
            async with build_worker(env.client, queue, db_url):
                jian = next(p for p in EXAMPLE_FILES if "jian" in p.name)

                async def bid(call: str, actor: Actor, achievement: str, cid: str) -> None:
                    offer = open_calls.bid_for(sessions, achievement, InstitutionKind.UNIVERSITY, "中试验证方案")
                    with contextlib.suppress(starter.CommandRejected):  # refused bids belong in no history
                        await open_calls.send(env.client, call, SubmitBid(command_id=cid, actor=actor, bid=offer))

                # awarded: bids, the timer closes the call, a late bid is refused, the winner goes to the deal.
                cmd = open_command(jian, deal_id=f"oc-{version}-awarded")
                await starter.start_deal(env.client, cmd, queue, search_attributes=False)
                broker = broker_actor(cmd)
                await starter.send_command(env.client, cmd.deal_id, ValidateDemand(command_id="v", actor=broker))
                call = f"OC-{version}-awarded"
                now = await env.get_current_time()
                await open_calls.publish(
                    env.client, queue, broker, cmd.deal_id, call, now + timedelta(days=3), QUALIFICATIONS, now=now
                )
                await bid(call, JGSU, "JXCG-2026-0001", "b1")
                await bid(call, JXAU, "JXCG-2026-0002", "b2")
                await bid(call, JXAU, "JXCG-2026-0004", "b3")  # TRL 5: refused
                await env.sleep(timedelta(days=3, minutes=5))
                await bid(call, JXAU, "JXCG-2026-0004", "late")  # refused: closed
                await open_calls.send(env.client, call, SelectWinner(command_id="s", actor=broker, bid_id="B2"))
                written.append(await _save(env, call, f"open-call-{version}-awarded-run1.json"))
                await starter.send_command(env.client, cmd.deal_id, WithdrawDeal(command_id="w", actor=broker, reason="录制结束"))

                # refused-then-awarded: closed early; the deal refuses the first selection, takes the second.
                cmd = open_command(jian, deal_id=f"oc-{version}-refused")
                await starter.start_deal(env.client, cmd, queue, search_attributes=False)
                broker = broker_actor(cmd)
                call = f"OC-{version}-refused"
                now = await env.get_current_time()
                await open_calls.publish(
                    env.client, queue, broker, cmd.deal_id, call, now + timedelta(days=3), QUALIFICATIONS, now=now
                )
                await bid(call, JGSU, "JXCG-2026-0001", "b1")
                await open_calls.send(env.client, call, CloseOpenCall(command_id="c", actor=broker, reason="企业已确定方向"))
                with contextlib.suppress(starter.CommandRejected):
                    await open_calls.send(env.client, call, SelectWinner(command_id="s1", actor=broker, bid_id="B1"))
                await starter.send_command(env.client, cmd.deal_id, ValidateDemand(command_id="v", actor=broker))
                await open_calls.send(env.client, call, SelectWinner(command_id="s2", actor=broker, bid_id="B1"))
                written.append(await _save(env, call, f"open-call-{version}-refused-then-awarded-run1.json"))
                await starter.send_command(env.client, cmd.deal_id, WithdrawDeal(command_id="w", actor=broker, reason="录制结束"))

                # lapsed: closed at its deadline, nobody selects within the selection period.
                cmd = open_command(jian, deal_id=f"oc-{version}-lapsed")
                await starter.start_deal(env.client, cmd, queue, search_attributes=False)
                broker = broker_actor(cmd)
                call = f"OC-{version}-lapsed"
                now = await env.get_current_time()
                await open_calls.publish(
                    env.client, queue, broker, cmd.deal_id, call, now + timedelta(days=3), QUALIFICATIONS, now=now
                )
                await bid(call, JGSU, "JXCG-2026-0001", "b1")
                await env.sleep(timedelta(days=3 + 90, hours=1))
                written.append(await _save(env, call, f"open-call-{version}-lapsed-run1.json"))
                await starter.send_command(env.client, cmd.deal_id, WithdrawDeal(command_id="w", actor=broker, reason="录制结束"))
    return written


async def _save(env: WorkflowEnvironment, call: str, name: str) -> Path:
    handle = env.client.get_workflow_handle(open_call_workflow_id(call))
    await handle.result()
    path = HERE / name
    path.write_text((await handle.fetch_history()).to_json(), encoding="utf-8")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.histories.record_open_call VERSION   (e.g. v1)")
    for p in asyncio.run(record(sys.argv[1])):
        print(p.relative_to(HERE.parents[1]))
