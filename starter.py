"""Start, inspect and advance deals against any Temporal address (the `kuayue deal …` commands use these)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
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
    DealOutcome,
    EventsPage,
    EventsRequest,
    workflow_id,
)

_COMMAND = TypeAdapter[Command](Command)


_T = TypeVar("_T")


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
    lines = []
    for err in error.errors():
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing":
            lines.append(f"{where}: 缺少必填字段")
        elif err["type"] == "extra_forbidden":
            lines.append(f"{where}: 不允许的字段（{what} 没有此字段）")
        else:
            lines.append(f"{where}: {err['msg']}（收到 {err.get('input')!r}）")
    return f"{what} 有 {len(lines)} 处错误：\n  " + "\n  ".join(lines)


async def start_deal(
    client: Client,
    command: OpenDeal,
    task_queue: str,
    *,
    max_events_per_run: int = 0,
    search_attributes: bool = True,
    wait_open: bool = True,
) -> WorkflowHandle[Any, Any]:
    """Start the deal's workflow; refuse (naming the existing run) if a deal with this id was ever started.

    With `wait_open`, return once the opening events are archived, so the deal is in every list at once.
    """
    try:
        decide(initial_state(), command, Context(now=datetime.now(UTC)))  # refuse bad input before starting anything
    except DomainError as e:
        raise CommandRejected(e.code, e.message) from e
    wid = workflow_id(command.deal_id)
    try:
        handle = await client.start_workflow(
            WORKFLOW_NAME,
            DealInput(open=command, max_events_per_run=max_events_per_run, upsert_search_attributes=search_attributes),
            id=wid,
            task_queue=task_queue,
            result_type=DealOutcome,
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
    if wait_open:
        await wait_until_open(client, command.deal_id)
    return handle


async def wait_until_open(client: Client, deal_id: str, timeout: float = 30.0) -> DealState:
    """The deal's state once its opening events (with the first stage's deadlines) are recorded."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = 0.005
    while True:
        state = await deal_state(client, deal_id)
        if state.stage is not None:
            return state
        if loop.time() > deadline:
            raise TimeoutError(f"案件 {deal_id} 在 {timeout:.0f} 秒内未完成创建；请检查 worker 是否在运行")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)


async def send_command(client: Client, deal_id: str, command: Command) -> Answer:
    """Send a command as an update; a refusal raises CommandRejected with the domain's code and message."""
    handle = client.get_workflow_handle(workflow_id(deal_id))
    try:
        answer = await handle.execute_update(EXECUTE_UPDATE, CommandRequest(command=command), result_type=Answer)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError):
            raise CommandRejected(cause.type or "rejected", cause.message) from e
        raise
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise await _closed_or_missing(client, deal_id) from e
        raise
    assert isinstance(answer, Answer)
    return answer


async def wait_until_started(
    handle: WorkflowHandle[Any, Any], ready: Callable[[], Awaitable[_T | None]], timeout: float, too_slow: str
) -> _T:
    """Poll `ready()` (backing off from 5 ms to 200 ms) until it gives a value; a workflow that ended first raises its
    refusal as CommandRejected, and after `timeout` seconds TimeoutError(`too_slow`) says what to check."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    pause = 0.005
    while True:
        found = await ready()
        if found is not None:
            return found
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            try:
                await handle.result()
            except WorkflowFailureError as e:
                if isinstance(e.cause, ApplicationError):
                    raise CommandRejected(e.cause.type or "rejected", e.cause.message) from e
                raise
        if loop.time() > give_up:
            raise TimeoutError(too_slow)
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.2)


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
    state = await client.get_workflow_handle(workflow_id(deal_id)).query(STATE_QUERY, result_type=DealState)
    assert isinstance(state, DealState)
    return state


async def deal_events(client: Client, deal_id: str, since_seq: int = 0) -> EventsPage:
    page = await client.get_workflow_handle(workflow_id(deal_id)).query(
        EVENTS_QUERY, EventsRequest(since_seq=since_seq), result_type=EventsPage
    )
    assert isinstance(page, EventsPage)
    return page


async def allowed_commands(client: Client, deal_id: str, actor: Actor | None = None) -> list[str]:
    offered = await client.get_workflow_handle(workflow_id(deal_id)).query(
        ALLOWED_QUERY, AllowedRequest(actor=actor), result_type=list[str]
    )
    return [str(c) for c in offered]


async def list_deals(client: Client, stage: str | None = None, query: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Deals as Temporal's visibility sees them (search attributes), newest first."""
    clauses = [f"WorkflowType = '{WORKFLOW_NAME}'"]
    if stage:
        clauses.append(f"KuayueStage = '{stage}'")
    if query:
        clauses.append(f"({query})")
    async for wf in client.list_workflows(" AND ".join(clauses)):
        attrs = {
            k: (v[0] if isinstance(v, list) and len(v) == 1 else v)
            for k, v in wf.search_attributes.items()
            if k.startswith("Kuayue")
        }
        yield {"workflow_id": wf.id, "status": wf.status.name if wf.status else "?", **attrs}


# --------------------------------------------------------------------------------------------- CLI

DEFAULT_ACTOR = "operator:hub_admin:hub"


def parse_actor(text: str) -> Actor:
    """`ID:ROLE[:CENTRE]`, e.g. `ja-broker-liu:broker:ja-centre`; roles: broker, manager, hub_admin, auditor."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise CommandRejected("invalid_actor", f"身份「{text}」格式应为 ID:角色[:中心]，如 ja-broker-liu:broker:ja-centre")
    try:
        return Actor.model_validate({"id": parts[0], "role": parts[1], "centre_id": parts[2] if len(parts) == 3 else None})
    except ValidationError as e:
        raise CommandRejected("invalid_actor", _validation_message("身份", e)) from e


def add_deal_commands(subparsers: Any) -> None:
    """Register `deal start|show|act|list|events` on an argparse subparsers object."""
    deal = subparsers.add_parser("deal", help="start, inspect and advance deals")
    deal.add_argument(
        "--as", dest="actor", default=None, help=f"who acts, ID:ROLE[:CENTRE] (default $KUAYUE_ACTOR or {DEFAULT_ACTOR})"
    )
    sub = deal.add_subparsers(dest="deal_command", required=True)
    start = sub.add_parser("start", help="start a deal from a JSON file {deal_id, demand, broker, centre}")
    start.add_argument("files", nargs="+", type=Path)
    show = sub.add_parser("show", help="a deal's current state and the commands allowed now")
    show.add_argument("deal_id")
    act = sub.add_parser("act", help="send a command, e.g. `kuayue deal act JA-2026-001 ValidateDemand payload.json`")
    act.add_argument("deal_id")
    act.add_argument("command_type")
    act.add_argument("payload", nargs="?", type=Path, help="JSON file with the command's fields (default: none)")
    act.add_argument("--command-id", help="client command id; repeat it to retry safely (default: a new uuid)")
    events = sub.add_parser("events", help="a deal's events since a seq")
    events.add_argument("deal_id")
    events.add_argument("--since", type=int, default=0)
    listing = sub.add_parser("list", help="deals as Temporal's visibility sees them")
    listing.add_argument("--stage", help="e.g. MATCHING")
    listing.add_argument("--query", help="extra visibility query, e.g. \"KuayueCentre = 'hub'\"")
    deal.set_defaults(handler=lambda args: asyncio.run(run_deal_command(args)))


async def run_deal_command(args: Any) -> int:
    import os

    from kuayue.settings import Settings
    from kuayue.temporal import connect

    settings = getattr(args, "settings", None) or Settings.from_env()
    try:
        actor = parse_actor(args.actor or os.environ.get("KUAYUE_ACTOR") or DEFAULT_ACTOR)
        client = await connect(settings)
        return await _dispatch(client, settings.task_queue, actor, args)
    except CommandRejected as e:
        print(f"拒绝 [{e.code}] {e.message}")
        return 2


async def _dispatch(client: Client, task_queue: str, actor: Actor, args: Any) -> int:
    match args.deal_command:
        case "start":
            for path in args.files:
                opening = load_open_command(path, actor)
                handle = await start_deal(client, opening, task_queue)
                print(f"已创建案件 {opening.deal_id}（工作流 {handle.id}）")
        case "show":
            state = await deal_state(client, args.deal_id)
            print(state.model_dump_json(indent=2, exclude_none=True))
            print("当前可执行：", ", ".join(await allowed_commands(client, args.deal_id, actor)) or "（无）")
        case "act":
            payload = json.loads(args.payload.read_text(encoding="utf-8")) if args.payload else {}
            command = parse_command(args.command_type, payload, actor, args.command_id)
            answer = await send_command(client, args.deal_id, command)
            for e in answer.events:
                print(f"#{e.seq} {e.type} {e.payload.model_dump_json(exclude={'type'})}")
            print(f"案件 {args.deal_id} 现处于 {answer.stage}（seq {answer.seq}）")
        case "events":
            page = await deal_events(client, args.deal_id, args.since)
            for e in page.events:
                print(e.model_dump_json())
        case "list":
            async for d in list_deals(client, args.stage, args.query):
                print(json.dumps(d, ensure_ascii=False, default=str))
    return 0


def main() -> int:
    """`python starter.py deal …`: the same as `kuayue deal …`."""
    import argparse

    parser = argparse.ArgumentParser(prog="starter.py")
    add_deal_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args()
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    from kuayue.process import exit_hard

    exit_hard(main())
