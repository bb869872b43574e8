"""Who may see and do what on the roadshow pages (路演), on the real dev server with a real worker: each role, the
organising centre vs another, a deal's side vs another centre's; forms only for those who may act; 403 for a
forbidden POST whatever it carries, 404 for a roadshow out of scope, 422 with what is allowed for bad input; and a
refused or forbidden request leaves the roadshow (its archive and read model) exactly as it was."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.commands import OpenDeal
from kuayue.partners import load_registration_rules, simulated_directory
from store.roadshows import interests, list_roadshows, roadshow_events, roadshow_row
from tests.factories import EXAMPLES
from tests.partnering import take_to_financing
from tests.web.conftest import WebDb, csrf_from, sign_in
from tests.workflows.conftest import Kuayue
from web.app import create_app
from web.callbacks import CallbackConfig
from web.config import WebConfig
from web.refusals import DOMAIN_EN
from workflows.roadshow import roadshow_workflow_id

JJ, FZ, JA = (
    EXAMPLES / "jiujiang-heterojunction.json",
    EXAMPLES / "fuzhou-ultrasonic-spindle.json",
    EXAMPLES / "jian-biofertilizer.json",
)
EVERYONE = ("jj-manager", "jj-broker-chen", "hub-admin", "auditor-zhao", "ja-broker-liu", "ja-manager", "nchu-manager")


@pytest.fixture
def app(temporal_env: WorkflowEnvironment, web_db: WebDb, deals: Kuayue) -> FastAPI:
    config = WebConfig(database_url=web_db.url, secret_key="test-secret-key-not-for-production", task_queue=deals.task_queue)
    # The simulator's partner directory (nothing listens there: deliveries fail, which these tests do not need).
    callbacks = CallbackConfig(partners=simulated_directory("http://127.0.0.1:9"), rules=load_registration_rules())
    return create_app(config, temporal_env.client, web_db.sessions, callbacks)


async def opened(deals: Kuayue, path: Any, financing: bool = True) -> OpenDeal:
    cmd, _ = await deals.open(path)
    if financing:
        await take_to_financing(deals, cmd)
    return cmd


def snapshot(db: WebDb, roadshow_id: str) -> tuple[Any, ...]:
    """Everything the roadshow has recorded: its archive and its read model."""
    with db.sessions() as s:
        return (roadshow_events(s, roadshow_id), roadshow_row(s, roadshow_id), interests(s, roadshow_id))


async def post(client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, Any]) -> httpx.Response:
    """A form POST carrying the CSRF token of the page the person has open."""
    page = await client.get(page_path)
    return await client.post(action, data={"csrf_token": csrf_from(page.text), **data})


async def start(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    data = {"title": "九江市科技成果融资路演", "held_on": "2026-12-18", "mode": "online", "venue": "", **fields}
    return await post(client, "/roadshows", "/roadshows", data)


async def terminate(client: Client, *roadshow_ids: str) -> None:
    for rid in roadshow_ids:
        await client.get_workflow_handle(roadshow_workflow_id(rid)).terminate("test finished")


async def test_each_role_sees_and_does_only_what_the_rules_allow(app: FastAPI, deals: Kuayue, web_db: WebDb) -> None:
    jj, fz = await opened(deals, JJ), await opened(deals, FZ)
    ja = await opened(deals, JA, financing=False)
    manager = await sign_in(app, "jj-manager")

    # The start form offers the manager's own centre's deals in FINANCING only; the hub's deal and a deal still in
    # demand mining are not offered, and choosing them anyway is refused with what is allowed.
    new = await manager.get("/roadshows/new")
    assert new.status_code == 200 and f'value="{jj.deal_id}"' in new.text
    assert fz.deal_id not in new.text and ja.deal_id not in new.text
    for wrong in (ja.deal_id, fz.deal_id):
        refused = await start(manager, deal_ids=[wrong], investor_ids=["jxbank"])
        assert refused.status_code == 422 and f"可选：{jj.deal_id}" in refused.text, refused.text
    assert (await start(manager, deal_ids=[jj.deal_id], held_on="18/12/2026")).status_code == 422
    bad_date = await start(manager, deal_ids=[jj.deal_id], held_on="18/12/2026")
    assert "2026-12-18 的格式" in bad_date.text and 'value="九江市科技成果融资路演"' in bad_date.text  # typed kept
    no_venue = await start(manager, deal_ids=[jj.deal_id], mode="venue")
    assert no_venue.status_code == 422 and "线下路演须填写会场地址" in no_venue.text
    assert (await start(manager, deal_ids=[jj.deal_id], investor_ids=["jxregistry"])).status_code == 422  # not an investor
    with web_db.sessions() as s:
        assert list_roadshows(s, deal_id=jj.deal_id) == []  # nothing was started by any of them

    # Brokers and auditors may not start one, whatever they send.
    for user in ("jj-broker-chen", "auditor-zhao"):
        client = await sign_in(app, user)
        assert (await client.get("/roadshows/new")).status_code == 403
        assert (await start(client, deal_ids=[jj.deal_id])).status_code == 403, user
    with web_db.sessions() as s:
        assert list_roadshows(s, deal_id=jj.deal_id) == []

    started = await start(manager, deal_ids=[jj.deal_id], investor_ids=["jxbank"], command_id="form-1")
    assert started.status_code == 303, started.text
    rid = started.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    again = await start(manager, deal_ids=[jj.deal_id], investor_ids=["jxbank"], command_id="form-1")
    assert again.headers["location"].startswith(f"/roadshows/{rid}")  # the same form sent twice: one roadshow
    with web_db.sessions() as s:
        assert [r.roadshow_id for r in list_roadshows(s, deal_id=jj.deal_id)] == [rid]

    # The hub's roadshow presents both the hub's deal and jj-centre's.
    hub = await sign_in(app, "hub-admin")
    hub_started = await start(hub, deal_ids=[fz.deal_id, jj.deal_id], investor_ids=["jxfund"], title="全省融资路演")
    assert hub_started.status_code == 303, hub_started.text
    hub_rid = hub_started.headers["location"].split("?")[0].rsplit("/", 1)[-1]

    # Who opens which roadshow, and who gets forms on it.
    sees = {
        rid: {"jj-manager", "jj-broker-chen", "hub-admin", "auditor-zhao"},
        hub_rid: {"jj-manager", "jj-broker-chen", "hub-admin", "auditor-zhao"},
    }
    acts = {rid: {"jj-manager", "jj-broker-chen", "hub-admin"}, hub_rid: {"hub-admin"}}
    for user in EVERYONE:
        client = await sign_in(app, user)
        listed = (await client.get("/roadshows")).text
        for roadshow in (rid, hub_rid):
            page = await client.get(f"/roadshows/{roadshow}")
            assert page.status_code == (200 if user in sees[roadshow] else 404), (user, roadshow)
            assert (f'data-roadshow="{roadshow}"' in listed) == (user in sees[roadshow]), (user, roadshow)
            assert ('data-command="RegisterInterest"' in page.text) == (user in acts[roadshow]), (user, roadshow)
            assert ('data-command="CloseRoadshow"' in page.text) == (user in acts[roadshow]), (user, roadshow)
        assert (await client.get("/roadshows/RS-NONE")).status_code == 404
    # jj-centre sees the hub's roadshow through its own deal only: the hub's deal and its money stay hidden.
    partial = (await manager.get(f"/roadshows/{hub_rid}")).text
    assert f'data-deal="{jj.deal_id}"' in partial and f'data-deal="{fz.deal_id}"' not in partial
    assert "另有 1 个案件不在您的查看范围内" in partial and fz.deal_id not in partial
    whole = (await hub.get(f"/roadshows/{hub_rid}")).text
    assert f'data-deal="{fz.deal_id}"' in whole and 'id="roadshow-chain"' not in whole
    audited = (await (await sign_in(app, "auditor-zhao")).get(f"/roadshows/{hub_rid}")).text
    assert 'id="roadshow-chain"' in audited and "完整（4 个事件）" in audited  # the auditor's view checks the chain
    # The deal page links to its roadshows, for everyone who sees the deal.
    for user in ("jj-broker-chen", "jj-manager", "hub-admin", "auditor-zhao"):
        deal_page = (await (await sign_in(app, user)).get(f"/deals/{jj.deal_id}")).text
        assert f'href="/roadshows/{rid}"' in deal_page and f'href="/roadshows/{hub_rid}"' in deal_page, user
        assert ('id="schedule-roadshow"' in deal_page) == (user in ("jj-manager", "hub-admin")), user

    # Forbidden POSTs: 404 out of scope, 403 in scope without the right to act (even with a valid CSRF token).
    before, hub_before = snapshot(web_db, rid), snapshot(web_db, hub_rid)
    interest = {"investor_id": "jxbank", "deal_id": jj.deal_id, "amount_wan": "1000", "instrument": "loan", "note": ""}
    for user, roadshow, status in (
        ("auditor-zhao", rid, 403),
        ("ja-broker-liu", rid, 404),
        ("ja-manager", rid, 404),
        ("jj-manager", hub_rid, 403),
        ("jj-broker-chen", hub_rid, 403),
    ):
        client = await sign_in(app, user)
        for action, data in (
            ("RegisterInterest", interest),
            ("CloseRoadshow", {"note": "x"}),
            ("PresentDeal", {"deal_id": jj.deal_id}),
        ):
            answer = await post(client, "/roadshows", f"/roadshows/{roadshow}/actions/{action}", data)
            assert answer.status_code == status, (user, roadshow, action, answer.text)
    no_csrf = await manager.post(f"/roadshows/{rid}/actions/CloseRoadshow", data={"note": "x"})
    assert no_csrf.status_code == 403
    assert snapshot(web_db, rid) == before and snapshot(web_db, hub_rid) == hub_before

    # Bad input and the domain's refusals: 422 with what is allowed, the typed values kept, nothing recorded.
    page = f"/roadshows/{rid}"
    action = f"/roadshows/{rid}/actions/RegisterInterest"
    not_money = await post(manager, page, action, {**interest, "amount_wan": "一千"})
    assert not_money.status_code == 422 and "请填写万元数" in not_money.text and 'value="一千"' in not_money.text
    for amount in ("0", "-5", "Infinity", "1e20"):
        too = await post(manager, page, action, {**interest, "amount_wan": amount})
        assert too.status_code == 422 and "万元" in too.text, amount
    assert "可选：loan" in (await post(manager, page, action, {**interest, "instrument": "gift"})).text
    uninvited = await post(manager, page, action, {**interest, "investor_id": "jxfund"})
    assert uninvited.status_code == 422 and "未受邀参加本次路演；受邀：jxbank" in uninvited.text
    other_deal = await post(manager, page, action, {**interest, "deal_id": fz.deal_id})
    assert other_deal.status_code == 422 and f"路演案件：{jj.deal_id}" in other_deal.text
    unknown = await post(manager, page, f"/roadshows/{rid}/actions/WithdrawDeal", {})
    assert unknown.status_code == 422 and "可选：PresentDeal" in unknown.text
    present_wrong = await post(manager, page, f"/roadshows/{rid}/actions/PresentDeal", {"deal_id": ja.deal_id})
    assert present_wrong.status_code == 422 and "须处于路演融资阶段" in present_wrong.text
    assert snapshot(web_db, rid) == before

    # A valid interest is recorded and forwarded to the deal as a financing application.
    registered = await post(manager, page, action, interest)
    assert registered.status_code == 303 and registered.headers["location"] == f"/roadshows/{rid}?done=RegisterInterest"
    for _ in range(100):
        with web_db.sessions() as s:
            if [i.status for i in interests(s, rid)] == ["forwarded"]:
                break
        await asyncio.sleep(0.1)
    application = f"{rid}-jxbank"
    assert any(e.type == "FinancingApplied" and e.payload.application_id == application for e in deals.archive(jj.deal_id))  # type: ignore[union-attr]
    shown = (await manager.get(page)).text
    assert re.search(r'data-interest="jxbank:[^"]+".*?已转为融资申请', shown, re.S)
    twice = await post(manager, page, action, interest)
    assert twice.status_code == 422 and "已对案件" in twice.text

    # Closed, it takes nothing more; the refusal records nothing.
    assert (await post(manager, page, f"/roadshows/{rid}/actions/CloseRoadshow", {"note": "路演结束"})).status_code == 303
    closed = snapshot(web_db, rid)
    assert closed[1].status == "closed"
    late = await post(manager, page, action, {**interest, "investor_id": "jxbank"})
    assert late.status_code == 422 and "已结束" in late.text
    assert snapshot(web_db, rid) == closed
    assert 'data-command="' not in (await manager.get(page)).text
    await terminate(deals.client, hub_rid)


async def test_the_pages_speak_english_too(app: FastAPI, deals: Kuayue, web_db: WebDb) -> None:
    jj = await opened(deals, JJ)
    hub = await sign_in(app, "hub-admin")
    started = await start(hub, deal_ids=[jj.deal_id], investor_ids=["jxbank"])
    rid = started.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    await hub.get("/lang/en")
    listed = (await hub.get("/roadshows")).text
    assert "<h1>Roadshows</h1>" in listed and "Open" in listed
    page = (await hub.get(f"/roadshows/{rid}")).text
    assert "Register investor interest" in page and "Presented deals" in page and "路演名称" not in page
    assert "Schedule a roadshow" in (await hub.get("/roadshows/new")).text

    # A refusal says in English what was wrong, then the domain's Chinese detail; nothing is recorded.
    before = snapshot(web_db, rid)
    path, action = f"/roadshows/{rid}", f"/roadshows/{rid}/actions/RegisterInterest"
    interest = {"investor_id": "jxbank", "deal_id": jj.deal_id, "amount_wan": "300", "instrument": "loan", "note": ""}
    uninvited = await post(hub, path, action, {**interest, "investor_id": "jxfund"})
    assert uninvited.status_code == 422
    shown = html.unescape(re.sub(r"<[^>]+>", "", uninvited.text))
    assert f"{DOMAIN_EN['not_invited']} Details: 投资方 jxfund 未受邀参加本次路演；受邀：jxbank" in shown
    assert snapshot(web_db, rid) == before

    # The timeline in English: what happened, who did it, money in yuan and dates the English way.
    assert (await post(hub, path, action, interest)).status_code == 303
    for _ in range(100):
        with web_db.sessions() as s:
            if [i.status for i in interests(s, rid)] == ["forwarded"]:
                break
        await asyncio.sleep(0.1)
    timeline = re.search(r'<ol class="timeline">(.*?)</ol>', (await hub.get(path)).text, re.S)
    assert timeline
    lines = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", li)).split()) for li in re.findall(r"<li>(.*?)</li>", timeline[1], re.S)
    ]
    what = [re.sub(r"^\d{1,2} [A-Z][a-z]{2} 20\d\d \d\d:\d\d ", "", line).rsplit(" #", 1)[0] for line in lines]
    assert what == [
        f"Roadshow workflow Interest forwarded to deal {jj.deal_id} as financing application {rid}-jxbank",
        f"Provincial hub hub-admin jxbank is interested in deal {jj.deal_id}: 3,000,000.00 yuan (loan)",
        f"Provincial hub hub-admin Investor {simulated_directory('http://127.0.0.1:9')['jxbank'].name} (jxbank) invited",
        f"Provincial hub hub-admin Deal {jj.deal_id} presented",
        "Provincial hub hub-admin Roadshow “九江市科技成果融资路演” scheduled: 18 Dec 2026, online, organised by hub",
    ], lines
    await terminate(deals.client, rid)
