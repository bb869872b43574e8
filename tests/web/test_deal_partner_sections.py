"""The deal page shows what partners did (issue 4): requests with status and answer deadline, commitments, the
technology contract, and the registration office's correction and refusal reasons with the policy file's labels.

The deal is financed and registered through the real partner simulator, signed callbacks and the worker."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from domain.commands import SubmitRegistration
from domain.partners import Decision, Instrument, PartnerKind
from domain.stages import Stage
from partnersim.app import Behaviour
from store.db import make_engine, make_session_factory
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES
from tests.partnering import PartnerStack, partner_stack, sign, to_financing
from tests.web.conftest import PASSWORD
from tests.workflows.test_partners import WAN, apply
from web.users import create_user

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)  # needs 5,000 万元


@pytest.fixture
def db_url() -> Iterator[str]:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        with make_session_factory(engine).begin() as session:
            create_user(session, "hub-admin", PASSWORD, Role.HUB_ADMIN, "省中心", "hub")
        engine.dispose()
        yield url


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, db_url: str) -> AsyncIterator[PartnerStack]:
    async with partner_stack(temporal_env.client, db_url, default=Behaviour(delay=0.05)) as s:
        yield s


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_deal_page_shows_requests_commitments_contract_and_registration_reasons(stack: PartnerStack) -> None:
    cmd, _ = await stack.kuayue.open(FUZHOU)
    deal = cmd.deal_id
    broker = await to_financing(stack, cmd)
    await stack.kuayue.act(deal, apply("A-bank", "jxbank", PartnerKind.BANK, 3000 * WAN, broker, Instrument.LOAN))
    await stack.kuayue.act(deal, apply("A-fund", "jxfund", PartnerKind.FUND, 2000 * WAN, broker, Instrument.EQUITY))
    await stack.wait_for(deal, lambda s: s.stage == Stage.SIGNING)
    correction = Behaviour(delay=0.05, decision=Decision.CORRECTION_REQUESTED, reason_codes=("payment_schedule_missing",))
    await stack.behave(correction, request_id="R1")
    await sign(stack, cmd, broker, 500 * WAN, "HT-FZ-1")
    await stack.kuayue.act(deal, SubmitRegistration(command_id="r1", actor=broker, submission_id="R1", partner_id="jxregistry"))
    await stack.wait_for(deal, lambda s: s.registration_state == "correction_requested")
    refusal = Behaviour(delay=0.05, decision=Decision.REFUSED, reason_codes=("restrictive_clauses",))
    await stack.behave(refusal, request_id="R2")
    await sign(stack, cmd, broker, 500 * WAN, "HT-FZ-1-rev1")
    await stack.kuayue.act(deal, SubmitRegistration(command_id="r2", actor=broker, submission_id="R2", partner_id="jxregistry"))
    await stack.wait_for(deal, lambda s: s.registration_state == "refused")

    async with httpx.AsyncClient(base_url=stack.web_url) as web:
        login = await web.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        signed_in = await web.post("/login", data={"username": "hub-admin", "password": PASSWORD, "csrf_token": token})
        assert signed_in.status_code == 303
        page = text_of((await web.get(f"/deals/{deal}")).text)

    # Requests: kind, amount, status, answer deadline.
    assert re.search(r"A-bank jxbank 银行 3,000\.00 万元 已答复（committed） \d{4}年\d{1,2}月\d{1,2}日", page), page
    assert re.search(r"A-fund jxfund 基金 2,000\.00 万元 已答复（committed）", page)
    assert re.search(r"R2 jxregistry 技术合同登记机构 500\.00 万元 已答复（refused）", page)
    # Commitments with instrument and status.
    assert "jxbank 贷款 3,000.00 万元" in page and "jxfund 股权投资 2,000.00 万元" in page
    assert page.count(" 有效 ") >= 2
    # The contract and the office's reasons, as the policy file words them.
    assert "HT-FZ-1-rev1" in page and "合同成交额 500.00 万元" in page
    assert "登记状态 不予登记" in page
    assert "补正原因 付款方式或付款计划不明确" in page
    assert "不予登记原因 含有限制技术竞争和技术发展的条款" in page
