"""Financing applications and partner callbacks per second, end to end, and the callback endpoint's latency.

    .venv/bin/python -m bench.partners --deals 40

Real parts: Temporal's dev server (in memory), a worker, Kuayue's web service (callback endpoint) and the partner
simulator answering at once, all in this one process on this machine; SQLite read model. N deals are first taken to
FINANCING (not timed). Then, timed: each deal applies to the bank, the guarantee firm and the fund at once (three
ApplyForFinancing commands), the worker delivers them over HTTP, the simulator calls back with signed answers, the
endpoint checks signature, window and nonce, queries the deal and signals it, and the deal records the commitments
and enters SIGNING. Prints applications/s and callbacks/s over that whole period, and the callback round trip
(as the partner sees it: signature check, nonce insert, state query, signal) p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import starter
from domain.commands import ApplyForFinancing
from domain.partners import Instrument, PartnerKind
from domain.stages import Stage
from kuayue.devserver import dynamic_config_args, find_executable
from partnersim.app import Behaviour
from store.db import migrate
from tests.factories import EXAMPLE_FILES, open_command
from tests.partnering import partner_stack, to_financing
from workflows import search_attributes

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)
SPLIT = (("jxbank", PartnerKind.BANK, Instrument.LOAN, 2), ("jxguarantee", PartnerKind.GUARANTEE, Instrument.GUARANTEE, 2))


async def bench(deals: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/kuayue.db"
        migrate(db_url)
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            dev_server_extra_args=dynamic_config_args(),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
            ui=False,
        )
        async with env, partner_stack(env.client, db_url, default=Behaviour(delay=0.0)) as stack:
            opened = []
            for i in range(deals):  # setup, not timed
                cmd = open_command(FUZHOU, deal_id=f"bench-partners-{i}")
                await stack.kuayue.start(cmd)
                opened.append((cmd, await to_financing(stack, cmd)))
            need = opened[0][0].demand.financing_need_fen

            async def finance(cmd, broker) -> None:  # type: ignore[no-untyped-def]
                amounts = [need * 2 // 5, need * 2 // 5]
                applications = [
                    ApplyForFinancing(
                        command_id=f"apply-{partner}",
                        actor=broker,
                        application_id=f"A-{partner}",
                        partner_id=partner,
                        partner_kind=kind,
                        instrument=instrument,
                        amount_fen=amount,
                    )
                    for (partner, kind, instrument, _), amount in zip(SPLIT, amounts, strict=True)
                ]
                applications.append(
                    ApplyForFinancing(
                        command_id="apply-jxfund",
                        actor=broker,
                        application_id="A-jxfund",
                        partner_id="jxfund",
                        partner_kind=PartnerKind.FUND,
                        instrument=Instrument.EQUITY,
                        amount_fen=need - sum(amounts),
                    )
                )
                await asyncio.gather(*(starter.send_command(stack.kuayue.client, cmd.deal_id, a) for a in applications))
                await stack.wait_for(cmd.deal_id, lambda s: s.stage == Stage.SIGNING, timeout=300)

            stack.sim.callback_ms.clear()
            started = time.perf_counter()
            await asyncio.gather(*(finance(cmd, broker) for cmd, broker in opened))
            seconds = time.perf_counter() - started
            accepted = sum(1 for _, status, _ in stack.sim.callbacks if status == 202)
            ms = stack.sim.callback_ms
            q = statistics.quantiles(ms, n=100)
            print(f"{deals} deals, {3 * deals} applications, {accepted} callbacks accepted, in {seconds:.2f} s")
            print(f"  applications/s {3 * deals / seconds:.1f}   callbacks/s {accepted / seconds:.1f}")
            print(f"  callback round trip under that load p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  max {max(ms):.1f} ms")

            # The endpoint on its own: one callback at a time to deals waiting for an answer (nothing else running).
            await stack.behave(Behaviour(mode="never"))
            waiting = []
            for i in range(deals):
                cmd = open_command(FUZHOU, deal_id=f"bench-callback-{i}")
                await stack.kuayue.start(cmd)
                broker = await to_financing(stack, cmd)
                application = ApplyForFinancing(
                    command_id="apply",
                    actor=broker,
                    application_id="A-1",
                    partner_id="jxbank",
                    partner_kind=PartnerKind.BANK,
                    instrument=Instrument.LOAN,
                    amount_fen=100,
                )
                await starter.send_command(stack.kuayue.client, cmd.deal_id, application)
                waiting.append(cmd.deal_id)
            await asyncio.sleep(2)  # deliveries done, deals idle
            alone = []
            for deal in waiting:
                body = {"answer_id": "a1", "deal_id": deal, "request_id": "A-1", "decision": "declined"}
                t0 = time.perf_counter()
                response = await stack.callback("jxbank", body)
                alone.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 202, response.text
            q = statistics.quantiles(alone, n=100)
            print(f"  callback endpoint alone ({len(alone)} callbacks, one at a time) p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=40)
    asyncio.run(bench(parser.parse_args().deals))
