"""Who may see and do what, over every route: each role, own centre vs another, signed in vs not, forged requests."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import EXAMPLES
from tests.web.conftest import USERS, WebDb, csrf_from, sign_in
from tests.workflows.conftest import Kuayue

JA, JJ = EXAMPLES / "jian-biofertilizer.json", EXAMPLES / "jiujiang-heterojunction.json"

# Which of the two deals (JA: ja-broker-liu in ja-centre; JJ: jj-broker-chen in jj-centre) each user may see,
# and may act on. The auditor sees both and acts on none.
SEES = {
    "ja-broker-liu": {"JA"},
    "jj-broker-chen": {"JJ"},
    "ja-manager": {"JA"},
    "jj-manager": {"JJ"},
    "hub-admin": {"JA", "JJ"},
    "auditor-zhao": {"JA", "JJ"},
}
ACTS = {user: (set() if user == "auditor-zhao" else seen) for user, seen in SEES.items()}


def expected_action_status(user: str, deal: str) -> int:
    # A refused payload (empty withdrawal reason) proves the request got past authorization without changing the deal.
    if deal not in SEES[user]:
        return 404
    return 422 if deal in ACTS[user] else 403


async def test_every_route_answers_only_what_each_role_may_see_and_do(app: FastAPI, deals: Kuayue, web_db: WebDb) -> None:
    ja, _ = await deals.open(JA)
    jj, _ = await deals.open(JJ)
    ids = {"JA": ja.deal_id, "JJ": jj.deal_id}
    seq_before = {k: len(deals.archive(v)) for k, v in ids.items()}

    for user in SEES:
        client = await sign_in(app, user)
        api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {web_db.tokens[user]}"},
        )
        inbox = await client.get("/deals")
        assert inbox.status_code == 200
        listed = {d["deal"]["deal_id"] for d in (await api.get("/api/deals")).json()}
        for key, deal_id in ids.items():
            visible = key in SEES[user]
            assert (deal_id in inbox.text) == visible, (user, key)
            assert (deal_id in listed) == visible, (user, key)
            page = await client.get(f"/deals/{deal_id}")
            assert page.status_code == (200 if visible else 404), (user, key)
            assert (await api.get(f"/api/deals/{deal_id}")).status_code == (200 if visible else 404), (user, key)
            if visible:
                has_forms = 'class="action"' in page.text
                assert has_forms == (key in ACTS[user]), (user, key)
            csrf = csrf_from(inbox.text)
            form = await client.post(f"/deals/{deal_id}/actions/WithdrawDeal", data={"csrf_token": csrf, "reason": ""})
            assert form.status_code == expected_action_status(user, key), (user, key, form.text[:300])
            sent = await api.post(f"/api/deals/{deal_id}/commands", json={"type": "WithdrawDeal", "payload": {"reason": ""}})
            assert sent.status_code == expected_action_status(user, key), (user, key, sent.text)
            # A manager-only command is refused to a broker even on the broker's own deal.
            if USERS[user][0].value == "broker" and visible:
                extend = await api.post(
                    f"/api/deals/{deal_id}/commands",
                    json={"type": "ExtendDeadline", "payload": {"working_days": 3, "reason": "测试"}},
                )
                assert extend.status_code == 403, extend.text
        await client.aclose()
        await api.aclose()

    assert {k: len(deals.archive(v)) for k, v in ids.items()} == seq_before, "a refused request recorded something"


async def test_without_a_session_or_token_nothing_is_answered(app: FastAPI, deals: Kuayue) -> None:
    ja, _ = await deals.open(JA)
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    for path in ("/", "/deals", f"/deals/{ja.deal_id}"):
        answer = await anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
    login = await anonymous.get("/login")
    forged = await anonymous.post(f"/deals/{ja.deal_id}/actions/ValidateDemand", data={"csrf_token": csrf_from(login.text)})
    assert forged.status_code == 303 and forged.headers["location"].startswith("/login")
    api_routes = (("GET", "/api/deals"), ("GET", f"/api/deals/{ja.deal_id}"), ("POST", f"/api/deals/{ja.deal_id}/commands"))
    for method, path in api_routes:
        answer = await anonymous.request(
            method, path, json={"type": "ValidateDemand"}, headers={"Authorization": "Bearer not-a-token"}
        )
        assert answer.status_code == 401, (method, path)
    assert len(deals.archive(ja.deal_id)) == 2  # opened + first stage only


async def test_a_form_without_the_sessions_csrf_token_is_refused(app: FastAPI, deals: Kuayue) -> None:
    ja, _ = await deals.open(JA)
    client = await sign_in(app, "ja-broker-liu")
    for token in ("", "wrong-token"):
        answer = await client.post(f"/deals/{ja.deal_id}/actions/ValidateDemand", data={"csrf_token": token, "note": "x"})
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert len(deals.archive(ja.deal_id)) == 2
    logout = await client.post("/logout", data={"csrf_token": "wrong"})
    assert logout.status_code == 403


async def test_repeated_failed_sign_ins_lock_the_account(app: FastAPI) -> None:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    csrf = csrf_from((await client.get("/login")).text)
    answers = [
        await client.post("/login", data={"username": "locked-user", "password": "wrong-password", "csrf_token": csrf})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert "已锁定" in answers[-1].text
    right = await client.post("/login", data={"username": "locked-user", "password": "correct-horse-battery", "csrf_token": csrf})
    assert right.status_code == 401 and "已锁定" in right.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/"])
async def test_sign_in_only_redirects_within_the_site(app: FastAPI, target: str) -> None:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    csrf = csrf_from((await client.get("/login")).text)
    answer = await client.post(
        "/login", data={"username": "hub-admin", "password": "correct-horse-battery", "csrf_token": csrf, "next": target}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"
