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
from kuayue.devserver import find_executable
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
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.histories.record VERSION   (e.g. v2)")
    for p in asyncio.run(record(sys.argv[1])):
        print(p.relative_to(HERE.parents[1]))
