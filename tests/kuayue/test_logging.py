"""Log lines carry the deal: the interceptor binds it for activities and workflows, and replays stay silent."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kuayue.logging import configure_logging, deal_id_from_workflow_id, workflow_logger
from kuayue.temporal import sandbox_runner

LogLines = Callable[[], list[dict[str, Any]]]


@activity.defn
async def archive_step(step: str) -> str:
    structlog.stdlib.get_logger("test.activity").info("archiving", step=step)
    return step


@workflow.defn
class LoggedDeal:
    @workflow.run
    async def run(self) -> None:
        log = workflow_logger(stage="MATCHING")
        log.info("deal opened")
        await workflow.execute_activity(archive_step, "one", start_to_close_timeout=timedelta(seconds=30))
        log.info("deal advanced")
        await workflow.execute_activity(archive_step, "two", start_to_close_timeout=timedelta(seconds=30))
        # Any structlog logger in workflow code gets the interceptor's fields and stays quiet in replays.
        structlog.stdlib.get_logger("test.plain").info("plain logger in workflow")


@pytest.fixture
def json_log_lines() -> Iterator[LogLines]:
    """Configure logging as production does (JSON) into a buffer; undo it afterwards."""
    buffer = io.StringIO()
    configure_logging("json", logging.DEBUG, stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == "kuayue"]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    structlog.reset_defaults()


def test_deal_ids_come_from_deal_workflow_ids() -> None:
    assert deal_id_from_workflow_id("deal-fz-2026-0001") == "fz-2026-0001"
    assert deal_id_from_workflow_id("open-call-17") is None


async def run_logged_deal(env: WorkflowEnvironment, task_queue: str, deal_id: str) -> str:
    """Run LoggedDeal to completion and return its run id."""
    # No workflow cache: every workflow task replays the history from the start, so every earlier line would
    # be logged again if replays were not silent.
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[LoggedDeal],
        activities=[archive_step],
        workflow_runner=sandbox_runner(),
        max_cached_workflows=0,
    ):
        handle = await env.client.start_workflow(LoggedDeal.run, id=f"deal-{deal_id}", task_queue=task_queue)
        await handle.result()
    assert handle.first_execution_run_id is not None
    return handle.first_execution_run_id


async def test_every_line_of_a_deal_carries_its_ids_and_replays_log_nothing(
    temporal_env: WorkflowEnvironment, task_queue: str, json_log_lines: LogLines
) -> None:
    deal_id = f"fz-{uuid.uuid4().hex[:8]}"
    run_id = await run_logged_deal(temporal_env, task_queue, deal_id)
    ids = {"deal_id": deal_id, "workflow_id": f"deal-{deal_id}", "run_id": run_id}
    lines = [line for line in json_log_lines() if line.get("workflow_id") == ids["workflow_id"]]
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)

    archiving = by_event["archiving"]
    assert [line["step"] for line in archiving] == ["one", "two"]
    for line in archiving:
        assert line | ids == line and line["activity_type"] == "archive_step" and line["level"] == "info"

    for event in ("deal opened", "deal advanced", "plain logger in workflow"):
        assert len(by_event[event]) == 1, f"{event!r} logged {len(by_event[event])} times"
        assert by_event[event][0] | ids == by_event[event][0]
        assert by_event[event][0]["workflow_type"] == "LoggedDeal"
    assert by_event["deal opened"][0]["stage"] == "MATCHING"

    started = by_event["workflow started"]  # the client side, at debug level
    assert started[0]["deal_id"] == deal_id and started[0]["workflow_type"] == "LoggedDeal"


async def test_the_workflow_logger_is_replay_safe_without_kuayue_configuration(
    temporal_env: WorkflowEnvironment, task_queue: str
) -> None:
    # capture_logs swaps in structlog's bare processor list: the replay filter of configure_logging is gone.
    with structlog.testing.capture_logs() as logs:
        await run_logged_deal(temporal_env, task_queue, f"fz-{uuid.uuid4().hex[:8]}")
    events = [line["event"] for line in logs]
    assert events.count("deal opened") == 1 and events.count("deal advanced") == 1


def test_the_console_format_is_for_people() -> None:
    buffer = io.StringIO()
    configure_logging("console", stream=buffer)
    try:
        with structlog.contextvars.bound_contextvars(deal_id="fz-1"):
            structlog.stdlib.get_logger("test").info("deal opened", stage="MATCHING")
        logging.getLogger("temporalio.worker").warning("from the standard library")
    finally:
        configure_logging("json", logging.WARNING, stream=io.StringIO())
        structlog.reset_defaults()
    first, second = buffer.getvalue().splitlines()
    assert "deal opened" in first and "deal_id=fz-1" in first and "stage=MATCHING" in first
    assert "from the standard library" in second and "temporalio.worker" in second
    assert not first.startswith("{")
