"""Bids on one open call on the dev server: bid round trip, refused-bid round trip, and the selection into the deal.

    .venv/bin/python -m bench.open_call --bids 200 --bidders 20

Each bid is an update validated by the call's rules and archived (SQLite) before it is answered. Prints p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import timedelta

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

import starter
from domain.actors import Actor, Role
from domain.commands import ValidateDemand
from domain.open_call import Bid, CloseOpenCall, InstitutionKind, SelectWinner, SolverQualifications, SubmitBid
from domain.parties import AchievementRef, Institution
from examples.lifecycle import broker_actor
from kuayue import open_calls
from kuayue.devserver import dynamic_config_args, find_executable
from starter import CommandRejected
from tests.factories import EXAMPLE_FILES, open_command
from worker import build_worker
from workflows import search_attributes

HUB = Actor(id="hub-admin", role=Role.HUB_ADMIN, centre_id="hub")


def _bid(n: int, trl: int = 7) -> Bid:
    ref = AchievementRef(
        achievement_id=f"BENCH-{n:05d}", title=f"成果 {n}", institution=Institution(name="南昌大学", centre_id="ncu")
    )
    return Bid(achievement=ref, institution_kind=InstitutionKind.UNIVERSITY, trl=trl, region_code="360100", proposal="方案")


def _p(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


async def main(bids: int, bidders: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/kuayue.db"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            dev_server_extra_args=dynamic_config_args(),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
            ui=False,
        )
        async with env:
            queue = f"bench-{uuid.uuid4()}"
            async with build_worker(env.client, queue, db_url):
                cmd = open_command(EXAMPLE_FILES[0], deal_id=f"bench-oc-{uuid.uuid4().hex[:8]}")
                await starter.start_deal(env.client, cmd, queue)
                broker = broker_actor(cmd)
                await starter.send_command(env.client, cmd.deal_id, ValidateDemand(command_id="v", actor=broker))
                call = f"OC-{cmd.deal_id}"
                t0 = time.perf_counter()
                await open_calls.publish(
                    env.client,
                    queue,
                    broker,
                    cmd.deal_id,
                    call,
                    await env.get_current_time() + timedelta(days=7),
                    SolverQualifications(min_trl=6),
                )
                publish_ms = (time.perf_counter() - t0) * 1000

                gate = asyncio.Semaphore(bidders)
                accepted: list[float] = []
                refused: list[float] = []

                async def one(n: int) -> None:
                    async with gate:
                        offer = _bid(n, trl=7 if n % 10 else 5)  # every tenth is unqualified
                        t = time.perf_counter()
                        try:
                            await open_calls.send(env.client, call, SubmitBid(command_id=f"b{n}", actor=HUB, bid=offer))
                            accepted.append((time.perf_counter() - t) * 1000)
                        except CommandRejected:
                            refused.append((time.perf_counter() - t) * 1000)

                t0 = time.perf_counter()
                await asyncio.gather(*(one(n) for n in range(bids)))
                seconds = time.perf_counter() - t0
                await open_calls.send(env.client, call, CloseOpenCall(command_id="c", actor=broker, reason="bench"))
                t0 = time.perf_counter()
                await open_calls.send(env.client, call, SelectWinner(command_id="s", actor=broker, bid_id="B1"))
                select_ms = (time.perf_counter() - t0) * 1000
                history = await env.client.get_workflow_handle(f"open-call-{call}").fetch_history()

    print(f"publish (start + first event archived): {publish_ms:.1f} ms")
    print(
        f"{len(accepted)} bids accepted in {seconds:.2f} s ({len(accepted) / seconds:.1f}/s, {bidders} concurrent bidders): "
        f"p50 {_p(accepted, 50):.1f} ms, p95 {_p(accepted, 95):.1f} ms"
    )
    print(f"{len(refused)} unqualified bids refused by the validator: p50 {_p(refused, 50):.1f} ms, p95 {_p(refused, 95):.1f} ms")
    print(f"selection into the deal (4 deal commands): {select_ms:.1f} ms; call history {len(history.events)} events")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bids", type=int, default=200)
    parser.add_argument("--bidders", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.bids, args.bidders))
