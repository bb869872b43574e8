"""Entering MATCHING, a deal gets the matching engine's shortlist recorded, with its reasons and index version."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.actors import MATCHING
from domain.commands import ProposeCandidates, ValidateDemand
from domain.events import CandidatesProposed, Event
from examples.lifecycle import broker_actor
from registry.importer import import_file
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES, candidates
from tests.workflows.conftest import Kuayue, running_kuayue

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry" / "achievements.csv"
EXPECTED_FIRST = {"jian": "JXCG-2026-0001", "fuzhou": "JXCG-2026-0005", "jiujiang": "JXCG-2026-0009"}


@pytest.fixture
async def with_registry(temporal_env: WorkflowEnvironment) -> AsyncIterator[Kuayue]:
    """A worker on its own database holding the example achievement registry (other tests keep theirs empty)."""
    with migrated_database("sqlite") as url:
        async with running_kuayue(temporal_env.client, url) as kuayue:
            import_file(kuayue.sessions, REGISTRY)
            yield kuayue


async def proposals(kuayue: Kuayue, deal_id: str, expected: int = 1) -> list[Event]:
    for _ in range(200):
        found = [e for e in kuayue.archive(deal_id) if isinstance(e.payload, CandidatesProposed)]
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no shortlist recorded for {deal_id}")


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
async def test_entering_matching_records_the_engines_shortlist(with_registry: Kuayue, path: Path) -> None:
    cmd, _ = await with_registry.open(path)
    await with_registry.act(cmd.deal_id, ValidateDemand(command_id="v", actor=broker_actor(cmd)))
    (event,) = await proposals(with_registry, cmd.deal_id)
    proposed = event.payload
    assert isinstance(proposed, CandidatesProposed)
    assert event.actor == MATCHING and proposed.source.startswith("matching ach-")
    best = proposed.candidates[0]
    assert best.achievement.achievement_id == EXPECTED_FIRST[path.stem.split("-")[0]]
    assert best.reasons[0].startswith("文本相关度") and any(r.startswith("行业相同") for r in best.reasons)
    assert len(proposed.candidates) == 10 and proposed.candidates[0].score > proposed.candidates[1].score
    state_candidates = (await with_registry.client.get_workflow_handle(f"deal-{cmd.deal_id}").query("state")).get("candidates")
    assert len(state_candidates) == 10  # the broker sees them at once


async def test_a_broker_can_still_propose_by_hand_and_the_engine_never_overwrites_it(with_registry: Kuayue) -> None:
    cmd, _ = await with_registry.open(EXAMPLE_FILES[0])
    broker = broker_actor(cmd)
    await with_registry.act(cmd.deal_id, ValidateDemand(command_id="v", actor=broker))
    await proposals(with_registry, cmd.deal_id)
    mine = candidates(1, 2)
    await with_registry.act(cmd.deal_id, ProposeCandidates(command_id="p", actor=broker, candidates=mine))
    await asyncio.sleep(0.5)
    recorded = [e for e in with_registry.archive(cmd.deal_id) if isinstance(e.payload, CandidatesProposed)]
    assert [e.actor for e in recorded] == [MATCHING, broker]  # the engine ran once for this stage entry
    assert recorded[-1].payload.candidates == mine  # type: ignore[union-attr]
