"""Closed deals' histories are kept automatically: the keeper workflow, and its schedule."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from domain.commands import WithdrawDeal
from domain.projection import KeepClosedRequest, KeepClosedResult
from examples.lifecycle import broker_actor
from store.models import DealHistoryRecord
from tests.factories import EXAMPLE_FILES
from tests.workflows.conftest import Kuayue
from worker import HISTORY_SCHEDULE_ID, ensure_history_schedule
from workflows.history_keeper import HistoryKeeperWorkflow


def kept_runs(sessions: sessionmaker[Session], deal_id: str) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).where(DealHistoryRecord.deal_id == deal_id)) or 0)


async def run_keeper(client: Client, task_queue: str) -> KeepClosedResult:
    return await client.execute_workflow(
        HistoryKeeperWorkflow.run, KeepClosedRequest(lookback_hours=1), id=f"keeper-{uuid.uuid4()}", task_queue=task_queue
    )


async def test_the_keeper_stores_closed_deals_once_and_leaves_open_ones(kuayue: Kuayue) -> None:
    closed, handle = await kuayue.open(EXAMPLE_FILES[0])
    still_open, _ = await kuayue.open(EXAMPLE_FILES[1])
    await kuayue.act(closed.deal_id, WithdrawDeal(command_id="w", actor=broker_actor(closed), reason="企业放弃"))
    await handle.result()
    for _ in range(100):  # visibility learns of the close shortly after it happens
        result = await run_keeper(kuayue.client, kuayue.task_queue)
        if kept_runs(kuayue.sessions, closed.deal_id):
            break
        await asyncio.sleep(0.2)
    assert kept_runs(kuayue.sessions, closed.deal_id) == 1
    assert kept_runs(kuayue.sessions, still_open.deal_id) == 0
    again = await run_keeper(kuayue.client, kuayue.task_queue)
    assert kept_runs(kuayue.sessions, closed.deal_id) == 1  # a second sweep stores nothing twice
    assert again.runs_stored == 0 and again.closed_deals >= 1 and result.closed_deals >= 1


async def test_the_schedule_is_created_once(kuayue: Kuayue) -> None:
    queue = f"schedule-{uuid.uuid4()}"
    created = await ensure_history_schedule(kuayue.client, queue)
    assert await ensure_history_schedule(kuayue.client, queue) is False
    description = await kuayue.client.get_schedule_handle(HISTORY_SCHEDULE_ID).describe()
    assert description.schedule.spec.intervals[0].every.total_seconds() == 600
    assert created or description.id == HISTORY_SCHEDULE_ID
