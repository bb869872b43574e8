"""The `kuayue` command: one argparse parser whose subcommands each install themselves through a function.

To add a command, write `add_<name>_command(subcommands)` that adds a parser and sets `handler=` to a function
taking the parsed arguments and returning an exit code, then list it in `COMMANDS`. A group such as
`kuayue deal ...` is a command whose parser adds its own subparsers (see `add_command_group`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import structlog

from kuayue.audit_commands import add_audit_command
from kuayue.deal_commands import add_deal_command, add_up_command, add_worker_command
from kuayue.devserver import DevServerError, DevServerOptions, start_dev_server
from kuayue.logging import configure_logging
from kuayue.open_call_commands import add_open_call_command
from kuayue.process import exit_hard
from kuayue.registry_commands import add_demo_data_command, add_registry_command
from kuayue.roadshow_commands import add_roadshow_command
from kuayue.settings import LOG_FORMATS, ConfigurationError, Settings
from kuayue.temporal import SearchAttributeConflict
from kuayue.web_commands import add_user_command, add_web_command

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Handler: TypeAlias = Callable[[argparse.Namespace], int]
CommandInstaller: TypeAlias = Callable[[Subcommands], None]

# Errors a person can act on from the message alone: printed without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (ConfigurationError, DevServerError, SearchAttributeConflict)

log = structlog.stdlib.get_logger(__name__)


def add_command_group(subcommands: Subcommands, name: str, help: str) -> Subcommands:
    """Add `kuayue <name> <subcommand>` and return the group's own subcommands to add to."""
    group = subcommands.add_parser(name, help=help, description=help)
    return group.add_subparsers(title="subcommands", dest=f"{name}_command", required=True, metavar="SUBCOMMAND")


def add_dev_server_command(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "dev-server",
        help="run the embedded Temporal dev server in the foreground until Ctrl-C",
        description="Run Temporal's dev server (SQLite file in the data directory, Web UI) until Ctrl-C. "
        "If a Temporal server already answers on the port, say so and register Kuayue's search attributes on it.",
    )
    parser.add_argument("--db-filename", type=Path, help="SQLite file (default: <KUAYUE_DATA_DIR>/temporal.db)")
    parser.add_argument("--port", type=int, help="gRPC port (default: from TEMPORAL_ADDRESS, else 7233)")
    parser.add_argument("--ui-port", type=int, help="Web UI port (default: gRPC port + 1000)")
    parser.add_argument("--headless", action="store_true", help="run without the Web UI")
    parser.set_defaults(handler=_run_dev_server)


def add_partner_sim_command(subcommands: Subcommands) -> None:
    from partnersim.__main__ import add_arguments, run

    parser = subcommands.add_parser(
        "partner-sim",
        help="run the partner simulator (bank, guarantee firm, fund, registration office) in the foreground",
        description="Run the partner simulator for the partners of the partner directory file; it answers Kuayue's "
        "requests with signed callbacks. `kuayue up` starts one by itself.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)


# Every command `kuayue` offers, in the order `--help` lists them.
COMMANDS: list[CommandInstaller] = [
    add_up_command,
    add_worker_command,
    add_deal_command,
    add_dev_server_command,
    add_registry_command,
    add_open_call_command,
    add_demo_data_command,
    add_audit_command,
    add_web_command,
    add_user_command,
    add_partner_sim_command,
    add_roadshow_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kuayue", description="Kuayue (跨越): technology-transfer deals on Temporal.")
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="override KUAYUE_LOG_FORMAT")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)")
    subcommands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    for install in COMMANDS:
        install(subcommands)
    return parser


def console_main() -> None:
    """The `kuayue` console script: `main`, then a hard exit (see `kuayue.process.exit_hard`)."""
    exit_hard(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kuayue` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(args.log_format or settings.log_format, args.log_level.upper())
        args.settings = settings
        handler: Handler = args.handler
        return handler(args)
    except USER_ERRORS as err:
        print(f"kuayue: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run_dev_server(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    options = DevServerOptions.for_settings(settings)
    overrides: dict[str, Any] = {}
    if args.db_filename is not None:
        overrides["db_filename"] = args.db_filename.resolve()
    if args.port is not None:
        overrides.update(port=args.port, ui_port=args.port + 1000)
    if args.ui_port is not None:
        overrides["ui_port"] = args.ui_port
    if args.headless:
        overrides["ui_port"] = None
    return asyncio.run(_serve_until_stopped(dataclasses.replace(options, **overrides)))


async def _serve_until_stopped(options: DevServerOptions) -> int:
    server = await start_dev_server(options)
    if server.reused:
        print(f"A Temporal server already answers on {server.address}; not starting another.", file=sys.stderr)
        return 0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(
        f"Temporal dev server on {server.address}, Web UI {server.ui_url or '(off)'}, "
        f"state in {options.db_filename or '(memory)'}, output in {server.log_file}. Ctrl-C stops it.",
        file=sys.stderr,
    )
    exited = asyncio.create_task(server.wait())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        await server.stop()
    if exited.done() and not stop.is_set():
        # The server died on its own: that is an error worth the output that explains it.
        log.error("temporal dev server exited", code=exited.result(), output=server.log_tail())
        return 1
    exited.cancel()
    return 0
