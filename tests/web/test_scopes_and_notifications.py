"""The dashboard, notifications, inbox filters and N-centre scope over HTTP: who sees what, and nothing more."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from fastapi import FastAPI
from sqlalchemy import insert

import starter
from domain.commands import ProposeCandidates, ValidateDemand
from domain.events import Candidate
from domain.parties import AchievementRef, Institution
from store.models import NotificationRecord
from tests.factories import EXAMPLES, broker_of
from tests.web.conftest import USERS, WebDb, csrf_from, sign_in
from tests.workflows.conftest import Kuayue

JA, JJ = EXAMPLES / "jian-biofertilizer.json", EXAMPLES / "jiujiang-heterojunction.json"
PEOPLE = [u for u in USERS if u != "locked-user"]


def api(app: FastAPI, web_db: WebDb, user: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {web_db.tokens[user]}"}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers)


def dashboard_status(user: str, centre: str | None) -> int:
    role, own = USERS[user]
    if role.value in ("hub_admin", "auditor"):
        return 200
    if role.value == "manager" and centre in (None, own):
        return 200
    return 403


async def test_dashboards_answer_each_role_only_its_centre(app: FastAPI, deals: Kuayue, web_db: WebDb) -> None:
    await deals.open(JA)
    await deals.open(JJ)
    for user in PEOPLE:
        page, token = await sign_in(app, user), api(app, web_db, user)
        for centre in (None, "ja-centre", "jj-centre"):
            query = f"?centre={centre}" if centre else ""
            shown = await page.get(f"/dashboard{query}")
            assert shown.status_code == dashboard_status(user, centre), (user, centre)
            answered = await token.get(f"/api/dashboard{query}")
            assert answered.status_code == dashboard_status(user, centre), (user, centre)
            if answered.status_code == 200:
                brokers = {b["broker_id"] for b in answered.json()["workload"]}
                shows_ja, shows_jj = "ja-broker-liu" in brokers, "jj-broker-chen" in brokers
                assert shows_ja == (centre in (None, "ja-centre") and USERS[user][1] in ("ja-centre", "hub", None))
                assert shows_jj == (centre in (None, "jj-centre") and USERS[user][1] in ("jj-centre", "hub", None))
                assert ("ja-broker-liu" in shown.text) == shows_ja and ("jj-broker-chen" in shown.text) == shows_jj
                # The hub's province view has every centre and the demand map; a centre's view has neither.
                province = answered.json()["demand_map"] is not None
                assert province == (centre is None and USERS[user][0].value in ("hub_admin", "auditor"))
        await page.aclose()
        await token.aclose()
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    assert (await anonymous.get("/dashboard")).status_code == 303
    assert (await anonymous.get("/api/dashboard")).status_code == 401


# marker -> (deal key, kind, recipient role, recipient id, who reads it)
NOTES = {
    "甲-经纪人": ("JA", "reminder", "broker", "ja-broker-liu", {"ja-broker-liu"}),
    "甲-中心": ("JA", "escalation", "manager", "ja-centre", {"ja-manager", "ja-manager-2"}),
    "甲-省中心": ("JA", "escalation", "hub_admin", "hub", {"hub-admin"}),
    "乙-经纪人": ("JJ", "reminder", "broker", "jj-broker-chen", {"jj-broker-chen"}),
    "乙-中心": ("JJ", "escalation", "manager", "jj-centre", {"jj-manager"}),
}


async def test_each_person_reads_and_marks_only_their_notifications(app: FastAPI, deals: Kuayue, web_db: WebDb) -> None:
    ja, _ = await deals.open(JA)
    jj, _ = await deals.open(JJ)
    ids = {"JA": ja.deal_id, "JJ": jj.deal_id}
    with web_db.sessions.begin() as s:
        rows = [
            {"deal_id": ids[d], "seq": 1, "kind": k, "recipient_role": r, "recipient_id": to, "message": f"{marker} {ids[d]}"}
            for marker, (d, k, r, to, _) in NOTES.items()
        ]
        s.execute(insert(NotificationRecord), [{**row, "created_at": datetime.now(UTC)} for row in rows])

    ids_by_marker: dict[str, int] = {}
    for user in PEOPLE:
        token = api(app, web_db, user)
        listed = (await token.get("/api/notifications")).json()
        mine = {n["message"].split()[0] for n in listed["notifications"] if n["deal_id"] in ids.values()}
        assert mine == {m for m, note in NOTES.items() if user in note[4]}, user
        ids_by_marker |= {n["message"].split()[0]: n["id"] for n in listed["notifications"] if n["deal_id"] in ids.values()}
        page = await sign_in(app, user)
        html = (await page.get("/notifications")).text
        assert all((f"{m} " in html) == (user in note[4]) for m, note in NOTES.items()), user
        await page.aclose()
        await token.aclose()

    # Read state is per person: one of ja-centre's two managers reads the escalation, the other still has it unread.
    first, second, broker = api(app, web_db, "ja-manager"), api(app, web_db, "ja-manager-2"), api(app, web_db, "ja-broker-liu")
    unread_before = (await second.get("/api/notifications")).json()["unread"]
    escalation = ids_by_marker["甲-中心"]
    marked = (await first.post("/api/notifications/read", json={"ids": [escalation, ids_by_marker["乙-中心"]]})).json()
    assert marked["marked"] == 1  # jj-centre's escalation is not ja-manager's to mark
    assert escalation not in {n["id"] for n in (await first.get("/api/notifications?unread=true")).json()["notifications"]}
    assert (await second.get("/api/notifications")).json()["unread"] == unread_before
    jj_manager = api(app, web_db, "jj-manager")
    assert ids_by_marker["乙-中心"] in {
        n["id"] for n in (await jj_manager.get("/api/notifications?unread=true")).json()["notifications"]
    }

    # The page: the header counts the unread, one is marked by its button, then all; a forged form is refused.
    page = await sign_in(app, "ja-broker-liu")
    html = (await page.get("/notifications")).text
    count = (await broker.get("/api/notifications")).json()["unread"]
    assert f'title="未读通知">{count}<' in html
    forged = await page.post("/notifications/read", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await broker.get("/api/notifications")).json()["unread"] == count
    done = await page.post("/notifications/read", data={"csrf_token": csrf_from(html), "id": str(ids_by_marker["甲-经纪人"])})
    assert done.status_code == 303
    assert (await broker.get("/api/notifications")).json()["unread"] == count - 1
    bad = await page.post("/notifications/read", data={"csrf_token": csrf_from(html), "id": "七"})
    assert bad.status_code == 422 and "不是整数" in bad.text
    await page.post("/notifications/read", data={"csrf_token": csrf_from(html)})
    assert (await broker.get("/api/notifications")).json()["unread"] == 0
    assert 'title="未读通知"' not in (await page.get("/notifications")).text
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    assert (await anonymous.get("/notifications")).status_code == 303
    assert (await anonymous.post("/notifications/read", data={"csrf_token": csrf_from(html)})).status_code in (303, 403)
    assert (await anonymous.get("/api/notifications")).status_code == 401
    assert (await anonymous.post("/api/notifications/read", json={})).status_code == 401


async def test_an_n_centre_sees_deals_with_its_achievements_and_cannot_act(app: FastAPI, deals: Kuayue) -> None:
    ja, _ = await deals.open(JA)
    jj, _ = await deals.open(JJ)
    broker = broker_of(ja)
    await deals.act(ja.deal_id, ValidateDemand(command_id="v", actor=broker))
    university = Institution(name="南昌航空大学", centre_id="nchu")
    candidate = Candidate(
        achievement=AchievementRef(achievement_id="NCHU-001", title="钎焊工艺", institution=university), score=80
    )
    await starter.send_command(
        deals.client, ja.deal_id, ProposeCandidates(command_id="p", actor=broker, candidates=(candidate,), source="broker")
    )
    before = len(deals.archive(ja.deal_id))
    client = await sign_in(app, "nchu-manager")
    inbox = (await client.get("/deals")).text
    assert ja.deal_id in inbox and jj.deal_id not in inbox
    page = await client.get(f"/deals/{ja.deal_id}")
    assert page.status_code == 200 and 'class="action"' not in page.text
    assert (await client.get(f"/deals/{jj.deal_id}")).status_code == 404
    forged = await client.post(f"/deals/{ja.deal_id}/actions/WithdrawDeal", data={"csrf_token": csrf_from(inbox), "reason": "x"})
    assert forged.status_code == 403
    assert len(deals.archive(ja.deal_id)) == before
    # ja-centre's other managers and brokers are unaffected: the deal stays theirs.
    assert ja.deal_id in (await (await sign_in(app, "ja-manager")).get("/deals")).text


async def test_the_inbox_filters_keep_their_values_and_name_bad_ones(app: FastAPI, deals: Kuayue, web_db: WebDb) -> None:
    ja, _ = await deals.open(JA)  # C2625, 360800
    jj, _ = await deals.open(JJ)  # C3562, 360400
    client = await sign_in(app, "hub-admin")
    cases = {
        "industry=C26": (True, False),
        "industry=c35": (False, True),
        "region=360400": (False, True),
        "region=3608": (True, False),
        "stage=MATCHING": (False, False),
        "stage=DEMAND_MINING&sort=deal": (True, True),
        "due_by=2000-01-01": (False, False),
        "due_by=2099-12-31&sort=due_desc": (True, True),
    }
    for query, (shows_ja, shows_jj) in cases.items():
        page = await client.get(f"/deals?{query}")
        assert page.status_code == 200, query
        assert (ja.deal_id in page.text, jj.deal_id in page.text) == (shows_ja, shows_jj), query
    kept = (await client.get("/deals?industry=C26&due_by=2099-12-31&sort=activity")).text
    assert 'value="C26"' in kept and 'value="2099-12-31"' in kept and '<option value="activity" selected>' in kept
    assert "数据更新于" in kept
    bad = await client.get("/deals?industry=X9&region=36abc&sort=random")
    assert bad.status_code == 422
    for message in ("行业代码「X9」无效", "地区代码「36abc」无效", "排序方式「random」无效"):
        assert message in bad.text
    token = api(app, web_db, "hub-admin")
    assert (await token.get("/api/deals?region=360400")).status_code == 200
    assert {d["deal"]["deal_id"] for d in (await token.get("/api/deals?region=360400")).json()} >= {jj.deal_id}
    refused = await token.get("/api/deals?due_by=5th-march")
    assert refused.status_code == 422 and "期限日期「5th-march」无效" in refused.json()["message"]
