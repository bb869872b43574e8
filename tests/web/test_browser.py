"""A broker takes a deal from the inbox to SIGNED in Debian's Chromium; an auditor sees no actions and cannot forge one.

Screenshots of the main pages are written to docs/screenshots/ by this test (they are shown in the README).
"""

from __future__ import annotations

from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect

from tests.factories import EXAMPLES
from tests.web import browsing
from tests.web.browsing import SCREENSHOTS
from tests.workflows.conftest import Kuayue
from web.refusals import DOMAIN_EN
from web.serve import serving


async def sign_in(browser: Browser, base: str, username: str, shot: str | None = None) -> Page:
    """Signed in from the inbox's address (which asks to sign in first), at the size of the README's screenshots."""
    return await browsing.sign_in(browser, base, username, start="/deals", size=(1200, 800), shot=shot)


async def submit(page: Page, command: str, fields: dict[str, str] | None = None) -> None:
    form = page.locator(f'form[data-command="{command}"]')
    for name, value in (fields or {}).items():
        control = form.locator(f'[name="{name}"]')
        if await control.evaluate("e => e.tagName") == "SELECT":
            await control.select_option(value)
        else:
            await control.fill(value)
    await form.get_by_role("button").click()


async def test_a_broker_takes_a_deal_to_signed_and_sees_a_refusal(app: FastAPI, deals: Kuayue, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened, _ = await deals.open(EXAMPLES / "jian-biofertilizer.json")
    deal_id = opened.deal_id
    async with serving(app, port=0) as server:
        page = await sign_in(browser, server.url, "ja-broker-liu", shot="login.png")
        row = page.locator(f'tr[data-deal="{deal_id}"]')
        await expect(row).to_contain_text("需求挖掘")
        await page.screenshot(path=str(SCREENSHOTS / "inbox.png"))
        await row.get_by_role("link").click()
        await expect(page.locator(".progress li.current")).to_have_text("需求挖掘")

        await submit(page, "ValidateDemand", {"note": "指标、预算已与企业确认"})
        await expect(page.locator(".progress li.current")).to_have_text("技术匹配")
        candidate = {
            "achievement_id": "JXCG-2026-0001",
            "title": "龙脑樟残渣生物有机肥技术",
            "institution": "江西省科学院",
            "score": "86.5",
            "reasons": "行业相同；技术就绪度 7",
        }
        await submit(page, "ProposeCandidates", candidate)
        await submit(page, "ShortlistCandidate", {"achievement_id": "JXCG-2026-0001"})
        await submit(page, "AcceptMatch", {"achievement_id": "JXCG-2026-0001", "side": "enterprise"})
        await submit(page, "AcceptMatch", {"achievement_id": "JXCG-2026-0001", "side": "owner"})
        await expect(page.locator(".progress li.current")).to_have_text("经纪服务")
        await submit(page, "AgreeTerms", {"transfer_mode": "许可", "price_wan": "300"})
        await expect(page.locator(".progress li.current")).to_have_text("路演融资")
        await submit(page, "WaiveFinancing", {"reason": "企业自筹研发经费，无需融资"})
        await expect(page.locator(".progress li.current")).to_have_text("签约")

        # A refused action: the message sits next to its form, the typed values stay, nothing is recorded.
        seq_before = len(deals.archive(deal_id))
        await submit(
            page,
            "SignContract",
            {"contract_type": "技术许可", "total_wan": "300", "technical_wan": "350", "signed_on": "2026-12-01"},
        )
        form = page.locator('form[data-command="SignContract"]')
        await expect(form.get_by_role("alert")).to_contain_text("技术交易额")
        await expect(form.locator('[name="technical_wan"]')).to_have_value("350")
        await page.screenshot(path=str(SCREENSHOTS / "deal-refused.png"), full_page=True)
        assert len(deals.archive(deal_id)) == seq_before

        await form.locator('[name="technical_wan"]').fill("280")
        await form.get_by_role("button").click()
        await submit(page, "RegisterContract", {"registration_number": "3608002026000123"})
        await expect(page.locator(".progress li.done")).to_have_count(6)
        await expect(page.locator(".timeline")).to_contain_text("合同认定登记，编号 3608002026000123")
        await expect(page.locator("dl")).to_contain_text("300.00 万元")
        await page.screenshot(path=str(SCREENSHOTS / "deal-signed.png"), full_page=True)
    row_now = deals.row(deal_id)
    assert row_now is not None and row_now.stage == "SIGNED"
    assert {e.actor.id for e in deals.archive(deal_id)[2:]} == {"ja-broker-liu"}


async def test_an_auditor_sees_everything_and_cannot_act(app: FastAPI, deals: Kuayue, browser: Browser) -> None:
    opened, _ = await deals.open(EXAMPLES / "fuzhou-ultrasonic-spindle.json")
    async with serving(app, port=0) as server:
        page = await sign_in(browser, server.url, "auditor-zhao")
        await page.locator(f'tr[data-deal="{opened.deal_id}"]').get_by_role("link").click()
        await expect(page.locator(".timeline li")).to_have_count(2)
        await expect(page.locator("form.action")).to_have_count(0)
        await expect(page.get_by_text("当前没有您可以执行的操作")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOTS / "deal-auditor.png"), full_page=True)
        # A forged POST from the auditor's own session, with its valid CSRF token, is still refused.
        csrf = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
        forged = await page.request.post(
            f"{server.url}/deals/{opened.deal_id}/actions/ValidateDemand", form={"csrf_token": csrf or "", "note": "伪造"}
        )
        assert forged.status == 403
    assert len(deals.archive(opened.deal_id)) == 2


async def test_an_english_page_shows_the_timeline_and_a_refusal_in_english(app: FastAPI, deals: Kuayue, browser: Browser) -> None:
    """The broker switches to English in the header: the timeline reads in English, and a refused withdrawal (a reason
    of blanks) is explained in English with the domain's Chinese detail after it; nothing is archived."""
    opened, _ = await deals.open(EXAMPLES / "jian-biofertilizer.json")
    deal_id = opened.deal_id
    async with serving(app, port=0) as server:
        page = await sign_in(browser, server.url, "ja-broker-liu")
        await page.get_by_role("link", name="English").click()
        await expect(page.get_by_role("heading", name="My deals")).to_be_visible()
        await page.locator(f'tr[data-deal="{deal_id}"]').get_by_role("link").click()
        await submit(page, "ValidateDemand", {"note": "指标、预算已与企业确认"})
        await expect(page.locator(".progress li.current")).to_have_text("Matching")
        timeline = page.locator(".timeline")
        await expect(timeline).to_contain_text(f"Broker {opened.broker.broker_id} Demand validated: 指标、预算已与企业确认")
        await expect(timeline).to_contain_text("Entered the stage “Matching”")
        await expect(timeline).to_contain_text(f"Deal opened: {opened.demand.title}")
        await expect(timeline).not_to_contain_text("进入「")

        archived = len(deals.archive(deal_id))
        await submit(page, "WithdrawDeal", {"reason": "   "})
        alert = page.locator('form[data-command="WithdrawDeal"]').get_by_role("alert")
        await expect(alert).to_contain_text(DOMAIN_EN["reason_required"])
        await expect(alert).to_contain_text("Details: 撤回案件须说明理由")
        await page.screenshot(path=str(SCREENSHOTS / "deal-refused-en.png"), full_page=True)
        assert len(deals.archive(deal_id)) == archived
