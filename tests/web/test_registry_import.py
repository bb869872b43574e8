"""Importing registry files in the browser: a preview that writes nothing, a confirmed import that writes exactly the
previewed rows and is logged, who may import what (a manager only their centre's achievements), bad uploads refused
with what is allowed; and the whole path clicked through in Debian's Chromium."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from domain.registry import Achievement
from registry import records
from registry.importer import check_row, import_file
from registry.tables import Kind, read_rows
from store.db import make_engine, make_session_factory
from store.models import AchievementRecord, DemandRegistryRecord, RegistryImportRecord
from store.testing import migrated_database
from tests.web import browsing
from tests.web.browsing import SCREENSHOTS
from tests.web.conftest import PASSWORD, WebDb, csrf_from, sign_in
from web.app import create_app
from web.config import WebConfig
from web.serve import serving
from web.users import create_user

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry"
ACHIEVEMENTS = REGISTRY / "achievements.csv"
USERS: dict[str, tuple[Role, str | None]] = {
    "hub-admin": (Role.HUB_ADMIN, "hub"),
    "jxau-manager": (Role.MANAGER, "jxau"),  # 江西农业大学's N centre: 4 of the 30 example achievements
    "ja-manager": (Role.MANAGER, "ja-centre"),
    "ja-broker-liu": (Role.BROKER, "ja-centre"),
    "auditor-zhao": (Role.AUDITOR, None),
}


@pytest.fixture
def import_db() -> Iterator[WebDb]:
    """An empty registry and the users above."""
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, username, centre)
        yield WebDb(url, sessions, {})
        engine.dispose()


@pytest.fixture
def import_app(temporal_env: WorkflowEnvironment, import_db: WebDb) -> FastAPI:
    config = WebConfig(database_url=import_db.url, secret_key="test-secret-key-not-for-production")
    return create_app(config, temporal_env.client, import_db.sessions)


def _counts(db: WebDb) -> tuple[int, int, int]:
    with db.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(AchievementRecord)) or 0,
            session.scalar(select(func.count()).select_from(DemandRegistryRecord)) or 0,
            session.scalar(select(func.count()).select_from(RegistryImportRecord)) or 0,
        )


async def _upload(client: httpx.AsyncClient, name: str, content: bytes, kind: str = "") -> httpx.Response:
    form = await client.get("/registry/import")
    assert form.status_code == 200, form.text
    return await client.post(
        "/registry/import",
        data={"csrf_token": csrf_from(form.text), "kind": kind},
        files={"file": (name, content, "application/octet-stream")},
    )


def _confirm_url(html: str) -> str:
    match = re.search(r'action="(/registry/import/[^"]+)"', html)
    assert match, "the preview offers no confirmation"
    return match.group(1)


def _count(html: str, what: str) -> int:
    match = re.search(rf'data-count="{what}">(\d+)<', html)
    assert match, f"no {what} count on the page"
    return int(match.group(1))


async def test_a_manager_previews_then_imports_only_their_centres_achievements(import_app: FastAPI, import_db: WebDb) -> None:
    client = await sign_in(import_app, "jxau-manager")
    content = ACHIEVEMENTS.read_bytes()

    preview = await _upload(client, "成果.csv", content)
    assert preview.status_code == 200, preview.text
    # Four rows are jxau's; the other 26 name another centre and are refused, each with the reason.
    assert (_count(preview.text, "inserted"), _count(preview.text, "rejected")) == (4, 26)
    assert "中心管理员只能导入本中心（jxau）的科技成果" in preview.text
    assert "预览：尚未写入" in preview.text
    assert _counts(import_db) == (0, 0, 0)  # the preview wrote nothing

    page = await client.get("/registry/import")  # a fresh form's token; the confirmation carries it
    done = await client.post(_confirm_url(preview.text), data={"csrf_token": csrf_from(page.text)})
    assert done.status_code == 200, done.text
    assert "已导入" in done.text and _count(done.text, "inserted") == 4
    with import_db.sessions() as session:
        centres = set(session.scalars(select(AchievementRecord.centre_id)))
        log = session.scalars(select(RegistryImportRecord)).one()
    assert centres == {"jxau"}
    assert (log.imported_by, log.kind, log.file_name) == ("jxau-manager", "achievements", "成果.csv")
    assert log.file_sha256 == hashlib.sha256(content).hexdigest()
    assert len(json.loads(log.report)["inserted"]) == 4

    # The token is spent: confirming again finds nothing and writes nothing.
    again = await client.post(_confirm_url(preview.text), data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 404 and "请重新上传" in again.text
    assert _counts(import_db) == (4, 0, 1)

    # Uploading the same file again: nothing to write, and no confirmation offered.
    same = await _upload(client, "成果.csv", content)
    assert (_count(same.text, "unchanged"), _count(same.text, "inserted")) == (4, 0)
    assert "/registry/import/" not in same.text.split('id="import-upload"')[0]


async def test_a_manager_cannot_rewrite_another_centres_achievement(import_app: FastAPI, import_db: WebDb) -> None:
    import_file(import_db.sessions, ACHIEVEMENTS)  # the hub's registry: every centre's achievements
    rows = list(csv.DictReader(io.StringIO(ACHIEVEMENTS.read_text(encoding="utf-8-sig"))))
    taken = next(r for r in rows if r["所属N中心"] == "ncu")
    taken["所属N中心"] = "jxau"  # claims 南昌大学's achievement for jxau
    taken["成果名称"] = "改名后的成果"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerow(taken)
    client = await sign_in(import_app, "jxau-manager")
    preview = await _upload(client, "claim.csv", out.getvalue().encode("utf-8"))
    assert _count(preview.text, "rejected") == 1 and _count(preview.text, "updated") == 0
    assert "已属于中心「ncu」的成果" in preview.text
    with import_db.sessions() as session:
        assert session.get(AchievementRecord, taken["登记号"]).centre_id == "ncu"  # type: ignore[union-attr]


async def test_the_hub_imports_any_registry_and_sees_every_import(import_app: FastAPI, import_db: WebDb) -> None:
    hub = await sign_in(import_app, "hub-admin")
    preview = await _upload(hub, "demands.xlsx", (REGISTRY / "demands.xlsx").read_bytes(), kind="demands")
    assert _count(preview.text, "inserted") == 10 and _count(preview.text, "rejected") == 0
    page = await hub.get("/registry/import")
    await hub.post(_confirm_url(preview.text), data={"csrf_token": csrf_from(page.text)})
    manager = await sign_in(import_app, "ja-manager")
    preview = await _upload(manager, "achievements.json", (REGISTRY / "achievements.json").read_bytes())
    assert preview.status_code == 200, re.findall(r"role=\"alert\">([^<]*)", preview.text)
    assert _count(preview.text, "rejected") == 30  # ja-centre is an M centre: it owns no achievements
    assert _counts(import_db) == (0, 10, 1)
    listing = await hub.get("/registry/import")
    assert "demands.xlsx" in listing.text and "hub-admin" in listing.text
    # A manager's list shows their own imports only.
    assert "demands.xlsx" not in (await manager.get("/registry/import")).text


@pytest.mark.parametrize("username", ["ja-broker-liu", "auditor-zhao"])
async def test_brokers_and_auditors_may_not_import(import_app: FastAPI, import_db: WebDb, username: str) -> None:
    client = await sign_in(import_app, username)
    assert (await client.get("/registry/import")).status_code == 403
    registry = await client.get("/registry/demands")
    refused = await client.post(
        "/registry/import",
        data={"csrf_token": csrf_from(registry.text)},
        files={"file": ("demands.csv", (REGISTRY / "demands.csv").read_bytes(), "text/csv")},
    )
    assert refused.status_code == 403 and "无权导入登记库" in refused.text
    assert "/registry/import" not in registry.text  # no link to what they may not do
    assert _counts(import_db) == (0, 0, 0)


async def test_bad_uploads_are_refused_with_what_is_allowed_and_write_nothing(import_app: FastAPI, import_db: WebDb) -> None:
    client = await sign_in(import_app, "hub-admin")
    wrong_type = await _upload(client, "registry.pdf", b"%PDF-1.4")
    assert wrong_type.status_code == 422 and "允许 .csv、.xlsx、.json" in wrong_type.text
    wrong_kind = await _upload(client, "demands.csv", (REGISTRY / "demands.csv").read_bytes(), kind="patents")
    assert wrong_kind.status_code == 422 and "可选：achievements" in wrong_kind.text
    unknown = await _upload(client, "misc.csv", "名称,备注\n甲,乙\n".encode())
    assert unknown.status_code == 422 and "无法判断「misc.csv」" in unknown.text
    form = await client.get("/registry/import")
    no_file = await client.post("/registry/import", data={"csrf_token": csrf_from(form.text)})
    assert no_file.status_code == 422 and "请选择要导入的文件" in no_file.text
    forged = await client.post(
        "/registry/import", data={"csrf_token": "forged"}, files={"file": ("d.csv", (REGISTRY / "demands.csv").read_bytes())}
    )
    assert forged.status_code == 403

    # Bad cells are named row by row; confirming writes the good rows only.
    rows = list(csv.DictReader(io.StringIO((REGISTRY / "demands.csv").read_text(encoding="utf-8-sig"))))
    rows[1]["最低技术就绪度"] = "12"  # TRL is 1 to 9
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows[:2])
    preview = await _upload(client, "demands.csv", out.getvalue().encode("utf-8"))
    assert (_count(preview.text, "inserted"), _count(preview.text, "rejected")) == (1, 1)
    assert "<td>3</td><td>最低技术就绪度</td><td>12</td>" in preview.text  # the row as the person counts it

    # Someone else's preview cannot be confirmed (it is not found for them).
    other = await sign_in(import_app, "jxau-manager")
    page = await other.get("/registry/import")
    stolen = await other.post(_confirm_url(preview.text), data={"csrf_token": csrf_from(page.text)})
    assert stolen.status_code == 404
    assert _counts(import_db) == (0, 0, 0)


async def test_a_manager_imports_in_the_browser(temporal_env: WorkflowEnvironment, import_db: WebDb, browser: Browser) -> None:
    config = WebConfig(database_url=import_db.url, secret_key="test-secret-key-not-for-production")
    async with serving(create_app(config, temporal_env.client, import_db.sessions), port=0) as server:
        page = await browsing.sign_in(browser, server.url, "jxau-manager")
        await page.goto(f"{server.url}/registry/achievements")
        await page.get_by_role("link", name="导入登记库").click()
        await page.get_by_label("文件").set_input_files(str(ACHIEVEMENTS))
        await page.get_by_role("button", name="检查并预览").click()
        await expect(page.locator("#import-report")).to_contain_text("预览：尚未写入")
        await expect(page.locator('[data-count="inserted"]')).to_have_text("4")
        await page.screenshot(path=str(SCREENSHOTS / "registry-import.png"), full_page=True)
        await page.get_by_role("button", name="确认导入").click()
        await expect(page.locator("#import-report")).to_have_attribute("data-imported", "yes")
        await expect(page.locator("table.imports")).to_contain_text("achievements.csv")
        await page.goto(f"{server.url}/registry/achievements")
        await expect(page.locator("tr[data-record]")).to_have_count(4)
        await page.context.close()
    assert _counts(import_db) == (4, 0, 1)


async def test_every_signed_in_user_exports_a_registry_as_a_spreadsheet_or_json(
    import_app: FastAPI, import_db: WebDb, tmp_path: Path
) -> None:
    import_file(import_db.sessions, ACHIEVEMENTS)
    with import_db.sessions.begin() as session:  # a title a spreadsheet would take for a formula
        row = session.get(AchievementRecord, "JXCG-2026-0002")
        assert row is not None
        row.record = row.record.replace(row.title, "=SUM(1,2) 畜禽粪污堆肥菌剂", 1)
    with import_db.sessions() as session:
        stored = records.load(session, Kind.ACHIEVEMENTS)
    for username in ("auditor-zhao", "ja-broker-liu"):
        client = await sign_in(import_app, username)
        sheet = await client.get("/registry/export/achievements?format=xlsx")
        assert sheet.status_code == 200 and "achievements-" in sheet.headers["content-disposition"]
        (tmp_path / "a.xlsx").write_bytes(sheet.content)
        # The file imports back as the same records, and the formula-looking title stayed text.
        assert [r.achievement_id for r in read_back(tmp_path / "a.xlsx")] == [r.achievement_id for r in stored]
        workbook = openpyxl.load_workbook(tmp_path / "a.xlsx")
        titles = [c for c in workbook.active["B"] if isinstance(c.value, str) and c.value.startswith("=")]
        assert [c.data_type for c in titles] == ["s"]
        answer = await client.get("/registry/export/achievements?format=json")
        assert [r["achievement_id"] for r in answer.json()] == [r.achievement_id for r in stored]
    wrong = await client.get("/registry/export/achievements?format=pdf")
    assert wrong.status_code == 422 and "可选：xlsx、json" in wrong.text
    assert (await client.get("/registry/export/patents")).status_code == 404
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=import_app), base_url="http://testserver")
    assert (await anonymous.get("/registry/export/demands")).status_code in (303, 307)
    assert not list(Path(tempfile.gettempdir()).glob("kuayue-export-*/achievements.*"))  # each file deleted once sent


def read_back(path: Path) -> list[Achievement]:
    rows = read_rows(path)
    checked = [check_row(Kind.ACHIEVEMENTS, row, json_format=False) for row in rows]
    assert all(not problems for _, problems in checked), [p for _, problems in checked for p in problems][:3]
    return [record for record, _ in checked if isinstance(record, Achievement)]
