"""The JSON API of open calls and of an N centre's declines: who may publish, bid, see bids, select, read declines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from registry.importer import import_file
from store.db import make_engine, make_session_factory
from store.testing import migrated_database
from tests.factories import EXAMPLES
from tests.web.conftest import PASSWORD, WebDb
from tests.workflows.conftest import Kuayue
from web.app import create_app
from web.config import WebConfig
from web.users import create_user, issue_token
from worker import build_worker

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry" / "achievements.csv"
JA = EXAMPLES / "jian-biofertilizer.json"
USERS: dict[str, tuple[Role, str | None]] = {
    "ja-broker-liu": (Role.BROKER, "ja-centre"),  # the deal's broker
    "ja-manager": (Role.MANAGER, "ja-centre"),
    "jj-broker-chen": (Role.BROKER, "jj-centre"),  # a broker of another centre
    "jgsu-manager": (Role.MANAGER, "jgsu"),  # 井冈山大学's N centre
    "jxau-manager": (Role.MANAGER, "jxau"),  # 江西农业大学's N centre
    "hub-admin": (Role.HUB_ADMIN, "hub"),
    "auditor-zhao": (Role.AUDITOR, None),
}


@pytest.fixture
def registry_db() -> Iterator[WebDb]:
    """Its own database with the example registry (the shared web database keeps an empty one)."""
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        import_file(sessions, REGISTRY)
        tokens: dict[str, str] = {}
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, username, centre)
                tokens[username] = issue_token(session, username)
        yield WebDb(url, sessions, tokens)
        engine.dispose()


@pytest.fixture
async def served(temporal_env: WorkflowEnvironment, registry_db: WebDb, task_queue: str) -> AsyncIterator[tuple[FastAPI, Kuayue]]:
    async with build_worker(temporal_env.client, task_queue, registry_db.url):
        kuayue = Kuayue(temporal_env.client, task_queue, registry_db.sessions)
        config = WebConfig(database_url=registry_db.url, secret_key="test-secret-key-not-for-production")
        yield create_app(config, temporal_env.client, registry_db.sessions), kuayue
        await kuayue.end_open_deals()


def api_as(app: FastAPI, db: WebDb, username: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {db.tokens[username]}"},
    )


async def test_open_call_routes_follow_the_deals_scope_and_the_domains_rules(
    served: tuple[FastAPI, Kuayue], registry_db: WebDb, temporal_env: WorkflowEnvironment
) -> None:
    app, deals = served
    api = {u: api_as(app, registry_db, u) for u in USERS}
    opened, _ = await deals.open(JA)
    deal = opened.deal_id
    assert (await api["ja-broker-liu"].post(f"/api/deals/{deal}/commands", json={"type": "ValidateDemand"})).status_code == 200

    deadline = (await temporal_env.get_current_time() + timedelta(days=5)).isoformat()
    body = {"deadline": deadline, "qualifications": {"institution_kinds": ["university"], "min_trl": 6, "region_code": "360000"}}
    # Publishing: a broker or manager of another centre does not even see the deal; an auditor sees it but may not act.
    for user, status in (("jj-broker-chen", 404), ("jxau-manager", 404), ("auditor-zhao", 403)):
        answer = await api[user].post(f"/api/deals/{deal}/open-calls", json=body)
        assert answer.status_code == status, (user, answer.text)
    published = await api["ja-broker-liu"].post(f"/api/deals/{deal}/open-calls", json=body)
    assert published.status_code == 201, published.text
    call = published.json()["state"]["open_call_id"]
    listed = (await api["jgsu-manager"].get("/api/open-calls", params={"status": "open"})).json()
    assert call in {c["open_call_id"] for c in listed}  # institutions find open calls

    # Bidding: an N centre with its own qualified achievement; not another centre's, not an unqualified one.
    def bid(achievement: str) -> dict[str, str]:
        return {"achievement_id": achievement, "institution_kind": "university", "proposal": "中试验证方案"}

    assert (await api["jgsu-manager"].post(f"/api/open-calls/{call}/bids", json=bid("JXCG-2026-0001"))).status_code == 200
    assert (await api["jxau-manager"].post(f"/api/open-calls/{call}/bids", json=bid("JXCG-2026-0002"))).status_code == 200
    unqualified = await api["jxau-manager"].post(f"/api/open-calls/{call}/bids", json=bid("JXCG-2026-0004"))
    assert unqualified.status_code == 422 and unqualified.json()["code"] == "not_qualified"
    assert "技术就绪度 5 低于要求的 6" in unqualified.json()["message"]
    theirs = await api["jgsu-manager"].post(f"/api/open-calls/{call}/bids", json=bid("JXCG-2026-0002"))
    assert theirs.status_code == 403
    # The hub and auditors never bid: the hub acts on the enterprise's side of the call (it may close and select).
    for user in ("hub-admin", "auditor-zhao"):
        refused = await api[user].post(f"/api/open-calls/{call}/bids", json=bid("JXCG-2026-0003"))
        assert refused.status_code == 403 and "无权揭榜" in refused.json()["message"], (user, refused.text)

    # Seeing bids: the deal's side sees all; a bidding centre only its own.
    for user, expected in (("ja-manager", ["B1", "B2"]), ("auditor-zhao", ["B1", "B2"]), ("jgsu-manager", ["B1"])):
        seen = (await api[user].get(f"/api/open-calls/{call}")).json()
        assert [b["bid_id"] for b in seen["state"]["bids"]] == expected, user
        assert sum(e["payload"]["type"] == "BidSubmitted" for e in seen["events"]) == len(expected)

    # Selecting: only after the close, only by the deal's side; then the deal's match is the winner.
    early = await api["ja-manager"].post(f"/api/open-calls/{call}/selection", json={"bid_id": "B2"})
    assert early.status_code == 422 and early.json()["code"] == "open_call_open"
    assert (await api["jj-broker-chen"].post(f"/api/open-calls/{call}/close", json={"reason": "x"})).status_code == 403
    assert (await api["ja-broker-liu"].post(f"/api/open-calls/{call}/close", json={"reason": "企业已确定"})).status_code == 200
    for user in ("auditor-zhao", "jj-broker-chen", "jgsu-manager"):
        assert (await api[user].post(f"/api/open-calls/{call}/selection", json={"bid_id": "B2"})).status_code == 403, user
    selected = await api["ja-manager"].post(f"/api/open-calls/{call}/selection", json={"bid_id": "B2"})
    assert selected.status_code == 200, selected.text
    detail = (await api["ja-broker-liu"].get(f"/api/deals/{deal}")).json()
    assert detail["state"]["stage"] == "BROKERING" and detail["state"]["match"]["achievement_id"] == "JXCG-2026-0002"

    # The negotiation fails on price: jxau's managers (and the hub) read why; other centres' may not.
    failed = await api["ja-broker-liu"].post(
        f"/api/deals/{deal}/commands", json={"type": "FailNegotiation", "payload": {"reason": "price", "note": "超出预算"}}
    )
    assert failed.status_code == 200, failed.text
    for user in ("jxau-manager", "hub-admin", "auditor-zhao"):
        declines = (await api[user].get("/api/centres/jxau/declines")).json()
        assert declines["reasons"] == [{"reason": "price", "label": "价格不合适", "count": 1}], user
        assert [(d["achievement_id"], d["deal_id"], d["note"]) for d in declines["declines"]] == [
            ("JXCG-2026-0002", deal, "超出预算")
        ]
    for user in ("jgsu-manager", "ja-broker-liu"):
        assert (await api[user].get("/api/centres/jxau/declines")).status_code == 403, user
