"""A running Kuayue worker (real activities, real database) on the test Temporal server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import starter
from domain.commands import Command, OpenDeal
from domain.events import Event
from domain.projection import DealSummary
from store.db import make_engine, make_session_factory
from store.queries import deal_row, events_of
from tests.factories import open_command
from worker import build_worker
from workflows.messages import Answer, workflow_id


@dataclass
class Kuayue:
    client: Client
    task_queue: str
    sessions: sessionmaker[Session]
    search_attributes: bool = True
    max_events_per_run: int = 0
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)
    worker: Worker | None = None  # the running worker, for tests that stop it

    async def open(self, path: Path) -> tuple[OpenDeal, WorkflowHandle[Any, Any]]:
        cmd = open_command(path, deal_id=f"{path.stem[:8]}-{uuid.uuid4().hex[:8]}")
        return cmd, await self.start(cmd)

    async def start(self, cmd: OpenDeal) -> WorkflowHandle[Any, Any]:
        handle = await starter.start_deal(
            self.client,
            cmd,
            self.task_queue,
            max_events_per_run=self.max_events_per_run,
            search_attributes=self.search_attributes,
        )
        self.started.append(handle)
        return handle

    async def end_open_deals(self) -> None:
        """Terminate the test's deals still running, so their timers do not outlive the worker."""
        for handle in self.started:
            with contextlib.suppress(RPCError):
                await handle.terminate(reason="test finished")

    async def act(self, deal_id: str, command: Command) -> Answer:
        return await starter.send_command(self.client, deal_id, command)

    def archive(self, deal_id: str) -> list[Event]:
        with self.sessions() as s:
            return events_of(s, deal_id)

    def row(self, deal_id: str) -> DealSummary | None:
        with self.sessions() as s:
            return deal_row(s, deal_id)

    async def history_length(self, deal_id: str) -> int:
        history = await self.client.get_workflow_handle(workflow_id(deal_id)).fetch_history()
        return len(history.events)


@contextlib.asynccontextmanager
async def running_kuayue(
    client: Client, db_url: str, task_queue: str | None = None, **worker_options: Any
) -> AsyncIterator[Kuayue]:
    """A real worker on `db_url` (`worker_options` go to build_worker) and a Kuayue to drive it; open deals end after."""
    queue = task_queue or f"kuayue-test-{uuid.uuid4()}"
    engine = make_engine(db_url)
    try:
        async with build_worker(client, queue, db_url, **worker_options) as worker:
            kuayue = Kuayue(client, queue, make_session_factory(engine), worker=worker)
            yield kuayue
            await kuayue.end_open_deals()
    finally:
        engine.dispose()


@pytest.fixture
async def kuayue(temporal_env: WorkflowEnvironment, db_url: str, task_queue: str) -> AsyncIterator[Kuayue]:
    async with running_kuayue(temporal_env.client, db_url, task_queue) as kuayue:
        yield kuayue
