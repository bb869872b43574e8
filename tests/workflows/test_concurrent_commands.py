"""Many commands to one deal at once, more than Temporal keeps in flight per workflow (10).

Past that limit the server aborts in-flight updates and the workflow task that handled some of them is lost; the
clients resend. With the archive append as a local activity the lost task had already archived its events, the
retried task decided them again at another workflow time, and the archive refused every later command of the
deal (ArchiveConflict). DURABLE_APPEND_PATCH makes the append an ordinary activity; this is the burst that showed it.
"""

from __future__ import annotations

import asyncio

import starter
from domain.commands import ExtendDeadline, ProposeCandidates, ShortlistCandidate, ValidateDemand
from domain.events import CandidatesProposed
from examples.lifecycle import broker_actor
from tests.factories import EXAMPLE_FILES, candidates, manager_of
from tests.workflows.conftest import Kuayue


async def test_a_burst_of_commands_to_one_deal_is_archived_exactly_as_the_deal_recorded_it(kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(EXAMPLE_FILES[0])
    broker = broker_actor(cmd)
    await kuayue.act(cmd.deal_id, ValidateDemand(command_id="validate", actor=broker))
    burst = [ProposeCandidates(command_id=f"propose-{i}", actor=broker, candidates=candidates(i % 10)) for i in range(12)]
    burst.append(ExtendDeadline(command_id="extend", actor=manager_of(cmd), working_days=3, reason="企业请求延期以补充材料"))

    answers = await asyncio.gather(*(kuayue.act(cmd.deal_id, c) for c in burst), return_exceptions=True)

    assert [a for a in answers if isinstance(a, BaseException)] == []  # every command answered, none refused
    state = await starter.deal_state(kuayue.client, cmd.deal_id)
    archived = kuayue.archive(cmd.deal_id)
    assert [e.seq for e in archived] == list(range(1, state.seq + 1))  # the archive is the deal's record, no more
    proposals = [e.payload for e in archived if isinstance(e.payload, CandidatesProposed)]
    assert len(proposals) == 12 and proposals[-1].candidates == state.candidates
    # And the deal goes on: the next command is recorded in both.
    chosen = state.candidates[0].achievement.achievement_id
    after = await kuayue.act(cmd.deal_id, ShortlistCandidate(command_id="shortlist", actor=broker, achievement_id=chosen))
    assert after.seq == state.seq + 1 and kuayue.archive(cmd.deal_id)[-1].seq == after.seq
