"""The `kuayue audit …` commands (installed into `kuayue.cli`): read-only, except `keep` and `export`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kuayue.settings import Settings

if TYPE_CHECKING:
    from audit.rederive import Rederivation
    from kuayue.cli import Subcommands

AsyncHandler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def add_audit_command(subcommands: Subcommands) -> None:
    from kuayue.cli import add_command_group

    audit = add_command_group(subcommands, "audit", "auditor's tools: replay, re-derive, state, verify, export (审计)")

    def deal_parser(name: str, help: str, handler: AsyncHandler) -> argparse.ArgumentParser:
        parser = audit.add_parser(name, help=help, description=help)
        parser.add_argument("deal_id")
        parser.set_defaults(handler=_sync(handler))
        return parser

    deal_parser("replay", "replay every run of the deal with today's workflow code (回放)", _replay)
    rederive = audit.add_parser(
        "rederive", help="re-derive the deal's events from its history and compare with the archive (重新推导)"
    )
    rederive.add_argument("deal_id", nargs="?")
    rederive.add_argument("--all-kept", action="store_true", help="every deal whose history is kept in the store")
    rederive.add_argument(
        "--no-sandbox",
        action="store_true",
        help="replay outside the workflow sandbox (faster; the same events and divergences, without the sandbox's call checks)",
    )
    rederive.set_defaults(handler=_sync(_rederive))
    deal_parser("keep", "store a closed deal's Temporal history in the database (保存历史)", _keep)
    state = deal_parser("state", "the deal's state as of a seq or a moment, from the archive (某时点状态)", _state)
    state.add_argument("--seq", type=int)
    state.add_argument("--at", type=_moment, help="ISO date-time with a zone, e.g. 2026-03-05T18:00+08:00")

    verify = audit.add_parser("verify", help="verify the hash chain (校验哈希链)")
    scope = verify.add_mutually_exclusive_group(required=True)
    scope.add_argument("--deal")
    scope.add_argument("--centre")
    scope.add_argument("--roadshow", help="one roadshow's chain (路演)")
    scope.add_argument("--open-call", help="one open call's chain (揭榜挂帅)")
    scope.add_argument("--all", action="store_true", help="every deal, roadshow and open call")
    verify.set_defaults(handler=_sync(_verify))

    export = audit.add_parser("export", help="write an evidence bundle (directory or .zip) (导出证据包)")
    export.add_argument("out", type=Path)
    export.add_argument("--deal", action="append", default=[], help="repeatable")
    export.add_argument("--since", type=_moment)
    export.add_argument("--until", type=_moment)
    export.set_defaults(handler=_sync(_export))

    bundle = audit.add_parser("verify-bundle", help="check an evidence bundle offline (离线校验证据包)")
    bundle.add_argument("path", type=Path)
    bundle.set_defaults(handler=_sync(_verify_bundle))

    actions = audit.add_parser("actions", help="a person's actions over a period (操作记录)")
    actions.add_argument("actor_id")
    actions.add_argument("--since", type=_moment)
    actions.add_argument("--until", type=_moment)
    actions.set_defaults(handler=_sync(_actions))


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; write e.g. {text}+08:00")
    return moment


def _sync(handler: AsyncHandler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from audit.histories import DealStillOpen, HistoryUnavailable, StoredHistoryCorrupt

        try:
            return asyncio.run(handler(args))
        except (HistoryUnavailable, StoredHistoryCorrupt, DealStillOpen) as err:
            # Findings about the evidence, not crashes: say which deal and run, and fail.
            print(f"kuayue audit: {err}", file=sys.stderr)
            return 1

    return run


def _sessions(args: argparse.Namespace) -> sessionmaker[Session]:
    from store.db import make_engine, make_session_factory

    settings: Settings = args.settings
    return make_session_factory(make_engine(settings.database_url))


async def _replay(args: argparse.Namespace) -> int:
    from audit.histories import load_runs
    from audit.rederive import archived_events_of, rederive
    from audit.replay import DealReplayer
    from kuayue.temporal import connect

    sessions = _sessions(args)
    runs = await load_runs(await connect(args.settings), sessions, args.deal_id)
    with sessions() as session:
        archived = archived_events_of(session, [args.deal_id]).get(args.deal_id, [])
    result = await rederive(DealReplayer(), runs, archived)
    for run, replay in zip(runs, result.runs, strict=True):
        verdict = "可回放 replays" if replay.replays else f"不可回放 DIVERGES: {replay.failure}"
        print(f"run {run.run_index} {run.run_id} ({run.status}, from {run.source}): {verdict}")
    _print_heads(result)
    return 0 if result.replays and not result.head_problems else 1


def _print_heads(result: Rederivation) -> None:
    for head in result.head_problems:
        print(f"链头不符 HEAD MISMATCH {head.describe()}")
    agreeing = len(result.heads) - len(result.head_problems)
    print(f"heads recorded in the history: {len(result.heads)}, agreeing with the archive's hashes: {agreeing}")


async def _rederive(args: argparse.Namespace) -> int:
    from audit.histories import load_runs
    from audit.rederive import archived_events_of, rederive, rederive_stored
    from audit.replay import DealReplayer
    from kuayue.temporal import connect
    from store.models import DealHistoryRecord

    sessions = _sessions(args)
    if args.all_kept:
        with sessions() as session:
            deal_ids = sorted(set(session.scalars(select(DealHistoryRecord.deal_id))))
        failing = 0
        async for result in rederive_stored(DealReplayer(sandboxed=not args.no_sandbox), sessions, deal_ids):
            if not result.agrees:
                failing += 1
                _print_rederivation(result)
        print(f"{len(deal_ids)} deals with kept histories re-derived; {failing} disagree / {failing} 个案件不一致")
        return 0 if failing == 0 else 1
    if args.deal_id is None:
        print("kuayue audit rederive: give a deal id or --all-kept / 请指定案件或 --all-kept")
        return 2
    runs = await load_runs(await connect(args.settings), sessions, args.deal_id)
    with sessions() as session:
        archived = archived_events_of(session, [args.deal_id]).get(args.deal_id, [])
    result = await rederive(DealReplayer(sandboxed=not args.no_sandbox), runs, archived)
    _print_rederivation(result)
    print(
        f"deal {args.deal_id}: {len(result.events)} events re-derived from {len(runs)} runs, {len(archived)} archived, "
        f"{len(result.differences)} differences — {'一致 agrees' if result.agrees else '不一致 DISAGREES'}"
    )
    return 0 if result.agrees else 1


def _print_rederivation(result: Rederivation) -> None:
    for replay in result.runs:
        if not replay.replays:
            print(f"deal {result.deal_id} run {replay.run_id}: 不可回放 DIVERGES: {replay.failure}")
    for difference in result.differences:
        print(f"deal {result.deal_id} {difference.describe()}")
    _print_heads(result)


async def _keep(args: argparse.Namespace) -> int:
    from audit.histories import keep_history
    from kuayue.temporal import connect

    added = await keep_history(await connect(args.settings), _sessions(args), args.deal_id)
    print(f"deal {args.deal_id}: {added} run(s) newly kept / 新保存 {added} 段历史")
    return 0


async def _state(args: argparse.Namespace) -> int:
    from audit.state_at import state_at

    with _sessions(args)() as session:
        state = state_at(session, args.deal_id, seq=args.seq, at=args.at)
    print(state.model_dump_json(indent=2))
    return 0


async def _verify(args: argparse.Namespace) -> int:
    from audit.verify import (
        ChainsVerification,
        VerificationReport,
        verify_archive,
        verify_centre,
        verify_deal,
        verify_open_calls,
        verify_roadshows,
    )

    reports: list[VerificationReport | ChainsVerification] = []
    with _sessions(args)() as session:
        if args.deal:
            reports.append(verify_deal(session, args.deal))
        elif args.centre:
            reports.append(verify_centre(session, args.centre))
        elif args.roadshow:
            reports.append(verify_roadshows(session, args.roadshow))
        elif args.open_call:
            reports.append(verify_open_calls(session, args.open_call))
        else:
            reports += [verify_archive(session), verify_roadshows(session), verify_open_calls(session)]
    for report in reports:
        for problem in report.problems:
            print(problem if isinstance(problem, str) else problem.describe())
        verdict = "完整 intact" if report.intact else f"发现 {len(report.problems)} 处问题 PROBLEMS FOUND"
        counted = f"{report.deals} deals" if isinstance(report, VerificationReport) else f"{report.chains} {report.kind}"
        print(f"{report.scope}: {counted}, {report.events} events — {verdict}")
    return 0 if all(report.intact for report in reports) else 1


async def _export(args: argparse.Namespace) -> int:
    from audit.export import deals_in_period, export_bundle
    from kuayue.temporal import connect

    sessions = _sessions(args)
    deal_ids: list[str] = list(args.deal)
    if args.since or args.until:
        with sessions() as session:
            deal_ids += deals_in_period(session, args.since or _EARLIEST, args.until or _LATEST)
    if not deal_ids:
        print("kuayue audit export: give --deal or --since/--until / 请指定案件或时间段")
        return 2
    if args.out.exists():
        print(f"kuayue audit export: {args.out} exists already; give a new name / 目标已存在，请换一个名称")
        return 2
    out = await export_bundle(await connect(args.settings), sessions, sorted(set(deal_ids)), args.out)
    print(f"evidence bundle of {len(set(deal_ids))} deal(s) written to {out} / 证据包已导出")
    return 0


async def _verify_bundle(args: argparse.Namespace) -> int:
    from audit.export import verify_bundle

    problems = verify_bundle(args.path)
    for problem in problems:
        print(problem)
    print(f"{args.path}: {'完整 intact' if not problems else f'发现 {len(problems)} 处问题 PROBLEMS FOUND'}")
    return 0 if not problems else 1


async def _actions(args: argparse.Namespace) -> int:
    from audit.actions import actions_of

    with _sessions(args)() as session:
        events = actions_of(session, args.actor_id, since=args.since, until=args.until)
    for event in events:
        print(f"{event.occurred_at.isoformat()}  {event.deal_id} seq {event.seq}  {event.type}  ({event.actor.role.value})")
    print(f"{args.actor_id}: {len(events)} actions / 共 {len(events)} 项操作")
    return 0
