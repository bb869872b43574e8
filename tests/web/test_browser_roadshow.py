"""In Debian's Chromium: a centre manager starts a roadshow from a deal in 路演融资 (a refused start first, with what
was typed kept), invites a second investor, registers two investors' interest (a refused repeat changes nothing),
sees the partners' commitments come back through the deal, and closes the roadshow; the deal page links to it;
another centre's broker gets 404 and the auditor reads without forms.

Everything is real: the Temporal dev server, the worker, the partner simulator answering with signed callbacks, the
web server and the browser. Screenshots of the new pages go to docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from domain.roadshow import RoadshowState
from kuayue.partners import load_registration_rules
from store.db import make_engine, make_session_factory
from store.roadshows import roadshow_events
from store.testing import migrated_database
from tests.factories import EXAMPLES
from tests.partnering import PartnerStack, partner_stack, take_to_financing
from tests.web.browsing import SCREENSHOTS, sign_in
from tests.web.conftest import PASSWORD
from web.app import create_app
from web.callbacks import CallbackConfig
from web.config import WebConfig
from web.serve import RunningServer, serving
from web.users import create_user
from workflows.roadshow import roadshow_workflow_id

USERS: dict[str, tuple[Role, str | None]] = {
    "jj-manager": (Role.MANAGER, "jj-centre"),
    "ja-broker-liu": (Role.BROKER, "ja-centre"),
    "auditor-zhao": (Role.AUDITOR, None),
}


@pytest.fixture
def db_with_users() -> Iterator[str]:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        with make_session_factory(engine).begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, f"{username} 测试", centre)
        engine.dispose()
        yield url


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, db_with_users: str) -> AsyncIterator[PartnerStack]:
    async with partner_stack(temporal_env.client, db_with_users) as s:
        yield s


@pytest.fixture
async def server(temporal_env: WorkflowEnvironment, db_with_users: str, stack: PartnerStack) -> AsyncIterator[RunningServer]:
    """The web UI on the stack's database, task queue and partner directory (the stack's own web app takes callbacks)."""
    config = WebConfig(database_url=db_with_users, secret_key=secrets.token_urlsafe(32), task_queue=stack.kuayue.task_queue)
    callbacks = CallbackConfig(partners=stack.partners, rules=load_registration_rules())
    app = create_app(config, temporal_env.client, stack.kuayue.sessions, callbacks)
    async with serving(app, port=0) as running:
        yield running


async def test_a_manager_runs_a_roadshow_in_the_browser(
    server: RunningServer, stack: PartnerStack, browser: Browser, temporal_env: WorkflowEnvironment
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    jj, _ = await stack.kuayue.open(EXAMPLES / "jiujiang-heterojunction.json")  # jj-centre, needs 2,000 万元
    await take_to_financing(stack.kuayue, jj)
    deal = jj.deal_id
    manager = await sign_in(browser, server.url, "jj-manager")

    # From the deal in 路演融资 to the start form, the deal already ticked.
    await manager.goto(f"{server.url}/deals/{deal}")
    await expect(manager.locator(".progress li.current")).to_have_text("路演融资")
    await manager.locator("#schedule-roadshow").click()
    start = manager.locator('form[data-command="ScheduleRoadshow"]')
    await expect(start.locator(f'input[name="deal_ids"][value="{deal}"]')).to_be_checked()
    await start.get_by_label("路演名称").fill("九江市异质结电池融资路演")
    await start.get_by_label("路演日期").fill("2026-12-18")
    await start.locator('[name="mode"]').select_option("venue")
    await start.locator('input[name="investor_ids"][value="jxbank"]').check()
    await start.get_by_role("button", name="安排路演").click()
    # Refused (a roadshow at a venue needs its address): the domain's message, everything typed kept, nothing started.
    start = manager.locator('form[data-command="ScheduleRoadshow"]')
    await expect(start.get_by_role("alert")).to_contain_text("线下路演须填写会场地址")
    await expect(start.get_by_label("路演名称")).to_have_value("九江市异质结电池融资路演")
    await expect(start.locator(f'input[name="deal_ids"][value="{deal}"]')).to_be_checked()
    await expect(start.locator('input[name="investor_ids"][value="jxbank"]')).to_be_checked()
    await start.get_by_label("会场地址（线下路演必填）").fill("九江市科创中心路演厅")
    await start.get_by_role("button", name="安排路演").click()
    await expect(manager.locator("#roadshow-status")).to_have_text("进行中")
    await expect(manager.locator(f'table.roadshow-deals tr[data-deal="{deal}"]')).to_contain_text("路演融资")
    roadshow_url = manager.url.split("?")[0]
    roadshow_id = roadshow_url.rsplit("/", 1)[-1]

    # A second investor, then both investors' interest.
    await manager.locator('form[data-command="InviteInvestor"] [name="partner_id"]').select_option("jxfund")
    await manager.locator('form[data-command="InviteInvestor"] button').click()
    await expect(manager.get_by_role("status")).to_contain_text("邀请投资方")
    await expect(manager.locator('ul.roadshow-investors li[data-investor="jxfund"]')).to_be_visible()

    async def register(investor: str, amount: str, instrument: str, note: str = "") -> None:
        form = manager.locator('form[data-command="RegisterInterest"]')
        await form.locator('[name="investor_id"]').select_option(investor)
        await form.locator('[name="deal_id"]').select_option(deal)
        await form.get_by_label("意向金额（万元）").fill(amount)
        await form.locator('[name="instrument"]').select_option(instrument)
        await form.get_by_label("说明").fill(note)
        await form.get_by_role("button").click()

    await register("jxbank", "1200", "loan", "设备贷款")
    await expect(manager.get_by_role("status")).to_contain_text("登记投资意向")

    # The same investor again for the same deal: refused next to the form, the amount kept, nothing recorded.
    def recorded() -> list[object]:
        # What people recorded (the forwarding of the first interest to the deal may be archived meanwhile).
        with stack.kuayue.sessions() as s:
            return [e for e in roadshow_events(s, roadshow_id) if e.actor.id == "jj-manager"]

    before = recorded()
    await register("jxbank", "300", "loan")
    form = manager.locator('form[data-command="RegisterInterest"]')
    await expect(form.get_by_role("alert")).to_contain_text(f"已对案件 {deal} 登记意向")
    await expect(form.get_by_label("意向金额（万元）")).to_have_value("300")
    await expect(manager.locator("table.roadshow-interests tbody tr")).to_have_count(1)
    assert recorded() == before
    await register("jxfund", "800", "equity")

    # The roadshow forwards each interest to the deal; the simulated bank and fund commit through signed callbacks.
    bank = manager.locator('table.roadshow-interests tr[data-interest="jxbank:' + deal + '"]')
    fund = manager.locator('table.roadshow-interests tr[data-interest="jxfund:' + deal + '"]')
    for _ in range(60):
        await manager.reload()
        cells = [await row.locator(".commitment").inner_text() for row in (bank, fund)]
        if all("已承诺" in c for c in cells):
            break
        await manager.wait_for_timeout(500)
    await expect(bank.locator(".interest-status")).to_have_text("已转为融资申请")
    await expect(bank.locator(".commitment")).to_have_text("已承诺 1,200.00 万元")
    await expect(fund.locator(".commitment")).to_have_text("已承诺 800.00 万元")
    await expect(manager.locator(f'table.roadshow-deals tr[data-deal="{deal}"]')).to_contain_text("2,000.00 万元")
    await manager.screenshot(path=str(SCREENSHOTS / "roadshow.png"), full_page=True)

    # The deal page links back to the roadshow, with its interest; the deal has moved on to signing.
    await manager.locator(f'table.roadshow-deals a[href="/deals/{deal}"]').click()
    await expect(manager.locator(".progress li.current")).to_have_text("签约")
    await expect(manager.locator(f'ul.deal-roadshows li[data-roadshow="{roadshow_id}"]')).to_contain_text("已转为融资申请")
    await manager.locator(f'ul.deal-roadshows a[href="/roadshows/{roadshow_id}"]').click()

    # Closed, it offers nothing more.
    await manager.locator('form[data-command="CloseRoadshow"]').get_by_label("说明").fill("路演结束，融资已落实")
    await manager.locator('form[data-command="CloseRoadshow"] button').click()
    await expect(manager.locator("#roadshow-status")).to_have_text("已结束")
    assert await manager.locator("form.action").count() == 0
    await manager.get_by_role("link", name="路演").first.click()
    await expect(manager.locator(f'tr[data-roadshow="{roadshow_id}"]')).to_contain_text("已结束")
    await manager.screenshot(path=str(SCREENSHOTS / "roadshows.png"), full_page=True)

    # Another centre's broker: not listed, and the page answers like an unknown roadshow.
    other = await sign_in(browser, server.url, "ja-broker-liu")
    await other.get_by_role("link", name="路演").first.click()
    await expect(other.locator(f'tr[data-roadshow="{roadshow_id}"]')).to_have_count(0)
    answer = await other.goto(roadshow_url)
    assert answer is not None and answer.status == 404
    await expect(other.locator("main")).to_contain_text("或您无权查看")

    # The auditor reads every part, with the hash chain checked, and has no form.
    auditor = await sign_in(browser, server.url, "auditor-zhao")
    await auditor.goto(roadshow_url)
    await expect(auditor.locator("#roadshow-chain")).to_contain_text("完整")
    await expect(auditor.locator("table.roadshow-interests tbody tr")).to_have_count(2)
    assert await auditor.locator("form.action").count() == 0
    handle = temporal_env.client.get_workflow_handle(roadshow_workflow_id(roadshow_id), result_type=RoadshowState)
    assert (await handle.result()).closed  # the workflow ended with the close
