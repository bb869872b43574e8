"""`kuayue roadshow start|act|show`: roadshows (路演) from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kuayue.cli import Subcommands


def add_roadshow_command(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser("roadshow", help="schedule a roadshow, present deals, record investors' interest")
    parser.add_argument("--as", dest="actor", default=None, help="who acts, ID:ROLE[:CENTRE] (default $KUAYUE_ACTOR)")
    sub = parser.add_subparsers(dest="roadshow_command", required=True)
    start = sub.add_parser("start", help="schedule a roadshow from a JSON file (ScheduleRoadshow's fields)")
    start.add_argument("file", type=Path)
    act = sub.add_parser("act", help="e.g. `kuayue roadshow act LY-2026-12 RegisterInterest interest.json`")
    act.add_argument("roadshow_id")
    act.add_argument("command_type", help="PresentDeal, InviteInvestor, RegisterInterest, RequestDueDiligence, CloseRoadshow")
    act.add_argument("payload", nargs="?", type=Path)
    act.add_argument("--command-id")
    show = sub.add_parser("show", help="the roadshow, or with --deal only what that deal may see of it")
    show.add_argument("roadshow_id")
    show.add_argument("--deal")
    parser.set_defaults(handler=lambda args: asyncio.run(_run(args)))


async def _run(args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter, ValidationError
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.exceptions import ApplicationError

    import starter
    from domain.roadshow import RoadshowCommand, ScheduleRoadshow
    from kuayue.temporal import connect
    from workflows.roadshow import (
        DealViewRequest,
        RoadshowCommandRequest,
        RoadshowInput,
        RoadshowWorkflow,
        roadshow_workflow_id,
    )

    settings = args.settings
    actor = starter.parse_actor(args.actor or os.environ.get("KUAYUE_ACTOR") or starter.DEFAULT_ACTOR)
    client = await connect(settings)
    try:
        if args.roadshow_command == "start":
            data: dict[str, Any] = json.loads(args.file.read_text(encoding="utf-8"))
            schedule = ScheduleRoadshow(command_id="schedule", actor=actor, **data)
            await client.start_workflow(
                RoadshowWorkflow.run,
                RoadshowInput(schedule=schedule),
                id=roadshow_workflow_id(schedule.roadshow_id),
                task_queue=settings.task_queue,
            )
            print(f"已安排路演 {schedule.roadshow_id}（工作流 {roadshow_workflow_id(schedule.roadshow_id)}）")
        elif args.roadshow_command == "act":
            payload = json.loads(args.payload.read_text(encoding="utf-8")) if args.payload else {}
            command = TypeAdapter(RoadshowCommand).validate_python(
                {**payload, "type": args.command_type, "actor": actor, "command_id": args.command_id or str(uuid.uuid4())}
            )
            handle = client.get_workflow_handle(roadshow_workflow_id(args.roadshow_id))
            answer = await handle.execute_update(RoadshowWorkflow.execute, RoadshowCommandRequest(command=command))
            for e in answer.events:
                print(f"#{e.seq} {e.payload.type} {e.payload.model_dump_json(exclude={'type'})}")
        else:
            handle = client.get_workflow_handle(roadshow_workflow_id(args.roadshow_id))
            if args.deal:
                view = await handle.query(RoadshowWorkflow.deal_view, DealViewRequest(deal_id=args.deal))
                print(view.model_dump_json(indent=2))
            else:
                state = await handle.query(RoadshowWorkflow.state)
                print(state.model_dump_json(indent=2))
    except ValidationError as e:
        print(f"拒绝 [invalid_input] {e}")
        return 2
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError):
            print(f"拒绝 [{cause.type}] {cause.message}")
            return 2
        raise
    return 0
