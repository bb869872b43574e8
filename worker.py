"""Runs a Kuayue worker: DealWorkflow plus every activity, on the configured task queue.

Workers scale out by running more of them on the same task queue; each needs the same database URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from temporalio.client import Client
from temporalio.worker import Interceptor, Worker

from activities.archive import EventArchive
from activities.calendar import WorkingDayCalendar
from activities.deadlines import DeadlinePlanner, load_policy
from domain.sla import SlaPolicy
from kuayue.settings import Settings
from kuayue.temporal import sandbox_runner
from store.db import make_engine, make_session_factory, migrate
from workflows.deal import DealWorkflow


def build_worker(
    client: Client,
    task_queue: str,
    database_url: str,
    *,
    policy: SlaPolicy | None = None,
    calendar: WorkingDayCalendar | None = None,
    interceptors: Sequence[Interceptor] = (),
    max_concurrent_activities: int = 64,
) -> Worker:
    """A worker with real activities on `database_url` (migrated to head first)."""
    migrate(database_url)
    sessions = make_session_factory(make_engine(database_url))
    archive = EventArchive(sessions)
    planner = DeadlinePlanner(policy or load_policy(), calendar or WorkingDayCalendar())
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[DealWorkflow],
        activities=[archive.append, planner.plan],
        workflow_runner=sandbox_runner(),
        interceptors=interceptors,
        max_concurrent_activities=max_concurrent_activities,
    )


async def run_worker(settings: Settings | None = None) -> None:
    from kuayue.logging import configure_logging
    from kuayue.temporal import connect

    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)
    client = await connect(settings)
    worker = build_worker(client, settings.task_queue, settings.database_url)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(run_worker())
