"""Runs a Kuayue worker: DealWorkflow, OpenCallWorkflow and every activity, on the configured task queue.

Workers scale out by running more of them on the same task queue; each needs the same database URL.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from datetime import timedelta

import httpx
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.worker import Interceptor, Worker

from activities.archive import EventArchive
from activities.calendar import WorkingDayCalendar
from activities.deadlines import DeadlinePlanner, load_policy
from activities.history import HistoryKeeping
from activities.matching import DealMatching
from activities.open_call import OpenCallArchive, OpenCallAward
from activities.partners.calls import PartnerCalls
from activities.partners.planning import AnswerPlanner
from activities.roadshow_archive import RoadshowArchive
from activities.roadshows import RoadshowForwarding
from domain.partners import PartnerEndpoint, RegistrationRules
from domain.projection import KeepClosedRequest
from domain.sla import SlaPolicy
from kuayue.partners import load_registration_rules
from kuayue.settings import Settings
from kuayue.temporal import LeanWorker, sandbox_runner
from store.db import make_engine, make_session_factory, migrate
from workflows.deal import DealWorkflow
from workflows.history_keeper import HistoryKeeperWorkflow
from workflows.open_call import OpenCallWorkflow
from workflows.roadshow import RoadshowWorkflow

HISTORY_SCHEDULE_ID = "kuayue-history-keeper"
HISTORY_EVERY = timedelta(minutes=10)
DEFAULT_CALLBACK_BASE_URL = "http://127.0.0.1:8000"  # the web service of `kuayue up`
PARTNER_TIMEOUT_SECONDS = 10.0


def build_worker(
    client: Client,
    task_queue: str,
    database_url: str,
    *,
    policy: SlaPolicy | None = None,
    calendar: WorkingDayCalendar | None = None,
    interceptors: Sequence[Interceptor] = (),
    max_concurrent_activities: int = 64,
    partners: Mapping[str, PartnerEndpoint] | None = None,
    callback_base_url: str = DEFAULT_CALLBACK_BASE_URL,
    registration_rules: RegistrationRules | None = None,
    partner_http: httpx.AsyncClient | None = None,
) -> Worker:
    """A worker with real activities on `database_url` (migrated to head first).

    `partners` is the partner directory (kuayue.partners); `callback_base_url` is where partners call back (the
    web service); `partner_http` the HTTP client for partner calls (default: 10 s timeouts, owned by the worker).
    """
    migrate(database_url)
    sessions = make_session_factory(make_engine(database_url))
    archive = EventArchive(sessions)
    planner = DeadlinePlanner(policy or load_policy(), calendar or WorkingDayCalendar())
    keeping = HistoryKeeping(client, sessions)
    matching = DealMatching(sessions)
    answer_planner = AnswerPlanner(registration_rules or load_registration_rules(), planner)
    http = partner_http or httpx.AsyncClient(timeout=httpx.Timeout(PARTNER_TIMEOUT_SECONDS))
    calls = PartnerCalls(http, partners or {}, callback_base_url)
    open_call_archive, open_call_award = OpenCallArchive(sessions), OpenCallAward(client)
    return LeanWorker(
        client,
        task_queue=task_queue,
        workflows=[DealWorkflow, HistoryKeeperWorkflow, OpenCallWorkflow, RoadshowWorkflow],
        activities=[
            archive.append,
            planner.plan,
            keeping.keep_closed,
            matching.propose,
            open_call_archive.append,
            open_call_award.award,
            answer_planner.plan_answer,
            calls.deliver,
            RoadshowForwarding(client).forward,
            RoadshowArchive(sessions).append,
        ],
        workflow_runner=sandbox_runner(),
        interceptors=interceptors,
        max_concurrent_activities=max_concurrent_activities,
    )


async def ensure_history_schedule(client: Client, task_queue: str) -> bool:
    """Create the Temporal Schedule that keeps closed deals' histories every 10 minutes; True if created now."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            HistoryKeeperWorkflow.run, KeepClosedRequest(), id=f"{HISTORY_SCHEDULE_ID}-run", task_queue=task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=HISTORY_EVERY)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(HISTORY_SCHEDULE_ID, schedule)
    except ScheduleAlreadyRunningError:
        return False
    return True


async def run_worker(settings: Settings | None = None) -> None:
    from kuayue.logging import configure_logging
    from kuayue.temporal import connect

    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)
    client = await connect(settings)
    from kuayue.partners import load_partner_directory, partners_file

    worker = build_worker(
        client,
        settings.task_queue,
        settings.database_url,
        partners=load_partner_directory(partners_file(settings.data_dir)),
        callback_base_url=os.environ.get("KUAYUE_CALLBACK_BASE_URL") or DEFAULT_CALLBACK_BASE_URL,
    )
    await ensure_history_schedule(client, settings.task_queue)
    await worker.run()


if __name__ == "__main__":
    asyncio.run(run_worker())
