"""Publish, bid on, close, select and read open calls (揭榜挂帅) against any Temporal address.

Used by `kuayue open-call …` and the JSON API. Every refusal raises `starter.CommandRejected` with the domain's
code and Chinese message; a refused command started nothing and recorded nothing.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import starter
from domain.actors import Actor
from domain.errors import DomainError
from domain.open_call import (
    STATUS_ZH,
    Bid,
    DealSnapshot,
    InstitutionKind,
    OpenCallCommand,
    OpenCallContext,
    OpenCallEvent,
    OpenCallState,
    OpenCallStatus,
    PublishOpenCall,
    SolverQualifications,
    decide,
    initial_state,
)
from domain.registry import Achievement
from domain.state import DealState
from registry import records
from registry.tables import Kind
from starter import CommandRejected, wait_until_started
from workflows.open_call_messages import (
    OPEN_CALL_EVENTS_QUERY,
    OPEN_CALL_EXECUTE,
    OPEN_CALL_STATE_QUERY,
    OPEN_CALL_WORKFLOW,
    OpenCallAnswer,
    OpenCallInput,
    OpenCallOutcome,
    OpenCallRequest,
    open_call_workflow_id,
)


async def publish(
    client: Client,
    task_queue: str | None,
    actor: Actor,
    deal_id: str,
    open_call_id: str,
    deadline: datetime,
    qualifications: SolverQualifications,
    *,
    now: datetime | None = None,
) -> OpenCallState:
    """Publish the deal's demand as an open call; refused (before anything starts) by the same rules the workflow runs.

    `task_queue` None: the deal's own task queue, so the web app needs no worker settings. `now`: the clock to check
    the deadline against before starting (default this machine's; tests on simulated time pass the server's).
    """
    deal = await _deal_state(client, deal_id)
    if deal.stage is None or deal.demand is None or deal.broker is None or deal.centre is None:
        raise CommandRejected("deal_not_open", f"案件 {deal_id} 尚未创建完成，不能发布揭榜")
    snapshot = DealSnapshot(
        deal_id=deal_id, stage=deal.stage, broker_id=deal.broker.broker_id, centre_id=deal.centre.centre_id, demand=deal.demand
    )
    command = PublishOpenCall(
        command_id=f"publish:{open_call_id}",
        actor=actor,
        open_call_id=open_call_id,
        deal=snapshot,
        deadline=deadline,
        qualifications=qualifications,
    )
    try:
        decide(initial_state(), command, OpenCallContext(now=now or datetime.now(UTC)))
    except DomainError as e:
        raise CommandRejected(e.code, e.message) from e
    if task_queue is None:
        task_queue = (await client.get_workflow_handle(starter.workflow_id(deal_id)).describe()).task_queue
    wid = open_call_workflow_id(open_call_id)
    try:
        await client.start_workflow(
            OPEN_CALL_WORKFLOW,
            OpenCallInput(publish=command),
            id=wid,
            task_queue=task_queue,
            result_type=OpenCallOutcome,
            # A call the workflow refused (its clock disagreed with ours) leaves its id free; any other run keeps it.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError as e:
        raise CommandRejected("open_call_exists", f"揭榜编号 {open_call_id} 已被使用（工作流 {wid}），请换一个编号") from e
    return await _wait_published(client, open_call_id)


async def _deal_state(client: Client, deal_id: str) -> DealState:
    try:
        return await starter.deal_state(client, deal_id)
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise CommandRejected("unknown_deal", f"没有编号为 {deal_id} 的案件") from e
        raise


async def _wait_published(client: Client, open_call_id: str, timeout: float = 30.0) -> OpenCallState:
    """The call's state once published; the workflow's own refusal (e.g. its clock is past the deadline) is raised."""

    async def published() -> OpenCallState | None:
        state = await open_call_state(client, open_call_id)
        return None if state.status == OpenCallStatus.DRAFT else state

    return await wait_until_started(
        client.get_workflow_handle(open_call_workflow_id(open_call_id), result_type=OpenCallOutcome),
        published,
        timeout,
        f"揭榜 {open_call_id} 在 {timeout:.0f} 秒内未完成发布；请检查 worker 是否在运行",
    )


def bid_for(
    sessions: sessionmaker[Session],
    achievement_id: str,
    institution_kind: InstitutionKind,
    proposal: str,
    price_fen: int | None = None,
) -> Bid:
    """A bid on a registered achievement: its owner, readiness and region come from the registry, not from the bidder."""
    with sessions() as session:
        achievement = records.get(session, Kind.ACHIEVEMENTS, achievement_id)
    if not isinstance(achievement, Achievement):
        raise CommandRejected("unknown_achievement", f"成果登记号「{achievement_id}」不存在；只能以已登记的成果揭榜")
    return Bid(
        achievement=achievement.ref(),
        institution_kind=institution_kind,
        trl=achievement.trl,
        region_code=achievement.region_code,
        proposal=proposal,
        price_fen=price_fen if price_fen is not None else achievement.asking_price_fen,
    )


# Temporal admits 10 updates in flight per workflow (history.maxInFlightUpdates); near a deadline more bidders than
# that may send at once, so a bid that meets the limit waits and is sent again (its command id makes that safe).
# The server may also abort an update in flight ("workflow update was aborted", UNAVAILABLE) when it reloads the
# workflow under load; the update id (the command id) lets a resend find the first one's outcome.
_TRANSIENT = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE)
_BUSY_RETRIES = 40
_BUSY_PAUSE = 0.05


async def send(client: Client, open_call_id: str, command: OpenCallCommand) -> OpenCallAnswer:
    """Send a bid, a close or a selection as an update; a refusal raises CommandRejected and records nothing."""
    pause = _BUSY_PAUSE
    for _ in range(_BUSY_RETRIES):
        try:
            return await _send_once(client, open_call_id, command)
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as e:
            if not _busy(e):
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 1.0)
    return await _send_once(client, open_call_id, command)


def _busy(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, RPCError) and cause.status in _TRANSIENT:
            return True
        cause = cause.__cause__
    return False


async def _send_once(client: Client, open_call_id: str, command: OpenCallCommand) -> OpenCallAnswer:
    handle = client.get_workflow_handle(open_call_workflow_id(open_call_id))
    try:
        answer = await handle.execute_update(
            OPEN_CALL_EXECUTE, OpenCallRequest(command=command), id=command.command_id, result_type=OpenCallAnswer
        )
    except WorkflowUpdateFailedError as e:
        if isinstance(e.cause, ApplicationError):
            raise CommandRejected(e.cause.type or "rejected", e.cause.message) from e
        raise
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise await _ended_or_missing(client, open_call_id) from e
        raise
    assert isinstance(answer, OpenCallAnswer)
    return answer


async def _ended_or_missing(client: Client, open_call_id: str) -> CommandRejected:
    try:
        state = await open_call_state(client, open_call_id)
    except RPCError:
        return CommandRejected("unknown_open_call", f"没有编号为 {open_call_id} 的揭榜")
    ended = STATUS_ZH[state.status] + (f" {state.winner_bid_id}" if state.winner_bid_id else "")
    return CommandRejected("open_call_ended", f"揭榜 {open_call_id} 已结束（{ended}），不再接受任何操作")


async def open_call_state(client: Client, open_call_id: str) -> OpenCallState:
    handle = client.get_workflow_handle(open_call_workflow_id(open_call_id))
    state = await handle.query(OPEN_CALL_STATE_QUERY, result_type=OpenCallState)
    assert isinstance(state, OpenCallState)
    return state


async def open_call_events(client: Client, open_call_id: str) -> list[OpenCallEvent]:
    handle = client.get_workflow_handle(open_call_workflow_id(open_call_id))
    events = await handle.query(OPEN_CALL_EVENTS_QUERY, result_type=list[OpenCallEvent])
    return list(events)


async def visible_state(client: Client, open_call_id: str) -> OpenCallState:
    """The call's state, or CommandRejected('unknown_open_call') when there is no such call."""
    try:
        return await open_call_state(client, open_call_id)
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise CommandRejected("unknown_open_call", f"没有编号为 {open_call_id} 的揭榜") from e
        raise
