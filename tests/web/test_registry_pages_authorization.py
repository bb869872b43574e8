"""Who may see and do what on the registry, open-call and declines pages: each role, own centre vs another, signed
in vs not; an auditor has no forms and a forged POST from them is refused; a refused request records nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from registry.importer import import_file
from store.db import make_engine, make_session_factory
from store.models import DealRecord
from store.testing import migrated_database
from tests.factories import EXAMPLES
from tests.web.conftest import PASSWORD, WebDb, csrf_from, sign_in
from tests.workflows.conftest import Kuayue
from web.app import create_app
from web.config import WebConfig
from web.format import SHANGHAI
from web.users import create_user
from worker import build_worker

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry"
JA = EXAMPLES / "jian-biofertilizer.json"
DEMAND, ACHIEVEMENT = "D-JA-2026-001", "JXCG-2026-0001"  # the achievement is 井冈山大学's (N centre jgsu)
USERS: dict[str, tuple[Role, str | None]] = {
    "ja-broker-liu": (Role.BROKER, "ja-centre"),  # the deal's broker
    "ja-manager": (Role.MANAGER, "ja-centre"),
    "jj-broker-chen": (Role.BROKER, "jj-centre"),
    "jj-manager": (Role.MANAGER, "jj-centre"),
    "jgsu-manager": (Role.MANAGER, "jgsu"),
    "hub-admin": (Role.HUB_ADMIN, "hub"),
    "auditor-zhao": (Role.AUDITOR, None),
}
# The deal's enterprise side (publish, close, select), who sees the deal, and who reads jgsu's declines.
SIDE = {"ja-broker-liu", "ja-manager", "hub-admin"}
SEES_DEAL = SIDE | {"auditor-zhao"}
READS_JGSU_DECLINES = {"jgsu-manager", "hub-admin", "auditor-zhao"}


@pytest.fixture
def registry_db() -> Iterator[WebDb]:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        import_file(sessions, REGISTRY / "achievements.csv")
        import_file(sessions, REGISTRY / "demands.csv")
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, username, centre)
        yield WebDb(url, sessions, {})
        engine.dispose()


@pytest.fixture
async def served(temporal_env: WorkflowEnvironment, registry_db: WebDb, task_queue: str) -> AsyncIterator[tuple[FastAPI, Kuayue]]:
    async with build_worker(temporal_env.client, task_queue, registry_db.url):
        kuayue = Kuayue(temporal_env.client, task_queue, registry_db.sessions)
        config = WebConfig(database_url=registry_db.url, secret_key="test-secret-key-not-for-production", task_queue=task_queue)
        yield create_app(config, temporal_env.client, registry_db.sessions), kuayue
        await kuayue.end_open_deals()


def deal_count(db: WebDb) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(DealRecord)) or 0)


async def test_every_new_page_answers_only_what_each_role_may_see_and_do(
    served: tuple[FastAPI, Kuayue], registry_db: WebDb, temporal_env: WorkflowEnvironment
) -> None:
    app, kuayue = served
    opened, _ = await kuayue.open(JA)
    deal = opened.deal_id
    call = f"OC-{deal}"
    broker = await sign_in(app, "ja-broker-liu")
    deal_page = await broker.get(f"/deals/{deal}")
    assert 'data-command="PublishOpenCall"' in deal_page.text
    deadline = (await temporal_env.get_current_time() + timedelta(days=3)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M:%S")
    published = await broker.post(
        f"/deals/{deal}/open-calls",
        data={"csrf_token": csrf_from(deal_page.text), "deadline": deadline, "min_trl": "1", "institution_kinds": "university"},
    )
    assert published.status_code == 303 and published.headers["location"] == f"/open-calls/{call}", published.text
    deals_before = deal_count(registry_db)
    events_before = len(kuayue.archive(deal))

    reads = [
        "/registry/demands",
        "/registry/achievements",
        f"/registry/demands/{DEMAND}",
        f"/registry/achievements/{ACHIEVEMENT}",
    ]
    reads += ["/registry/demands?q=生物有机肥", "/open-calls", f"/open-calls/{call}"]
    for user, (role, _) in USERS.items():
        client = await sign_in(app, user)
        for path in reads:
            page = await client.get(path)
            assert page.status_code == 200, (user, path)
        assert (await client.get("/registry/nothing")).status_code == 404
        assert (await client.get("/registry/demands/D-NONE-1")).status_code == 404

        # Forms are offered only to those who may use them.
        demand = (await client.get(f"/registry/demands/{DEMAND}")).text
        assert ('data-command="OpenDeal"' in demand) == (role != Role.AUDITOR), user
        call_page = (await client.get(f"/open-calls/{call}")).text
        assert ('data-command="close"' in call_page) == (user in SIDE), user
        assert ('data-command="bid"' in call_page) == (user == "jgsu-manager"), user
        # The deal's side sees every bid; others only their own centre's (there are none yet).
        assert ("仅显示本中心的揭榜" in call_page) == (user not in SEES_DEAL), user
        deal_answer = await client.get(f"/deals/{deal}")
        assert deal_answer.status_code == (200 if user in SEES_DEAL else 404), user
        assert 'data-command="PublishOpenCall"' not in deal_answer.text, user  # the deal's call is still open

        declines = await client.get("/centres/jgsu/declines")
        assert declines.status_code == (200 if user in READS_JGSU_DECLINES else 403), user
        achievement_page = (await client.get(f"/registry/achievements/{ACHIEVEMENT}")).text
        assert ('href="/centres/jgsu/declines"' in achievement_page) == (user in READS_JGSU_DECLINES), user

        csrf = csrf_from(demand)
        # Starting a deal: a wrong value past the role check is refused (422) with its message; an auditor gets 403.
        start = await client.post(
            f"/registry/demands/{DEMAND}/deals",
            data={"csrf_token": csrf, "broker_id": "jj-broker-chen", "financing_need_wan": "很多"},
        )
        assert start.status_code == (403 if role == Role.AUDITOR else 422), (user, start.text[:300])
        if role != Role.AUDITOR:
            assert "融资需求「很多」不对" in start.text and 'value="很多"' in start.text  # the typed value is kept
        if role == Role.MANAGER and user != "jj-manager":
            other = await client.post(
                f"/registry/demands/{DEMAND}/deals", data={"csrf_token": csrf, "broker_id": "jj-broker-chen"}
            )
            assert other.status_code == 422 and "不是中心" in other.text, user
        # Publishing again: the deal's side gets the domain's message (422); who cannot see it 404; others 403.
        again = await client.post(f"/deals/{deal}/open-calls", data={"csrf_token": csrf, "deadline": deadline, "min_trl": "1"})
        expected = 422 if user in SIDE else (404 if user not in SEES_DEAL else 403)
        assert again.status_code == expected, (user, again.text[:300])
        if user in SIDE:
            assert "已有未结束的揭榜" in again.text
        # Closing without a reason and selecting before the deadline: refused to the side with a message, else 403.
        close = await client.post(f"/open-calls/{call}/close", data={"csrf_token": csrf, "reason": ""})
        assert close.status_code == (422 if user in SIDE else 403), (user, close.text[:300])
        select_ = await client.post(f"/open-calls/{call}/selection", data={"csrf_token": csrf, "bid_id": "B1"})
        assert select_.status_code == (422 if user in SIDE else 403), (user, select_.text[:300])
        if user in SIDE:
            assert "揭榜尚未截止" in select_.text
        # Bidding with jgsu's achievement and no proposal: jgsu's staff get the message, other centres 403.
        bid = await client.post(
            f"/open-calls/{call}/bids",
            data={"csrf_token": csrf, "achievement_id": ACHIEVEMENT, "institution_kind": "university", "proposal": ""},
        )
        assert bid.status_code == (422 if user == "jgsu-manager" else 403 if role not in (Role.BROKER, Role.MANAGER) else 422), (
            user
        )
        if role in (Role.BROKER, Role.MANAGER) and user != "jgsu-manager":
            proposal = {"csrf_token": csrf, "achievement_id": ACHIEVEMENT, "institution_kind": "university", "proposal": "方案"}
            theirs = await client.post(f"/open-calls/{call}/bids", data=proposal)
            assert theirs.status_code == 403 and "只能为本中心的成果揭榜" in theirs.text, user
        await client.aclose()

    # The new pages in English: every read page renders, its headings translated.
    english = await sign_in(app, "hub-admin")
    await english.get("/lang/en")
    headings = ["Demand registry", "Achievement registry", "Demand details", "Achievement details", "By relevance"]
    headings += ["Open calls", "Minimum readiness", "Why achievements are declined"]
    for path, heading in zip([*reads, "/centres/jgsu/declines"], headings, strict=True):
        page = await english.get(path)
        assert page.status_code == 200 and heading in page.text, path
    assert "Reasons (part by part)" in (await english.get(f"/registry/demands/{DEMAND}")).text
    assert deal_count(registry_db) == deals_before, "a refused start opened a deal"
    assert len(kuayue.archive(deal)) == events_before, "a refused request recorded something"
    staff = await sign_in(app, "auditor-zhao")
    assert 'data-bid="B1"' not in (await staff.get(f"/open-calls/{call}")).text  # no bid was recorded


async def test_signed_out_every_new_page_sends_to_sign_in(served: tuple[FastAPI, Kuayue]) -> None:
    app, _ = served
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    csrf = csrf_from((await anonymous.get("/login")).text)
    gets = ["/registry", "/registry/demands", f"/registry/demands/{DEMAND}", f"/registry/achievements/{ACHIEVEMENT}"]
    gets += ["/open-calls", "/open-calls/OC-x", "/centres/jgsu/declines"]
    for path in gets:
        answer = await anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
    posts = [f"/registry/demands/{DEMAND}/deals", "/deals/x/open-calls", "/open-calls/OC-x/bids", "/open-calls/OC-x/close"]
    posts += ["/open-calls/OC-x/selection"]
    for path in posts:
        answer = await anonymous.post(path, data={"csrf_token": csrf})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path


async def test_a_broker_starts_a_deal_from_a_demand_for_a_new_centre_by_naming_it(
    served: tuple[FastAPI, Kuayue], registry_db: WebDb
) -> None:
    app, _ = served
    # No deal of ja-centre exists here: the centre's name, level and region are asked for, and checked.
    broker = await sign_in(app, "ja-broker-liu")
    for bad, message in (("page=abc", "页码「abc」不对"), ("min_trl=12", "允许 1 到 9"), ("q=" + "字" * 2001, "查询内容过长")):
        answer = await broker.get(f"/registry/achievements?{bad}")
        assert answer.status_code == 422 and message in answer.text, bad
    page = await broker.get(f"/registry/demands/{DEMAND}")
    assert 'name="centre_name"' in page.text
    refused = await broker.post(
        f"/registry/demands/{DEMAND}/deals",
        data={"csrf_token": csrf_from(page.text), "centre_name": "吉安中心", "centre_level": "x"},
    )
    assert refused.status_code == 422 and "请填写中心名称、级别和 6 位地区代码" in refused.text
    assert 'value="吉安中心"' in refused.text
    started = await broker.post(
        f"/registry/demands/{DEMAND}/deals",
        data={
            "csrf_token": csrf_from(page.text),
            "centre_name": "吉安市科技成果转移转化服务中心",
            "centre_level": "city_or_industry",
            "centre_region": "360800",
        },
    )
    assert started.status_code == 303, started.text[:500]
    deal_id = started.headers["location"].split("/")[-1].split("?")[0]
    inbox = await broker.get("/deals")
    assert deal_id in inbox.text
    await app.state.services.client.get_workflow_handle(f"deal-{deal_id}").terminate("test over")
