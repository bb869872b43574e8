"""The state of one deal: a fold of its events (see `domain.decider.evolve`)."""

from __future__ import annotations

from datetime import datetime

from domain.events import Candidate, DeclineReason, FinancingCommitted, Side
from domain.parties import AchievementRef, Broker, Centre, Contract, Demand, Model, Terms
from domain.sla import DeadlinePlan, LadderStep
from domain.stages import TERMINAL_STAGES, Stage


class Rejection(Model):
    achievement_id: str
    reason: DeclineReason
    note: str = ""


class DealState(Model):
    deal_id: str = ""
    seq: int = 0
    stage: Stage | None = None  # None until DealOpened
    demand: Demand | None = None
    broker: Broker | None = None
    centre: Centre | None = None
    stage_entered_at: datetime | None = None
    plan: DeadlinePlan | None = None
    extension_working_days: int = 0  # granted in the current stage
    fired_steps: tuple[LadderStep, ...] = ()
    escalation_level: int = 0
    candidates: tuple[Candidate, ...] = ()
    shortlisted: tuple[str, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    acceptances: tuple[tuple[str, Side], ...] = ()
    match: AchievementRef | None = None
    terms: Terms | None = None
    commitments: tuple[FinancingCommitted, ...] = ()
    committed_fen: int = 0
    financing_waived_reason: str | None = None
    contract: Contract | None = None
    registration_number: str | None = None
    closing_reason: str | None = None
    opened_at: datetime | None = None
    last_event_at: datetime | None = None
    last_activity_at: datetime | None = None  # last event not caused by a timer: inactivity counts from here

    @property
    def is_open(self) -> bool:
        return self.stage is not None and self.stage not in TERMINAL_STAGES

    @property
    def financing_need_fen(self) -> int:
        return self.demand.financing_need_fen if self.demand else 0

    def candidate(self, achievement_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.achievement.achievement_id == achievement_id), None)

    def accepted_sides(self, achievement_id: str) -> set[Side]:
        return {side for aid, side in self.acceptances if aid == achievement_id}


def initial_state() -> DealState:
    return DealState()


def is_terminal(state: DealState) -> bool:
    return state.stage in TERMINAL_STAGES
