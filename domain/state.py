"""The state of one deal: a fold of its events (see `domain.decider.evolve`)."""

from __future__ import annotations

from datetime import datetime

from domain.events import Candidate, DeclineReason, FinancingCommitted, Side
from domain.parties import AchievementRef, Broker, Centre, Contract, Demand, Model, Terms
from domain.partners import Commitment, PartnerKind, PartnerRequest, TechnologyContract
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
    # Partners (since PARTNERS_PATCH): requests to investors and the registration office, their answers.
    partner_requests: tuple[PartnerRequest, ...] = ()
    firm_commitments: tuple[Commitment, ...] = ()  # from partner answers; committed_fen includes them
    answer_ids: tuple[str, ...] = ()  # every partner answer id recorded, so a repeat changes nothing
    technology_contract: TechnologyContract | None = None
    registration_state: str | None = None  # submitted | correction_requested | refused | amended | registered
    registration_reasons: tuple[str, ...] = ()  # the office's reason codes of its last correction or refusal
    opened_at: datetime | None = None
    last_event_at: datetime | None = None
    last_activity_at: datetime | None = None  # last event not caused by a timer: inactivity counts from here

    @property
    def is_open(self) -> bool:
        return self.stage is not None and self.stage not in TERMINAL_STAGES

    @property
    def financing_need_fen(self) -> int:
        return self.demand.financing_need_fen if self.demand else 0

    def partner_request(self, request_id: str) -> PartnerRequest | None:
        return next((r for r in self.partner_requests if r.request_id == request_id), None)

    def commitment(self, request_id: str) -> Commitment | None:
        return next((c for c in self.firm_commitments if c.request_id == request_id), None)

    @property
    def open_submission(self) -> PartnerRequest | None:
        """The registration submission the office has not answered yet."""
        return next((r for r in self.partner_requests if r.kind == PartnerKind.REGISTRATION_OFFICE and r.awaiting_answer), None)

    def candidate(self, achievement_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.achievement.achievement_id == achievement_id), None)

    def accepted_sides(self, achievement_id: str) -> set[Side]:
        return {side for aid, side in self.acceptances if aid == achievement_id}


def initial_state() -> DealState:
    return DealState()


def is_terminal(state: DealState) -> bool:
    return state.stage in TERMINAL_STAGES
