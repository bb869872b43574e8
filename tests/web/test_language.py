"""Chinese by default, English by the switch in the header; every message a page can show has its English line."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
from fastapi import FastAPI

from domain.open_call import KIND_ZH, STATUS_ZH
from domain.parties import TransferMode
from domain.partners import PartyRole
from domain.registry import MATURITY_LABELS
from domain.stages import STAGE_NAMES_ZH
from domain.state import DealState
from registry.declines import REASON_LABELS
from tests.factories import EXAMPLES
from tests.web.conftest import WebDb, csrf_from, sign_in
from tests.workflows.conftest import Kuayue
from web import audit_pages, partner_view, roadshow_pages, roadshow_view
from web.format import COMMAND_NAMES_ZH, JIANGXI_CITIES, NEXT_ACTION_ZH, code_names
from web.forms import form_for
from web.i18n import translations
from web.open_call_pages import publish_regions
from web.refusals import DOMAIN_EN, WEB_EN
from web.registry_pages import CENTRE_LEVELS
from web.rendering import DETAILS

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def messages_pages_show() -> set[str]:
    """Every Chinese message the templates pass to _() (directly, in a choice dict or in an option list), and the
    names the pages translate: stages, commands, next steps, form labels and options, Jiangxi's cities."""
    found: set[str] = set()
    for template in TEMPLATES.rglob("*.html"):  # the auditor's pages are in audit/
        text = template.read_text(encoding="utf-8")
        found |= {m.group(2) for m in re.finditer(r"_\(([\"'])(.*?)\1", text)}
        for block in re.findall(r"_\(\{(.*?)\}", text) + re.findall(r"\[\((.*?)\)\]", text):
            found |= {s for s in re.findall(r'"([^"]*)"', block) if CHINESE.search(s)}
    found |= set(STAGE_NAMES_ZH.values()) | set(COMMAND_NAMES_ZH.values()) | set(NEXT_ACTION_ZH.values())
    found |= {code_names()["regions"][c] for c in JIANGXI_CITIES}
    found |= {name for _, name in publish_regions()}
    # Names the registry, open-call and partner parts of the pages translate.
    found |= set(STATUS_ZH.values()) | set(KIND_ZH.values()) | set(REASON_LABELS.values()) | set(MATURITY_LABELS.values())
    found |= {label for _, label in CENTRE_LEVELS} | {m.value for m in TransferMode} | {r.value for r in PartyRole}
    for names in (partner_view.KIND_ZH, partner_view.REQUEST_STATUS_ZH, partner_view.INSTRUMENT_ZH, partner_view.REGISTRATION_ZH):
        found |= set(names.values())
    found |= set(partner_view.COMMITMENT_STATUSES)
    # Names the roadshow pages translate.
    for names in (roadshow_view.STATUS_ZH, roadshow_view.MODE_ZH, roadshow_view.INTEREST_STATUS_ZH, roadshow_pages.ACTION_ZH):
        found |= set(names.values())
    found |= set(roadshow_view.COMMITMENT_ZH)
    # What the auditor's pages say about a query that cannot be read, and the columns of the "who did what" CSV.
    found |= set(audit_pages.QUERY_MESSAGES) | set(audit_pages.CSV_COLUMNS) | {audit_pages.NO_ACTOR}
    found.add(DETAILS)  # before a refusal's Chinese detail on an English page
    for command in COMMAND_NAMES_ZH:
        for f in form_for(command, DealState(deal_id="x")).fields:
            found |= {f.label} | {label for _, label in f.options if CHINESE.search(label)}
    return found


def test_every_message_has_an_english_translation() -> None:
    english = translations("en")
    untranslated = sorted(m for m in messages_pages_show() if english.gettext(m) == m)
    assert untranslated == []


async def test_the_switch_turns_the_pages_english_and_back(app: FastAPI, deals: Kuayue) -> None:
    opened, _ = await deals.open(EXAMPLES / "jian-biofertilizer.json")
    client: httpx.AsyncClient = await sign_in(app, "ja-broker-liu")
    chinese = await client.get("/deals")
    assert "<h1>我的案件</h1>" in chinese.text and 'lang="zh-CN"' in chinese.text
    switched = await client.get("/lang/en?next=/deals%3Fstage%3DDEMAND_MINING")
    assert switched.status_code == 303 and switched.headers["location"] == "/deals?stage=DEMAND_MINING"
    english = await client.get(switched.headers["location"])
    assert "<h1>My deals</h1>" in english.text and 'lang="en"' in english.text
    assert opened.deal_id in english.text and "Demand mining" in english.text
    deal = await client.get(f"/deals/{opened.deal_id}")
    assert "Validate demand" in deal.text and "Timeline" in deal.text
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} 20\d\d", deal.text)  # dates as 5 Mar 2026
    assert "yuan" in deal.text and "万元" not in deal.text.split("Timeline")[0]
    assert (await client.get("/lang/xx")).status_code == 404
    assert (await client.get("/lang/en?next=https://evil.example/")).headers["location"] == "/"
    await client.get("/lang/zh-CN")
    assert "<h1>我的案件</h1>" in (await client.get("/deals")).text


def _timeline(page: str) -> list[str]:
    """The timeline's lines as a reader sees them (tags dropped), newest first."""
    block = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S)
    assert block, "page has no timeline"
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", li)).split()) for li in re.findall(r"<li>(.*?)</li>", block[1], re.S)]


def _refusal_shown(page: str) -> str:
    alert = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert alert, "page shows no refusal"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", alert[1])).split())


async def _act(client: httpx.AsyncClient, deal_id: str, command: str, data: dict[str, str]) -> httpx.Response:
    page = (await client.get(f"/deals/{deal_id}")).text
    command_id = re.search(rf'action="/deals/{deal_id}/actions/{command}".*?name="command_id" value="([^"]+)"', page, re.S)
    assert command_id, f"no {command} form"
    return await client.post(
        f"/deals/{deal_id}/actions/{command}", data={"csrf_token": csrf_from(page), "command_id": command_id[1], **data}
    )


async def test_an_english_deal_page_reads_its_timeline_and_refusals_in_english(
    app: FastAPI, deals: Kuayue, web_db: WebDb
) -> None:
    """A real deal taken to matching from the English page: its timeline in English (who, what, stage names, Beijing
    times the English way), a refused action explained in English with the domain's Chinese detail and nothing
    recorded; the Chinese page and the JSON API keep the record's Chinese lines."""
    opened, _ = await deals.open(EXAMPLES / "jian-biofertilizer.json")
    deal_id = opened.deal_id
    broker = await sign_in(app, "ja-broker-liu")
    await broker.get("/lang/en")
    assert (await _act(broker, deal_id, "ValidateDemand", {"note": "企业已确认两项指标"})).status_code == 303
    proposed = await _act(
        broker,
        deal_id,
        "ProposeCandidates",
        {"achievement_id": "JXCG-2026-0001", "title": "龙脑樟残渣生物肥", "institution": "江西农业大学", "score": "8.5"},
    )
    assert proposed.status_code == 303, proposed.text

    english = _timeline((await broker.get(f"/deals/{deal_id}")).text)
    when = r"\d{1,2} [A-Z][a-z]{2} 20\d\d \d\d:\d\d"  # 5 Mar 2026 09:30, Beijing time
    assert all(re.match(when, line) for line in english), english
    by_broker = f"Broker {opened.broker.broker_id}"
    expected = [
        f"{by_broker} Candidates proposed: 龙脑樟残渣生物肥 (8.5)",
        f"{by_broker} Entered the stage “Matching”",
        f"{by_broker} Demand validated: 企业已确认两项指标",
        "Provincial hub hub-admin Entered the stage “Demand mining”",
        f"Provincial hub hub-admin Deal opened: {opened.demand.title} ({opened.demand.enterprise.name}), broker 刘芳",
    ]
    # Matching may add its own proposal (system:matching) when the registry holds a fit; the rest is exactly this.
    lines = [re.sub(rf"^{when} ", "", line).rsplit(" #", 1)[0] for line in english]
    assert [line for line in lines if not line.startswith("System system:matching")] == expected
    assert not any(w in " ".join(english) for w in ("进入「", "确认需求", "创建案件", "经纪人 ja"))

    # Refused by the deal: an achievement that is not a candidate. English first, then the domain's Chinese detail.
    before = deals.archive(deal_id)
    refused = await _act(broker, deal_id, "ShortlistCandidate", {"achievement_id": "JXCG-2026-9999"})
    assert refused.status_code == 422
    shown = _refusal_shown(refused.text)
    assert shown.startswith(DOMAIN_EN["unknown_candidate"] + " Details: ")
    assert "成果 JXCG-2026-9999 不在候选清单中" in shown and "JXCG-2026-0001" in shown
    assert deals.archive(deal_id) == before

    # Bad input on the form: the web layer's own refusal, in English too; nothing recorded.
    not_money = await _act(
        broker, deal_id, "ProposeCandidates", {"achievement_id": "X", "title": "x", "institution": "x", "score": "高"}
    )
    assert not_money.status_code == 422
    assert _refusal_shown(not_money.text).startswith(WEB_EN["invalid_input"] + " Details: 匹配得分「高」不是数字")
    # Pages refused as a whole: a deal out of scope, a forged POST.
    hidden = await broker.get("/deals/NO-SUCH-DEAL")
    assert hidden.status_code == 404 and "There is no deal with this id, or you may not see it." in html.unescape(hidden.text)
    forged = await broker.post(f"/deals/{deal_id}/actions/WithdrawDeal", data={"reason": "x"})
    assert forged.status_code == 403 and WEB_EN["csrf"] in html.unescape(forged.text)
    auditor = await sign_in(app, "auditor-zhao")
    await auditor.get("/lang/en")
    page = (await auditor.get(f"/deals/{deal_id}")).text
    forbidden = await auditor.post(f"/deals/{deal_id}/actions/WithdrawDeal", data={"csrf_token": csrf_from(page), "reason": "x"})
    assert forbidden.status_code == 403 and WEB_EN["not_offered_to_you"] in html.unescape(forbidden.text)
    assert deals.archive(deal_id) == before

    # The Chinese page: the record's own lines, and the refusal as the domain wrote it, without English.
    await broker.get("/lang/zh-CN")
    chinese = _timeline((await broker.get(f"/deals/{deal_id}")).text)
    assert any("确认需求：企业已确认两项指标" in line for line in chinese)
    assert any("进入「技术匹配」阶段" in line for line in chinese)
    again = await _act(broker, deal_id, "ShortlistCandidate", {"achievement_id": "JXCG-2026-9999"})
    assert _refusal_shown(again.text).startswith("成果 JXCG-2026-9999 不在候选清单中")
    assert "Details" not in again.text and DOMAIN_EN["unknown_candidate"] not in html.unescape(again.text)

    # The JSON API keeps the Chinese lines and carries the English beside them.
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    detail = (
        await api.get(f"/api/deals/{deal_id}", headers={"Authorization": f"Bearer {web_db.tokens['ja-broker-liu']}"})
    ).json()
    validated = next(t for t in detail["timeline"] if t["event"]["payload"]["type"] == "DemandValidated")
    assert validated["what"] == "确认需求：企业已确认两项指标" and validated["who"] == "经纪人 ja-broker-liu"
    assert validated["what_en"] == "Demand validated: 企业已确认两项指标" and validated["who_en"] == "Broker ja-broker-liu"
