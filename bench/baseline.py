"""The baseline for bench/lifecycle.py: a bare workflow of the same shape as DealWorkflow.

Same start (two activities), same updates, and per update the same number of activities (an append,
plus a plan when Kuayue planned a stage), but with trivial bodies: what Temporal alone costs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class BareCommand:
    command_id: str
    plans: bool
    last: bool


@activity.defn(name="bare.plan")
async def bare_plan(n: int) -> int:
    return n


@activity.defn(name="bare.append")
async def bare_append(n: int) -> int:
    return n


@workflow.defn(name="BareDeal")
class BareDeal:
    def __init__(self) -> None:
        self._done = False
        self._seq = 0
        self._lock = asyncio.Lock()

    @workflow.run
    async def run(self) -> int:
        async with self._lock:
            await self._step(plans=True)
        await workflow.wait_condition(lambda: self._done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._seq

    async def _step(self, plans: bool) -> None:
        if plans:
            await workflow.execute_local_activity(bare_plan, self._seq, start_to_close_timeout=timedelta(seconds=10))
        # An ordinary activity, as DealWorkflow's append is since DURABLE_APPEND_PATCH (the plan stays local).
        await workflow.execute_activity(bare_append, self._seq, start_to_close_timeout=timedelta(seconds=30))
        self._seq += 1

    @workflow.update
    async def execute(self, command: BareCommand) -> int:
        await workflow.wait_condition(lambda: self._seq > 0)
        async with self._lock:
            await self._step(command.plans)
            self._done = command.last
            return self._seq
