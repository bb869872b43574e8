"""The `kuayue up`, `kuayue worker` and `kuayue deal …` commands (installed into `kuayue.cli`)."""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kuayue.cli import Subcommands


def add_up_command(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "up",
        help="the embedded default: dev server, worker and the example deals, until Ctrl-C",
        description="Start Temporal's dev server (state in the data directory), a worker, and the example deals "
        "(those that exist already are resumed, never started twice). Ctrl-C stops everything.",
    )
    parser.set_defaults(handler=_run_up)


def add_worker_command(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser("worker", help="run a worker (DealWorkflow and every activity) until Ctrl-C")
    parser.set_defaults(handler=_run_worker)


def add_deal_command(subcommands: Subcommands) -> None:
    import starter

    starter.add_deal_commands(subcommands)


def _run_up(args: argparse.Namespace) -> int:
    from kuayue.up import up

    return asyncio.run(up(args.settings))


def _run_worker(args: argparse.Namespace) -> int:
    from worker import run_worker

    asyncio.run(run_worker(args.settings))
    return 0
