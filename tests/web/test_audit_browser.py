"""An auditor goes through a deal's audit pages in Debian's Chromium: chain, replay, state at a seq, evidence, who did what,
a centre's verification job, and the pages in English.

Screenshots of the audit pages are written to docs/screenshots/audit-*.png (shown in the README).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI
from playwright.async_api import Browser, expect

from examples.lifecycle import lifecycle
from tests.factories import EXAMPLES
from tests.web.browsing import SCREENSHOTS
from tests.web.test_browser import sign_in
from tests.workflows.conftest import Kuayue
from web.serve import serving


async def test_an_auditor_opens_a_deals_audit_pages(app: FastAPI, deals: Kuayue, browser: Browser, tmp_path: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    opened, _ = await deals.open(EXAMPLES / "jian-biofertilizer.json")
    for command in lifecycle(opened)[:3]:
        await deals.act(opened.deal_id, command)
    archived = deals.archive(opened.deal_id)
    async with serving(app, port=0) as server:
        page = await sign_in(browser, server.url, "auditor-zhao")
        await page.get_by_role("link", name="审计").click()
        await expect(page.get_by_role("heading", name="审计", exact=True)).to_be_visible()
        await page.get_by_label("案件编号").fill(opened.deal_id)
        await page.get_by_role("button", name="打开").click()
        await expect(page.get_by_role("status")).to_contain_text(f"1 个案件，{len(archived)} 个事件 — 哈希链完整")

        await page.get_by_role("link", name="回放与重新推导").click()
        await expect(page.locator("table.inbox")).to_contain_text("可回放")
        await expect(page.get_by_role("status")).to_contain_text(f"重新推导 {len(archived)} 个事件，存档 {len(archived)} 个")
        await expect(page.get_by_role("status")).to_contain_text("一致")
        await page.screenshot(path=str(SCREENSHOTS / "audit-replay.png"), full_page=True)

        await page.get_by_role("link", name="某时点状态").click()
        await page.get_by_label("或序号").fill("2")
        await page.get_by_role("button", name="查看").click()
        await expect(page.get_by_role("heading", name="状态（由存档中的 2 个事件折叠）")).to_be_visible()
        await expect(page.locator(".timeline li")).to_have_count(2)
        await page.get_by_label("或序号").fill("")
        await page.get_by_label("时间（北京时间）").fill("下周")
        await page.get_by_role("button", name="查看").click()
        await expect(page.get_by_role("alert")).to_contain_text("2026-03-05T18:00")
        await page.get_by_label("时间（北京时间）").fill(archived[-1].occurred_at.isoformat())
        await page.get_by_role("button", name="查看").click()
        await expect(page.locator(".timeline li")).to_have_count(len(archived))
        await page.screenshot(path=str(SCREENSHOTS / "audit-state.png"), full_page=True)

        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="下载证据包").click()
        download = await downloading.value
        bundle = tmp_path / download.suggested_filename
        await download.save_as(bundle)
        assert bundle.name == f"evidence-{opened.deal_id}.zip"
        kuayue = Path(sys.executable).parent / "kuayue"
        command = [str(kuayue), "audit", "verify-bundle", str(bundle)]
        checked = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0 and "完整 intact" in checked.stdout, checked.stdout + checked.stderr

        await page.get_by_role("link", name="操作记录").click()
        await page.get_by_label("用户").fill("ja-broker-liu")
        await page.get_by_role("button", name="查询").click()
        mine = [e for e in archived if e.actor.id == "ja-broker-liu"]
        await expect(page.locator(f'table.inbox a[href="/audit/deals/{opened.deal_id}"]')).to_have_count(len(mine))
        await page.screenshot(path=str(SCREENSHOTS / "audit-actions.png"), full_page=True)
        async with page.expect_download() as downloading:
            await page.get_by_role("link", name="下载 CSV").click()
        sheet = await (await downloading.value).path()
        _, *rows = csv.reader(sheet.read_text(encoding="utf-8-sig").splitlines())
        this_deal = [(row[1], int(row[2]), row[3]) for row in rows if row[1] == opened.deal_id]  # the database is shared
        assert this_deal == [(e.deal_id, e.seq, e.actor.id) for e in mine]

        await page.get_by_role("link", name="← 审计").click()
        await page.get_by_label("中心").fill("ja-centre")
        await page.get_by_role("button", name="校验（中心留空则校验整个存档）").click()
        await expect(page.locator("#job")).to_have_attribute("data-status", "done", timeout=30_000)
        await expect(page.get_by_role("status")).to_contain_text("哈希链完整")
        await expect(page.get_by_role("button", name="再次校验")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOTS / "audit-verify-job.png"), full_page=True)

        await page.get_by_role("link", name="English").click()
        await expect(page.get_by_role("heading", name="Hash-chain verification: centre ja-centre")).to_be_visible()
        await page.get_by_role("link", name="← Audit").click()
        await expect(page.locator("#verification-jobs")).to_contain_text("done: hash chain intact")
        await page.get_by_label("Deal id").fill(opened.deal_id)
        await page.get_by_role("button", name="Open").click()
        await page.get_by_role("link", name="Replay and re-derivation").click()
        await expect(page.get_by_role("status")).to_contain_text(f"{len(archived)} events re-derived from the history")
        await expect(page.locator("table.inbox")).to_contain_text("replays")
        await page.screenshot(path=str(SCREENSHOTS / "audit-replay-en.png"), full_page=True)
    assert deals.archive(opened.deal_id) == archived  # the auditor changed nothing
