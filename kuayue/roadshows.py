"""Start roadshows (路演) and send them commands against any Temporal address; used by the web pages.

Every refusal raises `starter.CommandRejected` with the domain's code and Chinese message. A start is checked with the
same `decide` the workflow runs before anything starts, so a refused start starts nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import DomainError
from domain.roadshow import RoadshowCommand, RoadshowState, ScheduleRoadshow, decide_roadshow, fold_roadshow
from starter import CommandRejected, wait_until_started
from store.roadshows import roadshow_row
from workflows.roadshow import (
    EXECUTE_UPDATE,
    RoadshowAnswer,
    RoadshowCommandRequest,
    RoadshowInput,
    RoadshowWorkflow,
    roadshow_workflow_id,
)


def check(commands: Sequence[RoadshowCommand], state: RoadshowState | None = None) -> RoadshowState:
    """The roadshow after `commands`, by the domain's rules; the first refusal raises CommandRejected."""
    state = state or RoadshowState()
    now = datetime.now(UTC)
    for command in commands:
        try:
            state = fold_roadshow(decide_roadshow(state, command, now), state)
        except DomainError as e:
            raise CommandRejected(e.code, e.message) from e
    return state


async def start(
    client: Client,
    sessions: sessionmaker[Session],
    task_queue: str,
    schedule: ScheduleRoadshow,
    opening: Sequence[RoadshowCommand] = (),
    timeout: float = 30.0,
) -> None:
    """Start the roadshow with its opening commands, and return once its opening events are archived."""
    check((schedule, *opening))
    roadshow_id = schedule.roadshow_id
    try:
        await client.start_workflow(
            RoadshowWorkflow.run,
            RoadshowInput(schedule=schedule, opening=tuple(opening)),
            id=roadshow_workflow_id(roadshow_id),
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError as e:
        raise CommandRejected("roadshow_exists", f"路演编号 {roadshow_id} 已被使用，请换一个编号") from e
    await _wait_archived(client, sessions, roadshow_id, timeout)


async def _wait_archived(client: Client, sessions: sessionmaker[Session], roadshow_id: str, timeout: float) -> None:
    def archived() -> bool | None:
        with sessions() as session:
            return True if roadshow_row(session, roadshow_id) is not None else None

    await wait_until_started(
        client.get_workflow_handle(roadshow_workflow_id(roadshow_id)),
        lambda: asyncio.to_thread(archived),
        timeout,
        f"路演 {roadshow_id} 在 {timeout:.0f} 秒内未完成登记；请检查 worker 是否在运行",
    )


async def send(client: Client, roadshow_id: str, command: RoadshowCommand) -> RoadshowAnswer:
    """Send a command through the roadshow's `execute` update; answered once its events are archived."""
    handle = client.get_workflow_handle(roadshow_workflow_id(roadshow_id))
    try:
        answer = await handle.execute_update(EXECUTE_UPDATE, RoadshowCommandRequest(command=command), result_type=RoadshowAnswer)
    except WorkflowUpdateFailedError as e:
        if isinstance(e.cause, ApplicationError):
            raise CommandRejected(e.cause.type or "rejected", e.cause.message) from e
        raise
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise CommandRejected("roadshow_not_running", f"路演 {roadshow_id} 已结束或不存在，不再接受操作") from e
        raise
    assert isinstance(answer, RoadshowAnswer)
    return answer
