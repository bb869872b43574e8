"""`kuayue web` (serve the web UI) and `kuayue user add|token` (installed into `kuayue.cli`).

The first administrator is created with `kuayue user add … --role hub_admin`: there is no default password.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import signal
import sys
from typing import TYPE_CHECKING

from domain.actors import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from kuayue.cli import Subcommands
    from kuayue.settings import Settings

ROLES = ("broker", "manager", "hub_admin", "auditor")


def add_web_command(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser("web", help="serve the web UI and the JSON API until Ctrl-C (needs a running worker)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.set_defaults(handler=lambda args: asyncio.run(_serve(args.settings, args.host, args.port)))


def add_user_command(subcommands: Subcommands) -> None:
    from kuayue.cli import add_command_group

    group = add_command_group(subcommands, "user", "web UI users: add a user, issue an API token")
    add = group.add_parser("add", help="add a user; the password is asked for, or generated and printed once")
    add.add_argument("username", help="the id recorded in events; a broker's username is their broker id")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--name", dest="display_name", help="display name (default: the username)")
    add.add_argument("--centre", dest="centre_id", help="the centre of a broker or manager, e.g. ja-centre")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=_add_user)
    token = group.add_parser("token", help="issue an API bearer token for a user (printed once)")
    token.add_argument("username")
    token.add_argument("--label", default="api")
    token.set_defaults(handler=_issue_token)


def _sessions(settings: Settings) -> sessionmaker[Session]:
    from store.db import make_engine, make_session_factory, migrate

    migrate(settings.database_url)
    return make_session_factory(make_engine(settings.database_url))


def _add_user(args: argparse.Namespace) -> int:
    from web.users import UserError, create_user

    generated = False
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("密码（至少 10 个字符）：")
        if getpass.getpass("再输入一次：") != password:
            print("两次输入的密码不一致", file=sys.stderr)
            return 1
    else:
        password, generated = secrets.token_urlsafe(12), True
    try:
        with _sessions(args.settings).begin() as session:
            name = args.display_name or args.username
            user = create_user(session, args.username, password, Role(args.role), name, args.centre_id)
    except UserError as e:
        print(f"未创建用户：{e}", file=sys.stderr)
        return 1
    print(f"已创建用户 {user.username}（{user.role.value}{'，' + user.centre_id if user.centre_id else ''}）")
    if generated:
        print(f"初始密码（只显示这一次）：{password}")
    return 0


def _issue_token(args: argparse.Namespace) -> int:
    from web.users import UserError, issue_token

    try:
        with _sessions(args.settings).begin() as session:
            token = issue_token(session, args.username, args.label)
    except UserError as e:
        print(f"未签发令牌：{e}", file=sys.stderr)
        return 1
    print(token)
    return 0


async def _serve(settings: Settings, host: str, port: int) -> int:
    from kuayue.temporal import connect
    from web.serve import build_app, callbacks_from_settings, config_from_settings, serving

    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    app = build_app(config_from_settings(settings), client, callbacks_from_settings(settings))
    async with serving(app, host, port) as running:
        print(f"Kuayue web UI: {running.url}  (Ctrl-C stops it)", file=sys.stderr)
        await stop.wait()
    return 0
