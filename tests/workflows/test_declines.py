"""Declines written from deal events: a rejected candidate and a failed negotiation reach the owning N centres."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.archive import EventArchive
from domain.commands import AcceptMatch, FailNegotiation, ProposeCandidates, RejectCandidate, ShortlistCandidate, ValidateDemand
from domain.events import Candidate, CandidatesProposed, DeclineReason, Side
from domain.projection import AppendRequest
from domain.registry import Achievement
from examples.lifecycle import broker_actor
from kuayue.cli import main
from registry import records
from registry.declines import decline_reasons, list_declines
from registry.importer import import_file
from registry.tables import Kind
from store.testing import BACKENDS, Backend, migrated_database
from tests.factories import EXAMPLE_FILES
from tests.workflows.conftest import Kuayue, running_kuayue

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry" / "achievements.csv"
JIAN = next(p for p in EXAMPLE_FILES if "jian" in p.name)


@pytest.fixture(params=BACKENDS)
async def with_registry(request: pytest.FixtureRequest, temporal_env: WorkflowEnvironment) -> AsyncIterator[tuple[Kuayue, str]]:
    backend: Backend = request.param
    with migrated_database(backend) as url:
        async with running_kuayue(temporal_env.client, url) as kuayue:
            import_file(kuayue.sessions, REGISTRY)
            yield kuayue, url


def registered(kuayue: Kuayue, achievement_id: str) -> Candidate:
    with kuayue.sessions() as session:
        record = records.get(session, Kind.ACHIEVEMENTS, achievement_id)
    assert isinstance(record, Achievement)
    return Candidate(achievement=record.ref(), score=1.0, reasons=("行业相同",))


async def engine_done(kuayue: Kuayue, deal_id: str) -> None:
    """Wait for the matching engine's own shortlist, so the broker's list is the one that stays."""
    for _ in range(200):
        if any(isinstance(e.payload, CandidatesProposed) for e in kuayue.archive(deal_id)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the matching engine proposed nothing")


async def test_a_rejected_candidate_and_a_failed_negotiation_are_kept_per_achievement(
    with_registry: tuple[Kuayue, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    kuayue, url = with_registry
    cmd, _ = await kuayue.open(JIAN)
    deal, broker = cmd.deal_id, broker_actor(cmd)
    await kuayue.act(deal, ValidateDemand(command_id="v", actor=broker))
    await engine_done(kuayue, deal)
    mine = (registered(kuayue, "JXCG-2026-0001"), registered(kuayue, "JXCG-2026-0002"))
    await kuayue.act(deal, ProposeCandidates(command_id="p", actor=broker, candidates=mine))
    await kuayue.act(
        deal,
        RejectCandidate(
            command_id="r", actor=broker, achievement_id="JXCG-2026-0002", reason=DeclineReason.PRICE, note="报价高于预算"
        ),
    )
    await kuayue.act(deal, ShortlistCandidate(command_id="s", actor=broker, achievement_id="JXCG-2026-0001"))
    for side in Side:
        await kuayue.act(deal, AcceptMatch(command_id=f"a-{side}", actor=broker, achievement_id="JXCG-2026-0001", side=side))
    await kuayue.act(deal, FailNegotiation(command_id="f", actor=broker, reason=DeclineReason.IP_UNCLEAR, note="专利权属待确认"))

    # Each decline is kept for the achievement's N centre, keyed by the deal event that says so.
    events = kuayue.archive(deal)
    by_type = {e.type: e.seq for e in events}
    with kuayue.sessions() as session:
        jxau = list_declines(session, centre_id="jxau")
        jgsu = list_declines(session, centre_id="jgsu")
        assert [(r.reason, r.count) for r in decline_reasons(session, centre_id="jxau")] == [(DeclineReason.PRICE, 1)]
    assert [(d.achievement_id, d.deal_id, d.seq, d.reason, d.note) for d in jxau] == [
        ("JXCG-2026-0002", deal, by_type["CandidateRejected"], DeclineReason.PRICE, "报价高于预算")
    ]
    assert [(d.achievement_id, d.seq, d.reason, d.note) for d in jgsu] == [
        ("JXCG-2026-0001", by_type["NegotiationFailed"], DeclineReason.IP_UNCLEAR, "专利权属待确认")
    ]

    # A retried append of the same events archives nothing and writes no decline twice.
    row = kuayue.row(deal)
    assert row is not None
    retry = AppendRequest(deal_id=deal, events=tuple(events), summary=row)
    result = await ActivityEnvironment().run(EventArchive(kuayue.sessions).append, retry)
    assert (result.appended, result.already_present) == (0, len(events))
    with kuayue.sessions() as session:
        assert list_declines(session, centre_id="jxau") == jxau and list_declines(session, centre_id="jgsu") == jgsu

    # `kuayue registry declines --centre …` shows the reason counts and the declines with their notes.
    monkeypatch.setenv("KUAYUE_DATABASE_URL", url)
    assert main(["registry", "declines", "--centre", "jgsu"]) == 0
    out = capsys.readouterr().out
    assert "1  知识产权状况不清（ip_unclear）" in out
    assert f"JXCG-2026-0001  案件 {deal} #{by_type['NegotiationFailed']}  知识产权状况不清：专利权属待确认" in out
