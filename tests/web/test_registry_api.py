"""The registry JSON API: every signed-in role reads, bad input is refused in Chinese (and the service stays up), and a
broker's search that is proposed to a deal is recorded there with its index version and filters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from domain.actors import MATCHING
from domain.commands import ValidateDemand
from domain.events import CandidatesProposed, Event
from examples.lifecycle import broker_actor
from registry.importer import import_file
from store.db import make_engine, make_session_factory
from store.testing import migrated_database
from tests.factories import EXAMPLES
from tests.web.conftest import PASSWORD, USERS
from tests.workflows.conftest import Kuayue, running_kuayue
from web.app import create_app
from web.config import WebConfig
from web.users import create_user, issue_token

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "registry"
READERS = ("ja-broker-liu", "jj-broker-chen", "ja-manager", "hub-admin", "auditor-zhao")


@dataclass(frozen=True)
class RegistryWeb:
    app: FastAPI
    tokens: dict[str, str]
    url: str

    def client(self, user: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver", headers=headers)


@pytest.fixture(scope="module")
def registry_db() -> Iterator[tuple[str, dict[str, str]]]:
    """A database of its own with the sample registries and the users of tests/web (other web tests keep theirs empty)."""
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        tokens: dict[str, str] = {}
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, f"{username} 测试", centre)
                tokens[username] = issue_token(session, username)
        for name in ("achievements.json", "demands.json"):
            import_file(sessions, SAMPLES / name)
        engine.dispose()
        yield url, tokens


@pytest.fixture
def web(temporal_env: WorkflowEnvironment, registry_db: tuple[str, dict[str, str]]) -> Iterator[RegistryWeb]:
    url, tokens = registry_db
    engine = make_engine(url)
    config = WebConfig(database_url=url, secret_key="test-secret-key-not-for-production")
    yield RegistryWeb(create_app(config, temporal_env.client, make_session_factory(engine)), tokens, url)
    engine.dispose()


@pytest.fixture
async def kuayue(temporal_env: WorkflowEnvironment, web: RegistryWeb) -> AsyncIterator[Kuayue]:
    async with running_kuayue(temporal_env.client, web.url) as kuayue:
        yield kuayue


async def test_every_signed_in_role_reads_the_registries_and_nobody_else(web: RegistryWeb) -> None:
    for user in READERS:
        async with web.client(user) as api:
            found = await api.get("/api/registry/achievements", params={"q": "钕铁硼"})
            assert found.status_code == 200, (user, found.text)
            body = found.json()
            assert body["index_version"].startswith("ach-")
            assert [c["achievement"]["achievement_id"] for c in body["candidates"]] == ["JXCG-2026-0013"]
            assert body["candidates"][0]["reasons"] == ["文本相关度 1.00：命中 稀土永磁（同义：钕铁硼）"]
            shown = await api.get("/api/registry/achievements/JXCG-2026-0005")
            assert shown.status_code == 200 and shown.json()["title"] == "超声电主轴设计与制造技术"
            assert (await api.get("/api/registry/demands/D-FZ-2026-002")).json()["enterprise_name"] == "深圳迈菲精密有限公司"
    async with web.client(None) as anonymous:
        for path in ("/api/registry/achievements?q=主轴", "/api/registry/demands/D-FZ-2026-002", "/api/registry/demands?q=主轴"):
            assert (await anonymous.get(path)).status_code == 401
        forged = await anonymous.get("/api/registry/achievements?q=主轴", headers={"Authorization": "Bearer ky_forged"})
        assert forged.status_code == 401


async def test_matches_in_both_directions_with_scores_reasons_and_filters(web: RegistryWeb) -> None:
    async with web.client("ja-broker-liu") as api:
        matched = (await api.get("/api/registry/demands/D-FZ-2026-002/matches", params={"limit": "5"})).json()
        best = matched["candidates"][0]
        assert best["achievement"]["achievement_id"] == "JXCG-2026-0005"
        assert best["score"] > matched["candidates"][1]["score"]
        assert "行业相同 (C3425 机床功能部件及附件制造)（20.0/20 分）" in best["reasons"]
        local = (await api.get("/api/registry/demands/D-FZ-2026-002/matches", params={"region": "360800", "limit": "30"})).json()
        regions = {c["achievement"]["achievement_id"] for c in local["candidates"]}
        assert regions and "JXCG-2026-0005" not in regions  # the best fit is in Nanchang, not Ji'an
        pushed = (await api.get("/api/registry/achievements/JXCG-2026-0009/matches")).json()
        assert pushed["index_version"].startswith("dem-") and pushed["demands"][0]["demand_id"] == "D-JJ-2026-003"
        demands = (await api.get("/api/registry/demands", params={"q": "光伏组件回收", "region": "361100"})).json()
        assert [d["demand_id"] for d in demands["demands"]] == ["D-SR-2026-010"]
        missing = await api.get("/api/registry/demands/D-XX-404/matches")
        assert missing.status_code == 404 and "需求编号「D-XX-404」不存在" in missing.json()["message"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"q": ""}, "查询内容为空"),
        ({"q": "   \t "}, "查询内容为空"),
        ({"q": "主轴" * 1_500}, "查询内容过长（3,000 字）；最多 2,000 字"),
        ({"q": "主轴", "industry": "Z99"}, "应为门类字母 A-T"),
        ({"q": "主轴", "industry": "C99"}, "大类 99 不属于门类 C"),
        ({"q": "主轴", "region": "999999"}, "地区代码「999999」未知；允许 GB/T 2260"),
        ({"q": "主轴", "region": "3608"}, "360800（吉安市）"),
        ({"q": "主轴", "min_trl": "10"}, "允许 1 到 9 的整数"),
        ({"q": "主轴", "mode": "赠送"}, "允许：转让、许可、作价入股、合作开发、技术服务"),
        ({"q": "主轴", "max_price_wan": "-5"}, "允许 0 到 10,000,000 之间的万元数"),
        ({"q": "主轴", "limit": "1000"}, "允许 1 到 100 的整数"),
    ],
)
async def test_bad_input_is_refused_in_chinese_and_the_service_stays_up(
    web: RegistryWeb, params: dict[str, str], says: str
) -> None:
    async with web.client("hub-admin") as api:
        for path in ("/api/registry/achievements", "/api/registry/demands"):
            refused = await api.get(path, params=params)
            assert refused.status_code == 422, refused.text
            assert refused.json()["code"] == "bad_query" and says in refused.json()["message"], refused.json()
        assert (await api.get("/api/registry/achievements", params={"q": "超声主轴"})).status_code == 200


async def test_a_100000_character_query_is_refused_and_the_service_stays_up(web: RegistryWeb) -> None:
    async with web.client("ja-manager") as api:
        for path in ("/api/registry/achievements/search", "/api/registry/demands/search"):
            refused = await api.post(path, json={"q": "超声主轴" * 25_000})
            assert refused.status_code == 422
            assert refused.json()["message"].startswith("查询内容过长（100,000 字）；最多 2,000 字")
            assert (await api.post(path, json={"q": "  ", "region": "360100"})).json()["code"] == "bad_query"
            wrong_type = await api.post(path, json={"q": "主轴", "min_trl": "高"})
            assert wrong_type.status_code == 422 and "技术就绪度「高」不对；允许 1 到 9 的整数" in wrong_type.json()["message"]
        found = await api.post(
            "/api/registry/achievements/search", json={"q": "超声主轴", "min_trl": 6, "mode": "许可", "region": 360000}
        )
        assert found.status_code == 200 and found.json()["candidates"][0]["achievement"]["achievement_id"] == "JXCG-2026-0005"


async def _proposals(kuayue: Kuayue, deal_id: str, count: int) -> list[Event]:
    for _ in range(200):
        found = [e for e in kuayue.archive(deal_id) if isinstance(e.payload, CandidatesProposed)]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} proposals recorded for {deal_id}")


async def test_a_brokers_search_is_recorded_in_the_deal_with_index_version_and_filters(web: RegistryWeb, kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(EXAMPLES / "jian-biofertilizer.json")
    await kuayue.act(cmd.deal_id, ValidateDemand(command_id="v", actor=broker_actor(cmd)))
    (engine_shortlist,) = await _proposals(kuayue, cmd.deal_id, 1)
    assert engine_shortlist.actor == MATCHING
    before = len(kuayue.archive(cmd.deal_id))
    body = {"industry": "C26", "region": "360000", "min_trl": 5, "limit": 3, "command_id": "search-1"}

    # Who may not: an auditor (reads, never acts), a broker of another centre (cannot see the deal), bad filters.
    async with web.client("auditor-zhao") as auditor:
        assert (await auditor.post(f"/api/deals/{cmd.deal_id}/proposals", json=body)).status_code == 403
    async with web.client("jj-broker-chen") as other:
        assert (await other.post(f"/api/deals/{cmd.deal_id}/proposals", json=body)).status_code == 404
    async with web.client("ja-broker-liu") as broker:
        bad = await broker.post(f"/api/deals/{cmd.deal_id}/proposals", json=body | {"region": "123456"})
        assert bad.status_code == 422 and "地区代码「123456」未知" in bad.json()["message"]
        nothing = await broker.post(f"/api/deals/{cmd.deal_id}/proposals", json=body | {"q": "量子计算芯片"})
        assert nothing.status_code == 422 and "没有符合" in nothing.json()["message"]
        assert len(kuayue.archive(cmd.deal_id)) == before, "a refused proposal recorded something"

        # What the broker sees in the search is what the deal records.
        seen = (
            await broker.get("/api/registry/achievements", params={"q": "龙脑樟 残渣", "industry": "C26", "min_trl": "5"})
        ).json()
        answer = await broker.post(f"/api/deals/{cmd.deal_id}/proposals", json=body | {"q": "龙脑樟 残渣"})
        assert answer.status_code == 200, answer.text
        again = await broker.post(f"/api/deals/{cmd.deal_id}/proposals", json=body | {"q": "龙脑樟 残渣"})
        assert again.json() == answer.json()  # the same command id is answered once

    recorded = (await _proposals(kuayue, cmd.deal_id, 2))[-1]
    assert recorded.actor.id == "ja-broker-liu"
    proposed = recorded.payload
    assert isinstance(proposed, CandidatesProposed)
    version, filters = proposed.source.removeprefix("search ").split(" ", 1)
    assert version == seen["index_version"]
    assert json.loads(filters) == {"q": "龙脑樟 残渣", "industry": "C26", "region": "360000", "min_trl": 5}
    assert [c.model_dump(mode="json") for c in proposed.candidates] == seen["candidates"][:3]
    assert proposed.candidates[0].achievement.achievement_id == "JXCG-2026-0001"
    assert len([e for e in kuayue.archive(cmd.deal_id) if isinstance(e.payload, CandidatesProposed)]) == 2
