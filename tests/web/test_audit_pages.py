"""The auditor's pages over HTTP: who may open which (the authorization matrix), and what they answer."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from audit.export import verify_bundle
from examples.lifecycle import lifecycle
from store.models import EventRecord
from tests.factories import EXAMPLES
from tests.web.conftest import WebDb, csrf_from, sign_in
from tests.workflows.conftest import Kuayue

JA, JJ = EXAMPLES / "jian-biofertilizer.json", EXAMPLES / "jiujiang-heterojunction.json"

# Which deal's audit pages each user may open: brokers none (403), a manager their centre's, hub and auditor all.
AUDITS = {
    "ja-broker-liu": set(),
    "jj-broker-chen": set(),
    "ja-manager": {"JA"},
    "jj-manager": {"JJ"},
    "hub-admin": {"JA", "JJ"},
    "auditor-zhao": {"JA", "JJ"},
}
CENTRES = {"JA": "ja-centre", "JJ": "jj-centre"}
WHOLE_ARCHIVE = {"hub-admin", "auditor-zhao"}


def _deal_status(user: str, deal: str) -> int:
    if not AUDITS[user]:
        return 403  # brokers
    return 200 if deal in AUDITS[user] else 404


async def test_every_audit_route_answers_only_the_roles_and_centres_that_may_audit(
    app: FastAPI, deals: Kuayue, tmp_path: Path
) -> None:
    ja, _ = await deals.open(JA)
    jj, _ = await deals.open(JJ)
    for command in lifecycle(ja)[:2]:
        await deals.act(ja.deal_id, command)
    ids = {"JA": ja.deal_id, "JJ": jj.deal_id}
    archived_before = {k: deals.archive(v) for k, v in ids.items()}

    auditor = await sign_in(app, "auditor-zhao")
    whole = await auditor.post("/audit/verify", data={"csrf_token": csrf_from((await auditor.get("/audit")).text)})
    whole_job = whole.headers["location"]

    for user, audits in AUDITS.items():
        client = await sign_in(app, user)
        home = await client.get("/audit")
        assert home.status_code == (403 if not audits else 200), user
        inbox = await client.get("/deals")
        assert ('href="/audit"' in inbox.text) == bool(audits), user  # the nav link
        csrf = csrf_from(inbox.text)
        for key, deal_id in ids.items():
            expected = _deal_status(user, key)
            for path in ("", "/replay", "/state?seq=1", "/export"):
                answer = await client.get(f"/audit/deals/{deal_id}{path}")
                assert answer.status_code == expected, (user, key, path, answer.text[:200])
        actions = await client.get("/audit/actions", params={"actor": "ja-broker-liu"})
        assert actions.status_code == (403 if not audits else 200), user
        if audits:
            # Who did what shows a manager only the centre's deals.
            assert (ids["JA"] in actions.text) == ("JA" in audits), user
            for key, centre in CENTRES.items():
                started = await client.post("/audit/verify", data={"csrf_token": csrf, "centre": centre})
                assert started.status_code == (303 if key in audits else 403), (user, centre)
            everything = await client.post("/audit/verify", data={"csrf_token": csrf})
            assert everything.status_code == (303 if user in WHOLE_ARCHIVE else 403), user
            assert (await client.get(whole_job)).status_code == (200 if user in WHOLE_ARCHIVE else 404), user
            no_csrf = await client.post("/audit/verify", data={"centre": "ja-centre"})
            assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
        else:
            assert (await client.post("/audit/verify", data={"csrf_token": csrf, "centre": "ja-centre"})).status_code == 403
        await client.aclose()

    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    deal_pages = (f"/audit/deals/{ja.deal_id}", f"/audit/deals/{ja.deal_id}/replay", f"/audit/deals/{ja.deal_id}/export")
    for path in ("/audit", *deal_pages, "/audit/actions?actor=x", whole_job):
        answer = await anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path
    assert {k: deals.archive(v) for k, v in ids.items()} == archived_before, "an audit page changed a deal"


async def test_an_auditor_reads_replay_state_verification_export_and_actions_of_a_deal(
    app: FastAPI, deals: Kuayue, web_db: WebDb, tmp_path: Path
) -> None:
    ja, _ = await deals.open(JA)
    for command in lifecycle(ja)[:3]:
        await deals.act(ja.deal_id, command)
    archived = deals.archive(ja.deal_id)
    client = await sign_in(app, "auditor-zhao")

    replay = await client.get(f"/audit/deals/{ja.deal_id}/replay")
    assert "可回放" in replay.text and "不可回放" not in replay.text
    assert f"重新推导 {len(archived)} 个事件，存档 {len(archived)} 个" in replay.text and "一致" in replay.text

    state = await client.get(f"/audit/deals/{ja.deal_id}/state", params={"seq": "2"})
    assert state.status_code == 200 and "由存档中的 2 个事件折叠" in state.text
    moment = archived[-1].occurred_at.isoformat()
    at_last = await client.get(f"/audit/deals/{ja.deal_id}/state", params={"at": moment})
    assert f"由存档中的 {len(archived)} 个事件折叠" in at_last.text
    bad = await client.get(f"/audit/deals/{ja.deal_id}/state", params={"at": "昨天下午"})
    assert bad.status_code == 422 and "无法识别" in bad.text and "2026-03-05T18:00" in bad.text
    bad_seq = await client.get(f"/audit/deals/{ja.deal_id}/state", params={"seq": "0"})
    assert bad_seq.status_code == 422 and "应为 1 或更大的整数" in bad_seq.text

    chain = await client.get(f"/audit/deals/{ja.deal_id}")
    assert f"1 个案件，{len(archived)} 个事件 —\n哈希链完整" in chain.text

    export = await client.get(f"/audit/deals/{ja.deal_id}/export")
    assert export.status_code == 200 and export.headers["content-type"] == "application/zip"
    bundle = tmp_path / "evidence.zip"
    bundle.write_bytes(export.content)
    assert verify_bundle(bundle) == []

    actions = await client.get("/audit/actions", params={"actor": "ja-broker-liu", "since": "2000-01-01", "until": "2999-12-31"})
    mine = [e for e in archived if e.actor.id == "ja-broker-liu"]
    assert mine and actions.text.count(f'href="/audit/deals/{ja.deal_id}"') == len(mine)
    period = {"actor": "ja-broker-liu", "since": "2026-03-05", "until": "2026-03-01"}
    backwards = await client.get("/audit/actions", params=period)
    assert backwards.status_code == 422 and "晚于" in backwards.text

    csrf = csrf_from((await client.get("/audit")).text)
    started = await client.post("/audit/verify", data={"csrf_token": csrf, "centre": "ja-centre"})
    job = started.headers["location"]
    for _ in range(100):
        page = await client.get(job)
        if "校验进行中" not in page.text:
            break
        await asyncio.sleep(0.1)
    assert "哈希链完整" in page.text and "中心 ja-centre" in page.text

    # A changed archived payload: the chain names it and the replay page shows both versions.
    original = _set_note(web_db, ja.deal_id, "已与企业确认", "已与企业确定")
    try:
        chain = await client.get(f"/audit/deals/{ja.deal_id}")
        assert "发现" in chain.text and "stored hash" in chain.text
        replay = await client.get(f"/audit/deals/{ja.deal_id}/replay")
        assert "序号 3：内容不同" in replay.text and "不一致" in replay.text
        assert "已与企业确定" in replay.text and "已与企业确认" in replay.text
    finally:
        _set_note(web_db, ja.deal_id, "已与企业确定", original)  # the session's database is shared


def _set_note(web_db: WebDb, deal_id: str, old: str, new: str) -> str:
    with web_db.sessions.begin() as session:
        row = session.scalars(select(EventRecord).where(EventRecord.deal_id == deal_id, EventRecord.seq == 3)).one()
        assert old in row.payload
        row.payload = row.payload.replace(old, new)
    return old


async def test_the_audit_pages_speak_english_when_it_is_chosen(app: FastAPI, deals: Kuayue) -> None:
    ja, _ = await deals.open(JA)
    for command in lifecycle(ja)[:3]:
        await deals.act(ja.deal_id, command)
    archived = deals.archive(ja.deal_id)
    client = await sign_in(app, "auditor-zhao")
    await client.get("/lang/en")

    home = await client.get("/audit")
    assert "<h1>Audit</h1>" in home.text and "Audit a deal" in home.text and "Verify (leave the centre empty" in home.text
    chain = await client.get(f"/audit/deals/{ja.deal_id}")
    assert f"deal {ja.deal_id}: 1 deal(s), {len(archived)} event(s) —\nhash chain intact" in chain.text
    assert "Replay and re-derivation" in chain.text and "Download evidence bundle" in chain.text
    replay = await client.get(f"/audit/deals/{ja.deal_id}/replay")
    assert "replays" in replay.text
    assert f"{len(archived)} events re-derived from the history, {len(archived)} archived" in replay.text
    assert "0 difference(s)" in replay.text and "agree" in replay.text
    state = await client.get(f"/audit/deals/{ja.deal_id}/state", params={"seq": "2"})
    assert "State (folded from 2 archived event(s))" in state.text and "Demand mining" in state.text
    bad = await client.get(f"/audit/deals/{ja.deal_id}/state", params={"at": "昨天下午"})
    assert bad.status_code == 422 and "The moment “昨天下午” cannot be read; write it as 2026-03-05T18:00" in bad.text
    period = {"actor": "ja-broker-liu", "since": "2026-03-05", "until": "2026-03-01"}
    backwards = await client.get("/audit/actions", params=period)
    assert backwards.status_code == 422 and "The start date 2026-03-05 is after the end date 2026-03-01" in backwards.text
    actions = await client.get("/audit/actions", params={"actor": "ja-broker-liu"})
    mine = sum(e.actor.id == "ja-broker-liu" for e in archived)
    assert "Who did what" in actions.text and "Download CSV" in actions.text
    assert (await client.get("/audit/actions.csv", params={"actor": "ja-broker-liu"})).text.splitlines()[0] == (
        "\ufeffTime (Beijing),Deal,Seq,User,Role,Centre,Event type,Action,Command id"
    )
    assert mine and actions.text.count(f'href="/audit/deals/{ja.deal_id}"') == mine
    started = await client.post("/audit/verify", data={"csrf_token": csrf_from(home.text), "centre": "ja-centre"})
    job = started.headers["location"]
    for _ in range(100):
        page = await client.get(job)
        if "Verifying…" not in page.text:
            break
        await asyncio.sleep(0.1)
    assert "Hash-chain verification: centre ja-centre" in page.text and "hash chain intact" in page.text
    assert "Verify again" in page.text
    for text in (home.text, chain.text, replay.text, state.text, actions.text, page.text):
        # The pages' own words are English; Chinese is left only in the record (deal titles, the events' sentences).
        chrome = re.sub(r'<ol class="timeline">.*?</ol>|<tr><td>.*?</tr>|<pre>.*?</pre>', "", text, flags=re.S)
        assert not any(word in chrome for word in ("审计", "哈希链", "回放", "操作记录", "校验", "案件", "序号", "存档")), chrome
    await client.aclose()
