"""Start, inspect and advance deals against any Temporal address (the `kuayue deal …` commands use these)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.actors import Actor
from domain.commands import Command, Context, OpenDeal
from domain.decider import decide, initial_state
from domain.errors import DomainError
from domain.state import DealState
from workflows.messages import (
    ALLOWED_QUERY,
    EVENTS_QUERY,
    EXECUTE_UPDATE,
    STATE_QUERY,
    WORKFLOW_NAME,
    AllowedRequest,
    Answer,
    CommandRequest,
    DealInput,
    EventsPage,
    EventsRequest,
    workflow_id,
)

_COMMAND = TypeAdapter[Command](Command)


class CommandRejected(Exception):
    """A deal refused a command: `code` for machines, `message` (Chinese) for people. Nothing was recorded."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def load_open_command(path: Path, actor: Actor) -> OpenDeal:
    """An OpenDeal from a deal file ({deal_id, demand, broker, centre}); errors name the field and value."""
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        return OpenDeal(command_id=f"open:{data.get('deal_id', '')}", actor=actor, **data)
    except ValidationError as e:
        raise CommandRejected("invalid_deal_file", _validation_message(path.name, e)) from e


def parse_command(command_type: str, payload: dict[str, Any], actor: Actor, command_id: str | None = None) -> Command:
    """A command of `command_type` from a JSON payload; a bad payload is reported field by field."""
    body = {**payload, "type": command_type, "actor": actor, "command_id": command_id or str(uuid.uuid4())}
    try:
        return _COMMAND.validate_python(body)
    except ValidationError as e:
        raise CommandRejected("invalid_command", _validation_message(command_type, e)) from e


def _validation_message(what: str, error: ValidationError) -> str:
    lines = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}（收到 {err.get('input')!r}）" for err in error.errors()]
    return f"{what} 有 {len(lines)} 处错误：\n  " + "\n  ".join(lines)


async def start_deal(
    client: Client, command: OpenDeal, task_queue: str, *, max_events_per_run: int = 0, search_attributes: bool = True
) -> WorkflowHandle[Any, Any]:
    """Start the deal's workflow; refuse (naming the existing run) if a deal with this id was ever started."""
    try:
        decide(initial_state(), command, Context(now=datetime.now(UTC)))  # refuse bad input before starting anything
    except DomainError as e:
        raise CommandRejected(e.code, e.message) from e
    wid = workflow_id(command.deal_id)
    try:
        return await client.start_workflow(
            WORKFLOW_NAME,
            DealInput(open=command, max_events_per_run=max_events_per_run, upsert_search_attributes=search_attributes),
            id=wid,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError as e:
        existing = client.get_workflow_handle(wid)
        desc = await existing.describe()
        raise CommandRejected(
            "deal_exists",
            f"案件 {command.deal_id} 已存在：工作流 {wid}（run {desc.run_id}，状态 {desc.status.name if desc.status else '?'}），"
            "不能以同一编号再建案件",
        ) from e


async def wait_until_open(client: Client, deal_id: str, timeout: float = 30.0) -> DealState:
    """The deal's state once its opening events (with the first stage's deadlines) are recorded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = await deal_state(client, deal_id)
        if state.stage is not None:
            return state
        if loop.time() > deadline:
            raise TimeoutError(f"案件 {deal_id} 在 {timeout:.0f} 秒内未完成创建；请检查 worker 是否在运行")
        await asyncio.sleep(0.05)


async def send_command(client: Client, deal_id: str, command: Command) -> Answer:
    """Send a command as an update; a refusal raises CommandRejected with the domain's code and message."""
    handle = client.get_workflow_handle(workflow_id(deal_id))
    try:
        return await handle.execute_update(EXECUTE_UPDATE, CommandRequest(command=command), result_type=Answer)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError):
            raise CommandRejected(cause.type or "rejected", cause.message) from e
        raise
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise await _closed_or_missing(client, deal_id) from e
        raise


async def _closed_or_missing(client: Client, deal_id: str) -> CommandRejected:
    try:
        desc = await client.get_workflow_handle(workflow_id(deal_id)).describe()
    except RPCError:
        return CommandRejected("unknown_deal", f"没有编号为 {deal_id} 的案件")
    if desc.status != WorkflowExecutionStatus.RUNNING:
        state = await deal_state(client, deal_id)
        return CommandRejected("deal_closed", f"案件 {deal_id} 已处于终态 {state.stage}，不再接受任何操作")
    return CommandRejected("unknown_deal", f"案件 {deal_id} 暂时无法访问")


async def deal_state(client: Client, deal_id: str) -> DealState:
    return await client.get_workflow_handle(workflow_id(deal_id)).query(STATE_QUERY, result_type=DealState)


async def deal_events(client: Client, deal_id: str, since_seq: int = 0) -> EventsPage:
    return await client.get_workflow_handle(workflow_id(deal_id)).query(
        EVENTS_QUERY, EventsRequest(since_seq=since_seq), result_type=EventsPage
    )


async def allowed_commands(client: Client, deal_id: str, actor: Actor | None = None) -> list[str]:
    return await client.get_workflow_handle(workflow_id(deal_id)).query(
        ALLOWED_QUERY, AllowedRequest(actor=actor), result_type=list[str]
    )


async def list_deals(client: Client, stage: str | None = None, query: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Deals as Temporal's visibility sees them (search attributes), newest first."""
    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    if stage:
        clauses.append(f"KuayueStage = '{stage}'")
    if query:
        clauses.append(f"({query})")
    async for wf in client.list_workflows(" AND ".join(clauses)):
        attrs = {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in wf.search_attributes.items()}
        yield {"workflow_id": wf.id, "status": wf.status.name if wf.status else "?", **attrs}
