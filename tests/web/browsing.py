"""Debian's Chromium for the web tests: the launch options, one browser per test module, signing in through the form.

Never skipped: a browser test that did not run must not look like one that passed. Screenshots the tests take go to
docs/screenshots/ (shown in the README).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.web.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium per test module; each sign-in opens a context of its own, so tests share no cookies."""
    assert CHROMIUM.exists(), "browser tests need Debian's chromium: scripts/test installs it (apt-get install chromium)"
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def sign_in(
    browser: Browser,
    base: str,
    username: str,
    *,
    start: str = "/login",
    size: tuple[int, int] = (1280, 900),
    shot: str | None = None,
) -> Page:
    """A new page signed in as `username` through the login form (reached from `start`), at the inbox."""
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{base}{start}")
    await expect(page.get_by_role("heading", name="登录")).to_be_visible()
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    if shot:
        await page.screenshot(path=str(SCREENSHOTS / shot))
    await page.get_by_role("button", name="登录").click()
    await expect(page.get_by_role("heading", name="我的案件")).to_be_visible()
    return page
