"""Drive N deals through the whole lifecycle on the dev server, and a bare baseline of the same shape.

    .venv/bin/python -m bench.lifecycle --deals 60 --brokers 20 [--database-url postgresql+psycopg2://…] [--stock-server]

Commands are sent concurrently across deals (each deal's own commands in order, as one broker would).
Prints deals/s, the broker-command round trip p50/p95, and Kuayue's throughput as a ratio of the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import starter
from bench.baseline import BareCommand, BareDeal, bare_append, bare_plan
from domain.commands import Command, OpenDeal
from domain.events import DeadlineExtended, StageEntered
from examples.lifecycle import lifecycle
from kuayue.devserver import dynamic_config_args, find_executable
from tests.factories import EXAMPLE_FILES, open_command
from worker import build_worker
from workflows import search_attributes


@dataclass
class Run:
    label: str
    deals: int = 0
    seconds: float = 0.0
    first_ms: list[float] = field(default_factory=list)
    """Each deal's first command, sent right after the start: it also waits for the deal's opening to be archived."""
    later_ms: list[float] = field(default_factory=list)

    @property
    def deals_per_second(self) -> float:
        return self.deals / self.seconds

    @property
    def round_trips_ms(self) -> list[float]:
        return self.first_ms + self.later_ms

    def record(self, position: int, ms: float) -> None:
        (self.first_ms if position == 0 else self.later_ms).append(ms)

    def percentile(self, p: int, of: list[float] | None = None) -> float:
        return statistics.quantiles(self.round_trips_ms if of is None else of, n=100)[p - 1]

    def report(self) -> str:
        return (
            f"{self.label:9s} {self.deals} deals in {self.seconds:6.2f} s = {self.deals_per_second:6.2f} deals/s; "
            f"command round trip p50 {self.percentile(50):6.1f} ms, p95 {self.percentile(95):6.1f} ms "
            f"({len(self.round_trips_ms)} commands)\n"
            f"{'':9s} each deal's first command (waits for the opening) p50 {self.percentile(50, self.first_ms):6.1f} ms, "
            f"p95 {self.percentile(95, self.first_ms):6.1f} ms; the others p50 {self.percentile(50, self.later_ms):6.1f} ms, "
            f"p95 {self.percentile(95, self.later_ms):6.1f} ms"
        )


def _scripts(n: int) -> list[tuple[OpenDeal, list[Command]]]:
    scripts = []
    for i in range(n):
        cmd = open_command(EXAMPLE_FILES[i % len(EXAMPLE_FILES)], deal_id=f"bench-{uuid.uuid4().hex[:12]}")
        scripts.append((cmd, lifecycle(cmd)))
    return scripts


async def run_kuayue(
    client: Client, scripts: list[tuple[OpenDeal, list[Command]]], brokers: int, db_url: str
) -> tuple[Run, list[list[bool]]]:
    run = Run("kuayue", deals=len(scripts))
    shapes: list[list[bool]] = []
    queue = f"bench-{uuid.uuid4()}"
    gate = asyncio.Semaphore(brokers)

    async def one(cmd: OpenDeal, commands: list[Command]) -> None:
        async with gate:
            shape: list[bool] = []
            handle = await starter.start_deal(client, cmd, queue, wait_open=False)
            for i, command in enumerate(commands):
                t0 = time.perf_counter()
                answer = await starter.send_command(client, cmd.deal_id, command)
                run.record(i, (time.perf_counter() - t0) * 1000)
                shape.append(
                    any(
                        isinstance(e.payload, StageEntered | DeadlineExtended) and getattr(e.payload, "plan", None)
                        for e in answer.events
                    )
                )
            await handle.result()
            shapes.append(shape)

    async with build_worker(client, queue, db_url):
        t0 = time.perf_counter()
        await asyncio.gather(*(one(c, cs) for c, cs in scripts))
        run.seconds = time.perf_counter() - t0
    return run, shapes


async def run_baseline(client: Client, shapes: list[list[bool]], brokers: int) -> Run:
    run = Run("baseline", deals=len(shapes))
    queue = f"bare-{uuid.uuid4()}"
    gate = asyncio.Semaphore(brokers)

    async def one(shape: list[bool]) -> None:
        async with gate:
            handle = await client.start_workflow(BareDeal.run, id=f"bare-{uuid.uuid4()}", task_queue=queue)
            for i, plans in enumerate(shape):
                t0 = time.perf_counter()
                await handle.execute_update(BareDeal.execute, BareCommand(f"c{i}", plans, i == len(shape) - 1))
                run.record(i, (time.perf_counter() - t0) * 1000)
            await handle.result()

    async with Worker(
        client, task_queue=queue, workflows=[BareDeal], activities=[bare_plan, bare_append], max_concurrent_activities=64
    ):
        t0 = time.perf_counter()
        await asyncio.gather(*(one(s) for s in shapes))
        run.seconds = time.perf_counter() - t0
    return run


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=60)
    parser.add_argument("--brokers", type=int, default=20, help="deals driven at once")
    parser.add_argument("--database-url", help="read-model database (default: a temporary SQLite file)")
    parser.add_argument(
        "--stock-server",
        action="store_true",
        help="run the dev server with the CLI's own settings instead of Kuayue's (kuayue.devserver.DYNAMIC_CONFIG)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
            dev_server_log_level="error",
            dev_server_extra_args=[] if args.stock_server else dynamic_config_args(),
        )
        async with env:
            await run_kuayue(env.client, _scripts(min(6, args.deals)), args.brokers, db_url)  # warm-up
            kuayue, shapes = await run_kuayue(env.client, _scripts(args.deals), args.brokers, db_url)
            baseline = await run_baseline(env.client, shapes, args.brokers)
    server = "stock settings" if args.stock_server else "Kuayue's settings"
    print(f"database: {db_url.split('://')[0]}; {args.deals} deals, {args.brokers} at once, dev server (in memory, {server})")
    print(kuayue.report())
    print(baseline.report())
    print(f"throughput ratio kuayue/baseline: {kuayue.deals_per_second / baseline.deals_per_second:.2f} (target ≥ 0.6)")
    print(f"broker command p95: {kuayue.percentile(95):.1f} ms (target < 50 ms)")


if __name__ == "__main__":
    asyncio.run(main())
