"""Random command sequences never break the deal's invariants (hypothesis)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.actors import TIMER, Actor, Role
from domain.commands import (
    AcceptMatch,
    AgreeTerms,
    Command,
    ExtendDeadline,
    FailNegotiation,
    FireLadderStep,
    LapseDeal,
    ProposeCandidates,
    ReassignBroker,
    RecordCommitment,
    RegisterContract,
    RejectCandidate,
    ShortlistCandidate,
    SignContract,
    ValidateDemand,
    WaiveFinancing,
    WithdrawDeal,
)
from domain.decider import fold
from domain.errors import DomainError
from domain.events import DeclineReason, Instrument, Side, StageEntered
from domain.parties import Broker
from domain.sla import LadderStep
from domain.stages import LEGAL_TRANSITIONS, TERMINAL_STAGES, Stage
from tests.domain.harness import PureDeal
from tests.factories import AUDITOR, EXAMPLE_FILES, PARTNER, T0, broker_of, candidates, contract, manager_of, open_command, terms

OPEN = open_command(EXAMPLE_FILES[0])
BROKER = broker_of(OPEN)
ACTORS = st.sampled_from(
    [BROKER, BROKER, BROKER, manager_of(OPEN), PARTNER, AUDITOR, Actor(id="x", role=Role.BROKER, centre_id="x")]
)
ACH = st.sampled_from(["ACH-0001", "ACH-0002", "ACH-0003"])


def _commands(n: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda a: ValidateDemand(command_id=f"c{n}", actor=a), ACTORS),
        st.builds(lambda a: ProposeCandidates(command_id=f"c{n}", actor=a, candidates=candidates(1, 2, 3)), ACTORS),
        st.builds(lambda a, i: ShortlistCandidate(command_id=f"c{n}", actor=a, achievement_id=i), ACTORS, ACH),
        st.builds(
            lambda a, i, r: RejectCandidate(command_id=f"c{n}", actor=a, achievement_id=i, reason=r),
            ACTORS,
            ACH,
            st.sampled_from(DeclineReason),
        ),
        st.builds(
            lambda a, i, s: AcceptMatch(command_id=f"c{n}", actor=a, achievement_id=i, side=s), ACTORS, ACH, st.sampled_from(Side)
        ),
        st.builds(lambda a, p: AgreeTerms(command_id=f"c{n}", actor=a, terms=terms(p)), ACTORS, st.integers(0, 10**9)),
        st.builds(lambda a, r: FailNegotiation(command_id=f"c{n}", actor=a, reason=r), ACTORS, st.sampled_from(DeclineReason)),
        st.builds(
            lambda a, m, i: RecordCommitment(command_id=f"c{n}", actor=a, investor="bank", instrument=i, amount_fen=m),
            ACTORS,
            st.integers(0, 6 * 10**9),
            st.sampled_from(Instrument),
        ),
        st.builds(lambda a: WaiveFinancing(command_id=f"c{n}", actor=a, reason="无需融资"), ACTORS),
        st.builds(lambda a, v: SignContract(command_id=f"c{n}", actor=a, contract=contract(v)), ACTORS, st.integers(0, 10**9)),
        st.builds(lambda a: RegisterContract(command_id=f"c{n}", actor=a, registration_number="R1"), ACTORS),
        st.builds(lambda a: WithdrawDeal(command_id=f"c{n}", actor=a, reason="r"), ACTORS),
        st.builds(
            lambda a, d: ExtendDeadline(command_id=f"c{n}", actor=a, working_days=d, reason="r"), ACTORS, st.integers(1, 30)
        ),
        st.builds(
            lambda a: ReassignBroker(
                command_id=f"c{n}",
                actor=a,
                broker=Broker(broker_id=f"b{n}", name="b", centre_id=OPEN.centre.centre_id),
                reason="r",
            ),
            ACTORS,
        ),
        st.builds(lambda s: FireLadderStep(command_id=f"c{n}", actor=TIMER, step=s), st.sampled_from(LadderStep)),
        st.builds(lambda d: LapseDeal(command_id=f"c{n}", actor=TIMER, inactive_days=d), st.integers(0, 400)),
    )


@st.composite
def scripts(draw: st.DrawFn) -> list[tuple[Command, timedelta]]:
    length = draw(st.integers(1, 40))
    return [(draw(_commands(i)), timedelta(hours=draw(st.integers(0, 24 * 60)))) for i in range(length)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scripts())
def test_random_command_sequences_keep_the_invariants(script: list[tuple[Command, timedelta]]) -> None:
    deal = PureDeal()
    deal.run(OPEN, T0)
    now = T0
    for command, step in script:
        now += step
        before_state, before_len = deal.state, len(deal.events)
        was_terminal = deal.state.stage in TERMINAL_STAGES
        try:
            deal.run(command, now)
        except DomainError as e:
            assert e.code and e.message
            assert deal.state == before_state and len(deal.events) == before_len
            continue
        assert not was_terminal, "a terminal deal accepted a command"
        if command.actor == AUDITOR:
            raise AssertionError("an auditor changed a deal")
        assert deal.state.committed_fen >= 0
        assert all(c.amount_fen >= 0 for c in deal.state.commitments)

    assert [e.seq for e in deal.events] == list(range(1, len(deal.events) + 1))
    stages = [e.payload for e in deal.events if isinstance(e.payload, StageEntered)]
    assert stages[0].stage == Stage.DEMAND_MINING and stages[0].previous is None
    for entered in stages[1:]:
        assert (entered.previous, entered.stage) in LEGAL_TRANSITIONS
    assert fold(deal.events) == deal.state
