"""`python -m partnersim` (or `kuayue partner-sim`): run the simulator for the partners of a directory file."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import uvicorn

from kuayue.partners import load_partner_directory, partners_file
from kuayue.settings import Settings
from partnersim.app import Behaviour, create_sim_app

DEFAULT_PORT = 8100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--partners-file", type=Path, help="the partner directory (default: KUAYUE_PARTNERS_FILE or data/partners.json)"
    )
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each answer (default 1)")


def run(args: argparse.Namespace) -> int:
    path = args.partners_file or partners_file(Settings.from_env().data_dir)
    partners = load_partner_directory(path)
    if not partners:
        print(f"no partners in {path}; `kuayue up` writes one, or see README 'Partners'")
        return 2
    app = create_sim_app(partners, Behaviour(delay=args.delay))
    print(f"partner simulator for {', '.join(partners)} on http://{args.host}:{args.port}")
    asyncio.run(uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")).serve())
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m partnersim", description=__doc__)
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
