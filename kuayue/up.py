"""`kuayue up`: the embedded default in one process tree — dev server, worker, the example deals.

Running it again resumes the same deals from the dev server's SQLite file: deals that exist are
left alone (never started twice), and the worker picks their timers and commands up where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from temporalio.client import Client

import starter
from kuayue.devserver import DevServerOptions, start_dev_server
from kuayue.logging import configure_logging
from kuayue.partners import (
    PARTNERS_FILE_ENV,
    PartnerDirectory,
    load_partner_directory,
    partners_file,
    simulated_directory,
    write_partner_directory,
)
from kuayue.settings import REPO_ROOT, Settings
from kuayue.temporal import connect
from worker import build_worker, ensure_history_schedule
from workflows.messages import workflow_id

log = structlog.stdlib.get_logger(__name__)

EXAMPLE_DEALS = REPO_ROOT / "examples" / "deals"
EXAMPLE_REGISTRY = REPO_ROOT / "examples" / "registry"
SIM_PORT = 8100


async def up(settings: Settings | None = None, examples: Path = EXAMPLE_DEALS) -> int:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    server = await start_dev_server(DevServerOptions.for_settings(settings))
    web_port = int(os.environ.get("KUAYUE_WEB_PORT") or 8000)
    partners, simulated = _partner_directory(settings)
    try:
        client = await connect(settings, target_host=server.address)
        worker = build_worker(
            client,
            settings.task_queue,
            settings.database_url,
            partners=partners,
            callback_base_url=os.environ.get("KUAYUE_CALLBACK_BASE_URL") or f"http://127.0.0.1:{web_port}",
        )
        await ensure_history_schedule(client, settings.task_queue)
        await _load_demo_registries(settings)
        async with worker, _partner_simulator(partners if simulated else {}):
            actor = starter.parse_actor(starter.DEFAULT_ACTOR)
            for path in sorted(examples.glob("*.json")):
                command = starter.load_open_command(path, actor)
                try:
                    await starter.start_deal(client, command, settings.task_queue)
                    print(f"  已创建案件 {command.deal_id}：{command.demand.title}")
                except starter.CommandRejected as e:
                    if e.code != "deal_exists":
                        raise
                    print(f"  已恢复案件 {command.deal_id}：{command.demand.title}")
            async with _web_ui(settings, client, partners):
                _print_where_to_look(settings, server.ui_url)
                await stop.wait()
            print("\n正在停止 worker 与 Temporal 开发服务器……")
    finally:
        with contextlib.suppress(Exception):
            await server.stop()
    print("已停止。再次运行将从同一数据文件恢复全部案件。")
    return 0


async def _load_demo_registries(settings: Settings) -> None:
    """The sample registries (examples/registry: the example deals' fits and near misses) and the demo corpus
    (registry/demo.py), so matching has something to match; idempotent (unchanged records are left alone)."""
    from registry.demo import load_demo
    from registry.importer import import_file
    from store.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        started = time.perf_counter()
        factory = make_session_factory(engine)
        for name in ("achievements.json", "demands.json"):
            await asyncio.to_thread(import_file, factory, EXAMPLE_REGISTRY / name)
        report = await asyncio.to_thread(load_demo, factory)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    print(f"  演示登记库：新增 {report.inserted}，更新 {report.updated}，未变 {report.unchanged}（{seconds:.1f} 秒）")


def _partner_directory(settings: Settings) -> tuple[PartnerDirectory, bool]:
    """The partners, and whether they are the simulator's: without KUAYUE_PARTNERS_FILE, `<data>/partners.json`
    is written on the first run with the simulator's four partners and fresh random secrets (mode 0600)."""
    path = partners_file(settings.data_dir)
    if os.environ.get(PARTNERS_FILE_ENV):
        return load_partner_directory(path), False
    if not path.exists():
        port = int(os.environ.get("KUAYUE_PARTNER_SIM_PORT") or SIM_PORT)
        write_partner_directory(path, simulated_directory(f"http://127.0.0.1:{port}"))
    return load_partner_directory(path), True


@contextlib.asynccontextmanager
async def _partner_simulator(partners: PartnerDirectory) -> AsyncIterator[None]:
    """The partner simulator in this process, on the port its directory names (answers after 2 seconds)."""
    if not partners:
        yield
        return
    from urllib.parse import urlsplit

    from partnersim.app import Behaviour, create_sim_app
    from web.serve import serving

    port = urlsplit(next(iter(partners.values())).url).port or SIM_PORT
    try:
        async with serving(create_sim_app(dict(partners), Behaviour(delay=2.0)), port=port) as sim:
            print(f"  Partner simulator: {sim.url} (bank, guarantee firm, fund, registration office)")
            yield
    except (OSError, SystemExit) as e:
        print(f"  Partner simulator not started on port {port} ({e!r}); partner calls will be retried.")
        yield


@contextlib.asynccontextmanager
async def _web_ui(settings: Settings, client: Client, partners: PartnerDirectory) -> AsyncIterator[None]:
    """The web UI in this process on KUAYUE_WEB_PORT (8000); if it cannot start, the rest still runs."""
    from kuayue.partners import load_registration_rules
    from web.callbacks import CallbackConfig
    from web.serve import DEFAULT_PORT, build_app, config_from_settings, ensure_demo_admin, serving

    config = config_from_settings(settings)
    port = int(os.environ.get("KUAYUE_WEB_PORT") or DEFAULT_PORT)
    callbacks = CallbackConfig(partners=dict(partners), rules=load_registration_rules()) if partners else None
    async with contextlib.AsyncExitStack() as stack:
        try:
            password = ensure_demo_admin(config)
            web = await stack.enter_async_context(serving(build_app(config, client, callbacks), port=port))
        except (OSError, SystemExit) as e:  # uvicorn exits when the port is taken
            print(f"  Web UI not started on port {port} ({e!r}); set KUAYUE_WEB_PORT to a free port.")
        else:
            print(f"  Web UI:            {web.url}")
            if password:
                print(f"  演示管理员（仅用于快速体验）：用户名 admin，密码 {password}（只显示这一次）")
        yield


def _print_where_to_look(settings: Settings, ui_url: str | None) -> None:
    ui = ui_url or f"the Temporal Web UI of {settings.temporal_address}"
    print(
        f"""
Kuayue 跨越 is up.
  Temporal Web UI:   {ui}/namespaces/{settings.temporal_namespace}/workflows
                     (deals are workflows "{workflow_id("<deal id>")}", with search attributes KuayueStage, KuayueBroker, …)
  Deals from the CLI: .venv/bin/kuayue deal list        .venv/bin/kuayue deal show JA-2026-001
  Finance and register the example deals with the partners: .venv/bin/python -m examples.partners_demo
  Read model:        {settings.database_url}
  Data folder:       {settings.data_dir}
Press Ctrl-C to stop; running again resumes the same deals."""
    )
