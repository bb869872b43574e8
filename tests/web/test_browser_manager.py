"""In Debian's Chromium: a deal whose stage ran over (simulated time) shows its badge; the broker reads and marks
notifications; the manager sees it on the dashboard, extends its deadline and reassigns it; the dashboard shows the
right numbers for a known set of deals, with charts drawn by the locally served ECharts.

One browser and one worker (on Temporal's time-skipping server) serve the whole module. Screenshots are written to
docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from domain.events import BrokerReassigned, DeadlineExtended, Escalated
from domain.sla import LadderStep
from store.db import make_engine, make_session_factory
from store.testing import migrated_database
from tests.factories import EXAMPLES
from tests.web import known_deals
from tests.web.browsing import SCREENSHOTS, sign_in
from tests.web.conftest import PASSWORD, WebDb
from tests.workflows.conftest import Kuayue, running_kuayue
from web.app import create_app
from web.config import WebConfig
from web.serve import RunningServer, serving
from web.users import create_user

pytestmark = pytest.mark.asyncio(loop_scope="session")
SECRET = "test-secret-key-not-for-production"


@pytest.fixture(scope="module")
async def skipping(time_skipping_env: WorkflowEnvironment, web_db: WebDb) -> AsyncIterator[Kuayue]:
    async with running_kuayue(time_skipping_env.client, web_db.url) as kuayue:
        yield kuayue


@pytest.fixture(scope="module")
async def server(time_skipping_env: WorkflowEnvironment, web_db: WebDb) -> AsyncIterator[RunningServer]:
    app = create_app(WebConfig(database_url=web_db.url, secret_key=SECRET), time_skipping_env.client, web_db.sessions)
    async with serving(app, port=0) as running:
        yield running


@pytest.fixture(scope="module")
def known_db() -> Iterator[str]:
    """A database holding only the known set of deals, and a manager of ja-centre and a hub admin."""
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        known_deals.seed(sessions)
        with sessions.begin() as s:
            create_user(s, "ja-manager", PASSWORD, Role.MANAGER, "吉安中心主任", "ja-centre")
            create_user(s, "hub-admin", PASSWORD, Role.HUB_ADMIN, "省中心管理员", "hub")
        yield url
        engine.dispose()


def cells(row: Any) -> Any:
    return row.locator("td")


async def test_an_overdue_deal_is_badged_notified_extended_and_reassigned(
    skipping: Kuayue, server: RunningServer, browser: Browser, time_skipping_env: WorkflowEnvironment
) -> None:
    opened, _ = await skipping.open(EXAMPLES / "jian-biofertilizer.json")
    deal = opened.deal_id
    plan = skipping.archive(deal)[1].payload.plan  # type: ignore[union-attr]
    assert plan is not None
    # Simulated time: the stage runs past its budget, so the ladder reminds the broker twice and escalates.
    await time_skipping_env.sleep(plan.due_at(LadderStep.ESCALATE_MANAGER) - plan.started_at + timedelta(minutes=1))
    assert any(isinstance(e.payload, Escalated) for e in skipping.archive(deal))

    broker = await sign_in(browser, server.url, "ja-broker-liu")
    row = broker.locator(f'tr[data-deal="{deal}"]')
    await expect(row.locator(".badge.escalated")).to_have_text("已升级（1 级）")
    await broker.screenshot(path=str(SCREENSHOTS / "inbox-escalated.png"))

    # Notifications: the two reminders are unread and counted in the header; marked one by one, then all.
    counter = broker.locator("#nav-notifications .count")
    await broker.locator("#nav-notifications").click()
    mine = broker.locator(f'#notifications tr:has(a[href="/deals/{deal}"])')
    await expect(mine).to_have_count(2)
    await expect(mine.locator("td").nth(2)).to_contain_text("需求挖掘（DEMAND_MINING）阶段已用去 80% 的期限")
    await expect(broker.locator(f'#notifications tr.unread:has(a[href="/deals/{deal}"])')).to_have_count(2)
    unread = int(await counter.inner_text())
    await broker.screenshot(path=str(SCREENSHOTS / "notifications.png"), full_page=True)
    await mine.first.get_by_role("button", name="标为已读").click()
    await expect(broker.locator(f'#notifications tr.unread:has(a[href="/deals/{deal}"])')).to_have_count(1)
    if unread > 1:
        await expect(counter).to_have_text(str(unread - 1))
    await broker.get_by_role("button", name="全部标为已读").click()
    await expect(broker.locator("#notifications tr.unread")).to_have_count(0)
    await expect(counter).to_have_count(0)

    # The manager sees it among the escalated deals, extends the stage and reassigns the deal.
    manager = await sign_in(browser, server.url, "ja-manager")
    await expect(manager.locator("#nav-notifications .count")).to_be_visible()
    await manager.get_by_role("link", name="仪表盘").click()
    attention = manager.locator(f'#table-attention tr[data-deal="{deal}"]')
    await expect(attention.locator(".badge.escalated")).to_be_visible()
    await attention.get_by_role("link").click()
    extend = manager.locator('form[data-command="ExtendDeadline"]')
    await extend.locator('[name="working_days"]').fill("5")
    await extend.locator('[name="reason"]').fill("企业补充检测报告，需延后五个工作日")
    await extend.get_by_role("button").click()
    await expect(manager.locator(".timeline")).to_contain_text("延长期限 5 个工作日：企业补充检测报告")
    reassign = manager.locator('form[data-command="ReassignBroker"]')
    await reassign.locator('[name="broker_id"]').fill("ja-broker-wang")
    await reassign.locator('[name="broker_name"]').fill("王芳")
    await reassign.locator('[name="reason"]').fill("刘芳休假，由王芳接手")
    await reassign.get_by_role("button").click()
    await expect(manager.locator(".timeline")).to_contain_text("改派经纪人 ja-broker-liu → 王芳（ja-broker-wang）")
    await expect(manager.locator("dl")).to_contain_text("王芳（ja-broker-wang）")
    await manager.screenshot(path=str(SCREENSHOTS / "deal-manager.png"), full_page=True)

    done = [e for e in skipping.archive(deal) if isinstance(e.payload, DeadlineExtended | BrokerReassigned)]
    assert [(type(e.payload).__name__, e.actor.id) for e in done] == [
        ("DeadlineExtended", "ja-manager"),
        ("BrokerReassigned", "ja-manager"),
    ]
    # The deal left liu's inbox.
    await broker.goto(f"{server.url}/deals")
    await expect(broker.locator(f'tr[data-deal="{deal}"]')).to_have_count(0)


async def test_the_dashboard_shows_the_numbers_of_a_known_set_of_deals(
    known_db: str, time_skipping_env: WorkflowEnvironment, browser: Browser
) -> None:
    sessions = make_session_factory(make_engine(known_db))
    app = create_app(WebConfig(database_url=known_db, secret_key=SECRET), time_skipping_env.client, sessions)
    local = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    async with serving(app, port=0) as running:
        page = await sign_in(browser, running.url, "ja-manager")
        hosts: set[str] = set()
        page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or ""))
        await page.get_by_role("link", name="仪表盘").click()
        await expect(page.locator("#kpi-open")).to_have_text("3")
        await expect(page.locator("#kpi-overdue")).to_have_text("2")
        await expect(page.locator("#kpi-escalated")).to_have_text("1")
        await expect(page.locator("#kpi-signed")).to_have_text("2")
        stages = page.locator("#table-stages")
        await expect(cells(stages.locator('tr[data-stage="DEMAND_MINING"]'))).to_have_text(["需求挖掘", "1", "5", "3.0", "10.0"])
        await expect(cells(stages.locator('tr[data-stage="MATCHING"]'))).to_have_text(["技术匹配", "1", "2", "5.0", "7.0"])
        await expect(cells(stages.locator('tr[data-stage="BROKERING"]'))).to_have_text(["经纪服务", "1", "0", "—", "—"])
        month = page.locator(f'#table-months tr[data-month="{local:%Y-%m}"]')
        await expect(cells(month)).to_have_text([f"{local.year}年{local.month}月", "2", "450.50 万元"])
        await expect(page.locator("#table-attention tr")).to_have_count(3)  # header + K2 (escalated) + K1 (overdue)
        await expect(page.locator("#table-attention tbody tr").first).to_have_attribute("data-deal", "K2")
        await expect(cells(page.locator('#table-workload tr[data-broker="ja-broker-liu"]')).nth(1)).to_have_text("2")
        await expect(cells(page.locator('#table-workload tr[data-broker="ja-broker-liu"]')).nth(2)).to_have_text("2")
        await expect(cells(page.locator('#table-workload tr[data-broker="ja-broker-wang"]')).nth(1)).to_have_text("1")
        await expect(page.locator('#table-workload tr[data-broker="jj-broker-chen"]')).to_have_count(0)
        # The charts are drawn (ECharts served by this site, SVG renderer) and nothing came from elsewhere.
        await expect(page.locator("#chart-funnel svg")).to_have_count(1)
        await expect(page.locator("#chart-months svg")).to_have_count(1)
        await page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
        assert hosts == {"127.0.0.1"}

        hub = await sign_in(browser, running.url, "hub-admin")
        await hub.goto(f"{running.url}/dashboard")
        await expect(hub.locator("#kpi-open")).to_have_text("4")
        await expect(cells(hub.locator('#table-centres tr[data-centre="jj-centre"]')).nth(1)).to_have_text("1")
        await expect(cells(hub.locator('#table-centres tr[data-centre="ja-centre"]')).nth(3)).to_have_text("2")
        ji_an = cells(hub.locator('#table-map tr[data-city="360800"]'))
        nan_chang = cells(hub.locator('#table-map tr[data-city="360100"]'))
        jiu_jiang = cells(hub.locator('#table-map tr[data-city="360400"]'))
        # Columns: A05 (K3), C34 (the rest).
        await expect(hub.locator("#table-map thead th")).to_have_text(
            ["设区市", "A05 农、林、牧、渔专业及辅助性活动", "C34 通用设备制造业"]
        )
        await expect(ji_an).to_have_text(["吉安市", "0", "4"])
        await expect(nan_chang).to_have_text(["南昌市", "1", "0"])
        await expect(jiu_jiang).to_have_text(["九江市", "0", "1"])
        await expect(hub.locator("#chart-map svg")).to_have_count(1)
        await hub.screenshot(path=str(SCREENSHOTS / "dashboard-hub.png"), full_page=True)
