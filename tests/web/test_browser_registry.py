"""In Debian's Chromium: a broker searches the registry, opens a demand, starts a deal from it and finds it in the
inbox; publishes an open call from the deal's page (a refused deadline first); an N centre's manager bids; after the
deadline the broker selects the winner and the deal page shows the accepted match.

One browser, one worker (on the Temporal dev server: the call's deadline is a real 25 seconds away) and one web
server serve the module. Screenshots of the new pages are written to docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from registry.importer import import_file
from store.db import make_engine, make_session_factory
from store.testing import migrated_database
from tests.factories import EXAMPLES
from tests.web.browsing import SCREENSHOTS, sign_in
from tests.web.conftest import PASSWORD, WebDb
from tests.workflows.conftest import Kuayue, running_kuayue
from web.app import create_app
from web.config import WebConfig
from web.format import SHANGHAI
from web.serve import RunningServer, serving
from web.users import create_user

pytestmark = pytest.mark.asyncio(loop_scope="session")
REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry"
USERS: dict[str, tuple[Role, str | None]] = {
    "ja-broker-liu": (Role.BROKER, "ja-centre"),
    "jgsu-manager": (Role.MANAGER, "jgsu"),  # 井冈山大学's N centre: owns JXCG-2026-0001
    "auditor-zhao": (Role.AUDITOR, None),
}


@pytest.fixture(scope="module")
def registry_db() -> Iterator[WebDb]:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        import_file(sessions, REGISTRY / "achievements.csv")
        import_file(sessions, REGISTRY / "demands.csv")
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, f"{username} 测试", centre)
        yield WebDb(url, sessions, {})
        engine.dispose()


@pytest.fixture(scope="module")
async def kuayue(temporal_env: WorkflowEnvironment, registry_db: WebDb) -> AsyncIterator[Kuayue]:
    async with running_kuayue(temporal_env.client, registry_db.url) as kuayue:
        yield kuayue


@pytest.fixture(scope="module")
async def server(temporal_env: WorkflowEnvironment, registry_db: WebDb, kuayue: Kuayue) -> AsyncIterator[RunningServer]:
    config = WebConfig(
        database_url=registry_db.url, secret_key="test-secret-key-not-for-production", task_queue=kuayue.task_queue
    )
    async with serving(create_app(config, temporal_env.client, registry_db.sessions), port=0) as running:
        yield running


def beijing(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")


async def test_a_broker_starts_a_deal_from_a_demand_and_awards_an_open_call(
    server: RunningServer, kuayue: Kuayue, browser: Browser, temporal_env: WorkflowEnvironment
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # ja-centre's first deal names the centre (name, level, region) that a deal started from the registry reuses.
    await kuayue.open(EXAMPLES / "jian-biofertilizer.json")
    broker = await sign_in(browser, server.url, "ja-broker-liu")

    # Search the demand registry by text: results come with their score and reasons.
    await broker.get_by_role("link", name="登记库").click()
    await broker.get_by_label("关键词").fill("生物有机肥 残渣")
    await broker.get_by_role("button", name="查找").click()
    row = broker.locator('tr[data-record="D-JA-2026-001"]')
    await expect(row).to_contain_text("龙脑樟提取后残渣制备生物肥")
    await expect(row.locator("ul.reasons li").first).to_be_visible()
    await broker.screenshot(path=str(SCREENSHOTS / "registry-search.png"), full_page=True)
    # A bad filter is named, with what is allowed.
    await broker.goto(f"{server.url}/registry/achievements?min_trl=12")
    await expect(broker.get_by_role("alert")).to_contain_text("允许 1 到 9 的整数")

    # The demand's page: every field, the matched achievements with reasons part by part, and the start form.
    await broker.goto(f"{server.url}/registry/demands")
    await broker.get_by_role("link", name="D-JA-2026-001").click()
    await expect(broker.get_by_role("heading", name="龙脑樟提取后残渣制备生物肥")).to_be_visible()
    match = broker.locator('table.matches tr[data-record="JXCG-2026-0001"]')
    await expect(match).to_contain_text("井冈山大学")
    assert await match.locator("ul.reasons li").count() >= 2
    await broker.screenshot(path=str(SCREENSHOTS / "registry-demand.png"), full_page=True)
    form = broker.locator('form[data-command="OpenDeal"]')
    await form.get_by_label("融资需求（万元）").fill("80")
    await form.get_by_role("button", name="创建案件").click()
    await expect(broker.locator("h1")).to_contain_text("龙脑樟提取后残渣制备生物肥")
    deal_id = broker.url.rsplit("/", 1)[-1].split("?")[0]
    assert deal_id.startswith("D-JA-2026-001-")
    await expect(broker.locator("dl")).to_contain_text("80.00 万元")
    await broker.get_by_role("link", name="我的案件").first.click()
    await expect(broker.locator(f'tr[data-deal="{deal_id}"]')).to_contain_text("需求挖掘")

    # Publish an open call from the deal page: a past deadline is refused next to the form, typed values kept.
    await broker.goto(f"{server.url}/deals/{deal_id}")
    await broker.locator('form[data-command="ValidateDemand"] button').click()
    await expect(broker.locator(".progress li.current")).to_have_text("技术匹配")
    publish = broker.locator('form[data-command="PublishOpenCall"]')
    await publish.locator('input[value="university"]').check()
    await publish.locator('[name="min_trl"]').select_option("6")
    await publish.locator('[name="deadline"]').fill(beijing(datetime.now(SHANGHAI) - timedelta(hours=1)))
    await publish.get_by_role("button").click()
    publish = broker.locator('form[data-command="PublishOpenCall"]')
    await expect(publish.get_by_role("alert")).to_contain_text("已过")
    await expect(publish.locator('input[value="university"]')).to_be_checked()
    await expect(publish.locator('[name="min_trl"]')).to_have_value("6")
    deadline = datetime.now(SHANGHAI) + timedelta(seconds=25)
    await publish.locator('[name="deadline"]').fill(beijing(deadline))
    await publish.get_by_role("button").click()
    await expect(broker.locator("#call-status")).to_have_text("揭榜中")
    call_url = broker.url

    # An N centre's manager finds the call and bids with the centre's own achievement.
    staff = await sign_in(browser, server.url, "jgsu-manager")
    await staff.get_by_role("link", name="揭榜挂帅").first.click()
    await staff.locator("table.open-calls a").filter(has_text=f"OC-{deal_id}").click()
    bid = staff.locator('form[data-command="bid"]')
    await bid.locator('[name="achievement_id"]').select_option("JXCG-2026-0001")
    await bid.locator('[name="institution_kind"]').select_option("university")
    await bid.get_by_label("揭榜方案").fill("残渣固态发酵中试线，三个月内完成田间对照试验")
    await bid.get_by_role("button").click()
    await expect(staff.get_by_role("status")).to_contain_text("已提交揭榜")
    await expect(staff.locator('tr[data-bid="B1"]')).to_contain_text("井冈山大学")
    await staff.screenshot(path=str(SCREENSHOTS / "open-call.png"), full_page=True)

    # After the deadline the broker selects the winner; it becomes the deal's accepted match.
    await asyncio.sleep(max(0.0, (deadline - datetime.now(SHANGHAI)).total_seconds()) + 1)
    await broker.goto(call_url)
    await expect(broker.locator("#call-status")).to_have_text("已截止", timeout=15_000)
    await broker.locator('form[data-command="select"] button').click()
    await expect(broker.locator("#call-winner")).to_have_text("B1")
    await broker.get_by_role("link", name=deal_id).click()
    await expect(broker.locator("#accepted-match")).to_contain_text("JXCG-2026-0001")
    await expect(broker.locator(".progress li.current")).to_have_text("经纪服务")
    await broker.screenshot(path=str(SCREENSHOTS / "deal-open-call.png"), full_page=True)

    # The auditor reads every new page and has no form on them.
    auditor = await sign_in(browser, server.url, "auditor-zhao")
    for path in ("/registry/demands/D-JA-2026-001", call_url.removeprefix(server.url), f"/deals/{deal_id}"):
        await auditor.goto(f"{server.url}{path}")
        assert await auditor.locator("form.action").count() == 0, path
    await temporal_env.client.get_workflow_handle(f"deal-{deal_id}").terminate("test over")
