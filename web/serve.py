"""Running the web app in-process with uvicorn: for `kuayue web`, `kuayue up` and the browser tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from temporalio.client import Client

from domain.actors import Role
from kuayue.settings import Settings
from store.db import make_engine, make_session_factory, migrate
from web.app import create_app
from web.callbacks import CallbackConfig
from web.config import WebConfig, load_secret_key

DEFAULT_PORT = 8000


def config_from_settings(settings: Settings) -> WebConfig:
    return WebConfig(
        database_url=settings.database_url,
        secret_key=load_secret_key(settings.data_dir),
        temporal_namespace=settings.temporal_namespace,
        task_queue=settings.task_queue,
        temporal_ui_url=os.environ.get("KUAYUE_TEMPORAL_UI_URL") or "http://127.0.0.1:8233",
        https_only=os.environ.get("KUAYUE_HTTPS_ONLY", "") == "1",
    )


def build_app(config: WebConfig, client: Client, partner_callbacks: CallbackConfig | None = None) -> FastAPI:
    """The app on `config`'s database, migrated to head first (as the worker does)."""
    migrate(config.database_url)
    return create_app(config, client, make_session_factory(make_engine(config.database_url)), partner_callbacks)


def callbacks_from_settings(settings: Settings) -> CallbackConfig | None:
    """The partner directory and registration rules for the callback endpoint; None when no partner is configured."""
    from kuayue.partners import load_partner_directory, load_registration_rules, partners_file

    partners = load_partner_directory(partners_file(settings.data_dir))
    return CallbackConfig(partners=partners, rules=load_registration_rules()) if partners else None


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The caller owns signals (Ctrl-C stops `kuayue up` as a whole), so uvicorn must not take them over.
        yield


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def serving(app: FastAPI, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> AsyncIterator[RunningServer]:
    """Serve `app` on this event loop (it shares the loop's Temporal client) until the block ends."""
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start (e.g. the port is taken)
            raise RuntimeError(f"web server on {host}:{port} stopped before it started")
        await asyncio.sleep(0.02)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield RunningServer(f"http://{host}:{bound_port}", server, task)
    finally:
        server.should_exit = True
        await task


DEMO_ADMIN = "admin"


def ensure_demo_admin(config: WebConfig) -> str | None:
    """For the quickstart only: when no user exists yet, create `admin` (hub admin) with a random password.

    Returns the password, to be printed once; None when users exist (nothing is created or reset then).
    """
    from web.users import create_user, has_users

    with make_session_factory(make_engine(config.database_url)).begin() as session:
        if has_users(session):
            return None
        password = secrets.token_urlsafe(12)
        create_user(session, DEMO_ADMIN, password, Role.HUB_ADMIN, "演示管理员", "hub")
        return password
