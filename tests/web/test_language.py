"""Chinese by default, English by the switch in the header; every message a page can show has its English line."""

from __future__ import annotations

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
from tests.web.conftest import sign_in
from tests.workflows.conftest import Kuayue
from web import audit_pages, partner_view, roadshow_pages, roadshow_view
from web.format import COMMAND_NAMES_ZH, JIANGXI_CITIES, NEXT_ACTION_ZH, code_names
from web.forms import form_for
from web.i18n import translations
from web.open_call_pages import publish_regions
from web.registry_pages import CENTRE_LEVELS

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
