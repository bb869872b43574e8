"""The partner callback endpoint: what is not signed, fresh and new never reaches a deal; what is wrong says why."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.commands import ApplyForFinancing
from domain.partners import Instrument, PartnerKind, RequestStatus
from partnersim.app import Behaviour
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES
from tests.partnering import PartnerStack, partner_stack, to_financing
from worker import build_worker

JIUJIANG = next(p for p in EXAMPLE_FILES if "jiujiang" in p.name)  # needs 2,000 万元


@pytest.fixture(scope="module")
def sqlite_url() -> Iterator[str]:
    with migrated_database("sqlite") as url:
        yield url


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, sqlite_url: str) -> AsyncIterator[PartnerStack]:
    # The bank never answers by itself: every callback in these tests is crafted by the test.
    async with partner_stack(temporal_env.client, sqlite_url, default=Behaviour(mode="never")) as s:
        yield s


async def a_deal_waiting_for_the_bank(stack: PartnerStack) -> str:
    cmd, _ = await stack.kuayue.open(JIUJIANG)
    broker = await to_financing(stack, cmd)
    command = ApplyForFinancing(
        command_id="apply",
        actor=broker,
        application_id="A-1",
        partner_id="jxbank",
        partner_kind=PartnerKind.BANK,
        instrument=Instrument.LOAN,
        amount_fen=500_000_000,
    )
    await stack.kuayue.act(cmd.deal_id, command)
    await stack.wait_for(cmd.deal_id, lambda s: s.partner_request("A-1").status == RequestStatus.DELIVERED)  # type: ignore[union-attr]
    return cmd.deal_id


def commitment(deal_id: str, answer_id: str = "bank-ans-1", request_id: str = "A-1") -> dict[str, Any]:
    return {
        "answer_id": answer_id,
        "deal_id": deal_id,
        "request_id": request_id,
        "decision": "committed",
        "amount_fen": 500_000_000,
        "instrument": "loan",
    }


async def test_forged_stale_replayed_and_misaddressed_callbacks_are_refused_and_change_nothing(stack: PartnerStack) -> None:
    deal = await a_deal_waiting_for_the_bank(stack)
    history_before = await stack.kuayue.history_length(deal)
    archive_before = stack.kuayue.archive(deal)

    forged = await stack.callback("jxbank", commitment(deal), secret="not-the-banks-secret-at-all")
    assert (forged.status_code, forged.json()["code"]) == (401, "bad_signature")
    other_partners_secret = await stack.callback("jxbank", commitment(deal), secret=stack.partners["jxfund"].secret)
    assert other_partners_secret.status_code == 401
    stale = await stack.callback("jxbank", commitment(deal), timestamp=int(time.time()) - 3600)
    assert (stale.status_code, stale.json()["code"]) == (401, "stale_timestamp")
    resp = await stack.callback("nobank", commitment(deal), secret="a-secret-nobody-configured")
    assert (resp.status_code, resp.json()["code"]) == (401, "unknown_partner")
    unsigned = await stack.http.post(f"{stack.web_url}/partners/jxbank/callbacks", json=commitment(deal))
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "unsigned")

    unknown_deal = await stack.callback("jxbank", commitment("NO-SUCH-DEAL"))
    assert (unknown_deal.status_code, unknown_deal.json()["code"]) == (404, "unknown_deal")
    unknown_request = await stack.callback("jxbank", commitment(deal, request_id="A-404"))
    assert (unknown_request.status_code, unknown_request.json()["code"]) == (404, "unknown_request")
    assert "A-404" in unknown_request.json()["message"]
    not_theirs = await stack.callback("jxfund", commitment(deal))
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (403, "not_your_request")
    malformed = await stack.callback("jxbank", {**commitment(deal), "decision": "maybe"})
    assert (malformed.status_code, malformed.json()["code"]) == (422, "invalid_answer")
    assert "decision" in malformed.json()["message"]

    assert await stack.kuayue.history_length(deal) == history_before  # nothing reached the workflow
    assert stack.kuayue.archive(deal) == archive_before

    # A good callback is accepted once; the same request replayed (same nonce) is refused; a retry with a new nonce
    # but the same answer id is a duplicate and changes nothing.
    good = await stack.callback("jxbank", commitment(deal), nonce="nonce-0000000000000001")
    assert good.status_code == 202
    replayed = await stack.http.post(good.request.url, content=good.request.content, headers=dict(good.request.headers))
    assert (replayed.status_code, replayed.json()["code"]) == (401, "replayed_nonce")
    await stack.wait_for(deal, lambda s: s.committed_fen == 500_000_000)
    again = await stack.callback("jxbank", commitment(deal))
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    state = await stack.state(deal)
    assert len(state.firm_commitments) == 1 and state.committed_fen == 500_000_000
    assert [e.type for e in stack.kuayue.archive(deal)][len(archive_before) :] == ["CommitmentRecorded"]


async def test_an_answer_the_request_cannot_have_is_refused_before_it_reaches_the_deal(stack: PartnerStack) -> None:
    deal = await a_deal_waiting_for_the_bank(stack)
    history = await stack.kuayue.history_length(deal)
    body = {
        "answer_id": "x",
        "deal_id": deal,
        "request_id": "A-1",
        "decision": "refused",
        "reason_codes": ["restrictive_clauses"],
    }
    wrong = await stack.callback("jxbank", body)  # a registration decision, from a bank, on a financing application
    assert (wrong.status_code, wrong.json()["code"]) == (422, "wrong_decision")
    assert "committed" in wrong.json()["message"]
    assert await stack.kuayue.history_length(deal) == history


def test_registration_reason_codes_are_checked_against_the_rules() -> None:
    from domain.partners import Decision
    from tests.factories import registration_rules

    rules = registration_rules()
    assert rules.unknown_reasons(Decision.REFUSED, ("restrictive_clauses", "made_up")) == ["made_up"]
    assert rules.unknown_reasons(Decision.CORRECTION_REQUESTED, ("restrictive_clauses",)) == ["restrictive_clauses"]
    assert rules.label("not_technology_contract") == "不属于技术合同"


async def test_answers_numbered_alike_for_two_deals_are_two_answers_each_recorded_in_its_deal(stack: PartnerStack) -> None:
    first, second = await a_deal_waiting_for_the_bank(stack), await a_deal_waiting_for_the_bank(stack)
    for deal in (first, second):  # same request id, same answer id, different deals
        response = await stack.callback("jxbank", commitment(deal, answer_id="ans-7"))
        assert response.status_code == 202, response.text
    for deal in (first, second):
        state = await stack.wait_for(deal, lambda s: s.committed_fen == 500_000_000)
        assert [c.answer_id for c in state.firm_commitments] == ["ans-7"]
    again = await stack.callback("jxbank", commitment(second, answer_id="ans-7"))
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")


async def test_a_callback_needs_no_running_worker_and_is_recorded_when_one_comes_back(
    stack: PartnerStack, sqlite_url: str
) -> None:
    deal = await a_deal_waiting_for_the_bank(stack)
    assert stack.kuayue.worker is not None
    await stack.kuayue.worker.shutdown()  # every worker of this task queue is gone
    accepted = await stack.callback("jxbank", commitment(deal, answer_id="while-down"))
    assert accepted.status_code == 202, accepted.text  # checked against the read model, signal kept by Temporal
    assert stack.kuayue.archive(deal)[-1].type != "CommitmentRecorded"
    async with build_worker(
        stack.kuayue.client,
        stack.kuayue.task_queue,
        sqlite_url,
        partners=stack.partners,
        callback_base_url=stack.web_url,
    ):
        state = await stack.wait_for(deal, lambda s: s.committed_fen == 500_000_000)
        assert [c.answer_id for c in state.firm_commitments] == ["while-down"]
