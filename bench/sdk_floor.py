"""The Temporal SDK's own replay cost for a workflow of a deal's shape, with no Kuayue code in it.

A deal's history is mostly broker commands: each an update whose handler runs one activity (the archive append) and
answers. `ShapeOfADeal` does exactly that and nothing else, so replaying its history measures what the SDK's
Replayer costs per history of that shape on this machine (activations, the bridge, the event loop) — the floor
under any DealWorkflow replay. Used by `bench/audit.py`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kuayue.devserver import find_executable


@activity.defn(name="bench.noop")
async def noop(value: int) -> int:
    return value


@workflow.defn(name="ShapeOfADeal")
class ShapeOfADeal:
    """Waits for updates; each runs one ordinary activity and answers, like a broker's command to a deal."""

    def __init__(self) -> None:
        self._commands = 0
        self._closed = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._closed)
        return self._commands

    @workflow.update
    async def execute(self, last: bool) -> int:
        self._commands = await workflow.execute_activity(
            noop, self._commands + 1, start_to_close_timeout=timedelta(seconds=10)
        )
        self._closed = last
        return self._commands


async def record(commands: int) -> WorkflowHistory:
    """Runs one workflow of `commands` updates on a fresh dev server and returns its history."""
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=str(find_executable("temporal"))) as env:
        task_queue = f"floor-{uuid.uuid4().hex}"
        async with Worker(env.client, task_queue=task_queue, workflows=[ShapeOfADeal], activities=[noop]):
            handle = await env.client.start_workflow(ShapeOfADeal.run, id=task_queue, task_queue=task_queue)
            for number in range(commands):
                await handle.execute_update(ShapeOfADeal.execute, number == commands - 1)
            await handle.result()
            return await handle.fetch_history()
