"""The `kuayue open-call …` commands: publish, bid, close, select, show (installed into `kuayue.cli`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from temporalio.client import Client

    from domain.actors import Actor
    from domain.open_call import OpenCallEvent
    from domain.parties import AchievementRef
    from kuayue.cli import Subcommands
    from kuayue.settings import Settings

_BEIJING = timezone(timedelta(hours=8))
_KINDS = ("university", "research_institute", "new_rd_institution", "enterprise")


def add_open_call_command(subcommands: Subcommands) -> None:
    from kuayue.cli import add_command_group

    group = add_command_group(subcommands, "open-call", "open calls (揭榜挂帅): publish a deal's demand, bid, close, select")

    parser = group.add_parser("publish", help="publish a deal's demand as an open call with a deadline and qualifications")
    parser.add_argument("deal_id")
    parser.add_argument("--id", dest="open_call_id", help="the call's id (default: OC-<deal id>)")
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--deadline", help="ISO date-time, e.g. 2026-12-31T17:00 (Beijing time unless an offset is given)")
    when.add_argument("--days", type=float, help="deadline this many days from now")
    parser.add_argument(
        "--kinds", default="", help=f"institution kinds allowed, comma-separated: {', '.join(_KINDS)} (default: any)"
    )
    parser.add_argument("--min-trl", type=int, default=1, help="minimum technology readiness (1-9)")
    parser.add_argument("--region", help="region code the solver must be in: 360000 all of Jiangxi, 360800 Ji'an")
    _add_actor(parser)
    parser.set_defaults(handler=_handler(_publish))

    parser = group.add_parser("bid", help="bid on an open call with a registered achievement of your centre")
    parser.add_argument("open_call_id")
    parser.add_argument("--achievement", required=True, metavar="ID", help="registration number (登记号)")
    parser.add_argument("--kind", required=True, choices=_KINDS, help="the bidding institution's kind")
    parser.add_argument("--proposal", required=True, help="how the achievement meets the demand's indicators")
    parser.add_argument("--price-wan", type=float, help="price offered in 万元 (default: the registry's asking price)")
    parser.add_argument("--command-id", help="repeat it to retry safely (default: a new uuid)")
    _add_actor(parser)
    parser.set_defaults(handler=_handler(_bid))

    parser = group.add_parser("close", help="close an open call before its deadline (the enterprise's side, with a reason)")
    parser.add_argument("open_call_id")
    parser.add_argument("--reason", required=True)
    _add_actor(parser)
    parser.set_defaults(handler=_handler(_close))

    parser = group.add_parser("select", help="select the winning bid; it becomes the deal's accepted match")
    parser.add_argument("open_call_id")
    parser.add_argument("bid_id", help="e.g. B2")
    parser.add_argument("--note", default="")
    parser.add_argument("--command-id", help="repeat it to retry safely (default: a new uuid)")
    _add_actor(parser)
    parser.set_defaults(handler=_handler(_select))

    parser = group.add_parser("show", help="an open call's state, bids and events")
    parser.add_argument("open_call_id")
    parser.add_argument("--json", action="store_true", help="print the state and events as JSON")
    _add_actor(parser)
    parser.set_defaults(handler=_handler(_show))


def _add_actor(parser: argparse.ArgumentParser) -> None:
    from starter import DEFAULT_ACTOR

    parser.add_argument(
        "--as", dest="actor", default=None, help=f"who acts, ID:ROLE[:CENTRE] (default $KUAYUE_ACTOR or {DEFAULT_ACTOR})"
    )


def _handler(action: Any) -> Any:
    def handle(args: argparse.Namespace) -> int:
        result: int = asyncio.run(_run(args, action))
        return result

    return handle


async def _run(args: argparse.Namespace, action: Any) -> int:
    """Connect and act; a refusal or bad input prints its Chinese message and exits 2 (nothing was recorded)."""
    from pydantic import ValidationError

    from kuayue.temporal import connect
    from starter import DEFAULT_ACTOR, CommandRejected, parse_actor

    settings: Settings = args.settings
    try:
        actor = parse_actor(args.actor or os.environ.get("KUAYUE_ACTOR") or DEFAULT_ACTOR)
        client = await connect(settings)
        result: int = await action(client, settings, actor, args)
        return result
    except CommandRejected as e:
        print(f"拒绝 [{e.code}] {e.message}", file=sys.stderr)
        return 2
    except ValidationError as e:
        message = "；".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        print(f"拒绝 [invalid_input] {message}", file=sys.stderr)
        return 2


def _deadline(args: argparse.Namespace) -> datetime:
    from starter import CommandRejected

    if args.days is not None:
        return datetime.now(_BEIJING) + timedelta(days=args.days)
    try:
        moment = datetime.fromisoformat(args.deadline)
    except ValueError as e:
        raise CommandRejected(
            "invalid_deadline", f"截止时间「{args.deadline}」格式不对；应为 ISO 日期时间，如 2026-12-31T17:00"
        ) from e
    return moment if moment.tzinfo else moment.replace(tzinfo=_BEIJING)


async def _publish(client: Client, settings: Settings, actor: Actor, args: argparse.Namespace) -> int:
    from domain.open_call import SolverQualifications
    from kuayue import open_calls

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    qualifications = SolverQualifications.model_validate(
        {"institution_kinds": kinds, "min_trl": args.min_trl, "region_code": args.region}
    )
    call_id = args.open_call_id or f"OC-{args.deal_id}"
    state = await open_calls.publish(client, settings.task_queue, actor, args.deal_id, call_id, _deadline(args), qualifications)
    assert state.deadline is not None
    print(f"已发布揭榜 {call_id}（案件 {state.deal_id}），截止 {_when(state.deadline)}；{qualifications.describe()}")
    return 0


async def _bid(client: Client, settings: Settings, actor: Actor, args: argparse.Namespace) -> int:
    from domain.open_call import InstitutionKind, SubmitBid
    from kuayue import open_calls
    from store.db import make_session_factory

    price = None if args.price_wan is None else round(args.price_wan * 1_000_000)
    bid = open_calls.bid_for(make_session_factory(), args.achievement, InstitutionKind(args.kind), args.proposal, price)
    command = SubmitBid(command_id=args.command_id or f"cli-{uuid.uuid4()}", actor=actor, bid=bid)
    answer = await open_calls.send(client, args.open_call_id, command)
    for event in answer.events:
        print(f"已揭榜：{_describe(event)}")
    return 0


async def _close(client: Client, settings: Settings, actor: Actor, args: argparse.Namespace) -> int:
    from domain.open_call import CloseOpenCall
    from kuayue import open_calls

    command = CloseOpenCall(command_id=f"cli-{uuid.uuid4()}", actor=actor, reason=args.reason)
    answer = await open_calls.send(client, args.open_call_id, command)
    for event in answer.events:
        print(_describe(event))
    return 0


async def _select(client: Client, settings: Settings, actor: Actor, args: argparse.Namespace) -> int:
    from domain.open_call import SelectWinner
    from kuayue import open_calls

    command = SelectWinner(command_id=args.command_id or f"cli-{uuid.uuid4()}", actor=actor, bid_id=args.bid_id, note=args.note)
    answer = await open_calls.send(client, args.open_call_id, command)
    for event in answer.events:
        print(_describe(event))
    return 0


async def _show(client: Client, settings: Settings, actor: Actor, args: argparse.Namespace) -> int:
    from domain.open_call import STATUS_ZH
    from kuayue import open_calls

    state = await open_calls.visible_state(client, args.open_call_id)
    events = await open_calls.open_call_events(client, args.open_call_id)
    if args.json:
        data = {"state": state.model_dump(mode="json"), "events": [e.model_dump(mode="json") for e in events]}
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    assert state.deadline is not None
    print(f"揭榜 {state.open_call_id}：{state.demand_title}（{state.enterprise_name}，案件 {state.deal_id}）")
    print(f"状态 {STATUS_ZH[state.status]}，截止 {_when(state.deadline)}；{state.qualifications.describe()}")
    for received in state.bids:
        bid = received.bid
        mark = "  ← 已选定" if received.bid_id == state.winner_bid_id else ""
        print(f"  {received.bid_id}  {_achievement(bid.achievement)}{mark}")
    print("事件：")
    for event in events:
        print(f"  #{event.seq} {_when(event.occurred_at)}  {event.actor.id}  {_describe(event)}")
    return 0


def _when(moment: datetime) -> str:
    from domain.open_call import beijing

    return beijing(moment)


def _achievement(ref: AchievementRef) -> str:
    return f"{ref.achievement_id} {ref.title}（{ref.institution.name}）"


def _describe(event: OpenCallEvent) -> str:
    from domain.open_call import BidSubmitted, OpenCallClosed, OpenCallLapsed, OpenCallPublished, WinnerSelected

    p = event.payload
    match p:
        case OpenCallPublished():
            return f"发布揭榜（截止 {_when(p.deadline)}）"
        case BidSubmitted():
            return f"{p.bid_id}：{_achievement(p.bid.achievement)}"
        case OpenCallClosed():
            return f"揭榜{'提前' if p.early else ''}截止，共 {p.bids} 份揭榜方案" + (f"；理由：{p.reason}" if p.reason else "")
        case OpenCallLapsed():
            return f"截止后 {p.selection_days} 天内未选定揭榜方，揭榜结束（共 {p.bids} 份揭榜方案）"
        case WinnerSelected():
            return f"选定揭榜方 {p.bid_id}（成果 {p.achievement_id}），已成为案件的对接成果（案件事件 #{p.deal_seq}）"
    return event.type
