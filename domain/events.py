"""Domain events: the deal's truth. An `Event` is an envelope (deal, seq, time, actor) around a typed payload."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from domain.actors import Actor
from domain.parties import AchievementRef, Broker, Centre, Contract, Demand, Fen, Model, Terms
from domain.partners import Decision, PartnerKind, TechnologyContract
from domain.partners import Instrument as Instrument  # re-exported: older modules import it from here
from domain.sla import DeadlinePlan, LadderStep
from domain.stages import Stage


class DeclineReason(StrEnum):
    """Why a candidate or a negotiation was declined; kept per achievement for its N centre."""

    TOO_EARLY_STAGE = "too_early_stage"  # 技术成熟度不够
    BENEFIT_UNCLEAR = "benefit_unclear"  # 相对现有方案的效益不明确
    COMMERCIAL_ROUTE_UNCLEAR = "commercial_route_unclear"  # 商业化路径不清
    PRICE = "price"  # 价格不合适
    IP_UNCLEAR = "ip_unclear"  # 知识产权状况不清
    TOO_VAGUE = "too_vague"  # 描述过于笼统
    OTHER = "other"


class Side(StrEnum):
    ENTERPRISE = "enterprise"  # the demand side
    OWNER = "owner"  # the achievement's owning institution


class Candidate(Model):
    achievement: AchievementRef
    score: float = Field(ge=0)
    reasons: tuple[str, ...] = ()


class DealOpened(Model):
    type: Literal["DealOpened"] = "DealOpened"
    demand: Demand
    broker: Broker
    centre: Centre


class StageEntered(Model):
    type: Literal["StageEntered"] = "StageEntered"
    stage: Stage
    previous: Stage | None
    plan: DeadlinePlan | None = Field(description="due moments of the new stage; None for terminal stages")


class DemandValidated(Model):
    type: Literal["DemandValidated"] = "DemandValidated"
    note: str = ""


class CandidatesProposed(Model):
    type: Literal["CandidatesProposed"] = "CandidatesProposed"
    candidates: tuple[Candidate, ...]
    source: str = Field(description="where the list came from: the matching index version or 'broker'")


class CandidateShortlisted(Model):
    type: Literal["CandidateShortlisted"] = "CandidateShortlisted"
    achievement_id: str


class CandidateRejected(Model):
    type: Literal["CandidateRejected"] = "CandidateRejected"
    achievement_id: str
    reason: DeclineReason
    note: str = ""


class MatchAccepted(Model):
    type: Literal["MatchAccepted"] = "MatchAccepted"
    achievement_id: str
    side: Side


class TermsAgreed(Model):
    type: Literal["TermsAgreed"] = "TermsAgreed"
    terms: Terms


class NegotiationFailed(Model):
    type: Literal["NegotiationFailed"] = "NegotiationFailed"
    achievement_id: str
    reason: DeclineReason
    note: str = ""


class FinancingCommitted(Model):
    type: Literal["FinancingCommitted"] = "FinancingCommitted"
    investor: str = Field(min_length=1)
    instrument: Instrument
    amount_fen: Fen


class FinancingWaived(Model):
    type: Literal["FinancingWaived"] = "FinancingWaived"
    reason: str


class ContractSigned(Model):
    type: Literal["ContractSigned"] = "ContractSigned"
    contract: Contract


class ContractRegistered(Model):
    type: Literal["ContractRegistered"] = "ContractRegistered"
    registration_number: str


class DealWithdrawn(Model):
    type: Literal["DealWithdrawn"] = "DealWithdrawn"
    reason: str


class DealLapsed(Model):
    type: Literal["DealLapsed"] = "DealLapsed"
    inactive_days: int
    policy_version: str


class BrokerReassigned(Model):
    type: Literal["BrokerReassigned"] = "BrokerReassigned"
    previous_broker_id: str
    broker: Broker
    reason: str


class DeadlineExtended(Model):
    type: Literal["DeadlineExtended"] = "DeadlineExtended"
    working_days: int
    reason: str
    plan: DeadlinePlan | None = Field(description="the stage's plan with the extension; remaining steps move")


class ReminderSent(Model):
    type: Literal["ReminderSent"] = "ReminderSent"
    stage: Stage
    step: LadderStep
    recipient_id: str


class Escalated(Model):
    type: Literal["Escalated"] = "Escalated"
    stage: Stage
    step: LadderStep
    level: Literal[1, 2]
    recipient_centre_id: str


# ----------------------------------------------------------------- partners (since PARTNERS_PATCH)


class FinancingApplied(Model):
    """The broker applied to an investor; the answer deadline (working days, from the rules) is recorded here."""

    type: Literal["FinancingApplied"] = "FinancingApplied"
    application_id: str
    partner_id: str
    partner_kind: PartnerKind
    instrument: Instrument
    amount_fen: Fen
    note: str = ""
    answer_plan: DeadlinePlan | None
    rules_version: str | None


class PartnerRequestDelivered(Model):
    type: Literal["PartnerRequestDelivered"] = "PartnerRequestDelivered"
    request_id: str
    partner_reference: str


class PartnerRequestRefused(Model):
    """The partner refused the request itself (HTTP 4xx, or unreachable past the retry budget); its words kept."""

    type: Literal["PartnerRequestRefused"] = "PartnerRequestRefused"
    request_id: str
    status_code: int | None
    partner_message: str


class CommitmentRecorded(Model):
    type: Literal["CommitmentRecorded"] = "CommitmentRecorded"
    request_id: str
    answer_id: str
    partner_id: str
    instrument: Instrument
    amount_fen: Fen
    conditions: str = ""
    expires_at: datetime | None = None


class FinancingDeclined(Model):
    type: Literal["FinancingDeclined"] = "FinancingDeclined"
    request_id: str
    answer_id: str
    partner_id: str
    message: str = ""


class CommitmentWithdrawn(Model):
    type: Literal["CommitmentWithdrawn"] = "CommitmentWithdrawn"
    request_id: str
    answer_id: str
    partner_id: str
    amount_fen: Fen
    message: str = ""


class CommitmentExpired(Model):
    type: Literal["CommitmentExpired"] = "CommitmentExpired"
    request_id: str
    partner_id: str
    amount_fen: Fen
    expired_at: datetime


class PartnerAnswerOverdue(Model):
    """A step of a partner request's own reminder/escalation ladder (same percentages and levels as a stage)."""

    type: Literal["PartnerAnswerOverdue"] = "PartnerAnswerOverdue"
    request_id: str
    partner_id: str
    step: LadderStep
    level: Literal[0, 1, 2]
    recipient_id: str = Field(description="the broker for reminders, else the centre or the hub")


class TechnologyContractSigned(Model):
    """The full contract (parties, codes, both values, schedule, both signatures); ContractSigned stays the short one."""

    type: Literal["TechnologyContractSigned"] = "TechnologyContractSigned"
    contract: TechnologyContract


class RegistrationSubmitted(Model):
    type: Literal["RegistrationSubmitted"] = "RegistrationSubmitted"
    submission_id: str
    partner_id: str
    contract_no: str
    total_value_fen: Fen
    expert_review: bool = Field(description="the contract's value is at or above the rules' expert-review threshold")
    resubmission: bool = Field(description="after a correction request: the office's clock restarts here")
    answer_plan: DeadlinePlan | None
    rules_version: str | None


class RegistrationCorrectionRequested(Model):
    type: Literal["RegistrationCorrectionRequested"] = "RegistrationCorrectionRequested"
    submission_id: str
    answer_id: str
    reason_codes: tuple[str, ...]
    message: str = ""


class RegistrationRefused(Model):
    type: Literal["RegistrationRefused"] = "RegistrationRefused"
    submission_id: str
    answer_id: str
    reason_codes: tuple[str, ...]
    message: str = ""


class ContractRegistrationRecorded(Model):
    """The office registered the contract (followed by ContractRegistered and StageEntered SIGNED)."""

    type: Literal["ContractRegistrationRecorded"] = "ContractRegistrationRecorded"
    submission_id: str
    answer_id: str
    decision: Decision = Decision.REGISTERED


EventPayload = Annotated[
    DealOpened
    | StageEntered
    | DemandValidated
    | CandidatesProposed
    | CandidateShortlisted
    | CandidateRejected
    | MatchAccepted
    | TermsAgreed
    | NegotiationFailed
    | FinancingCommitted
    | FinancingWaived
    | ContractSigned
    | ContractRegistered
    | DealWithdrawn
    | DealLapsed
    | BrokerReassigned
    | DeadlineExtended
    | ReminderSent
    | Escalated
    | FinancingApplied
    | PartnerRequestDelivered
    | PartnerRequestRefused
    | CommitmentRecorded
    | FinancingDeclined
    | CommitmentWithdrawn
    | CommitmentExpired
    | PartnerAnswerOverdue
    | TechnologyContractSigned
    | RegistrationSubmitted
    | RegistrationCorrectionRequested
    | RegistrationRefused
    | ContractRegistrationRecorded,
    Field(discriminator="type"),
]


class Event(Model):
    deal_id: str
    seq: int = Field(ge=1)
    occurred_at: datetime = Field(description="workflow time, UTC")
    actor: Actor
    command_id: str | None = Field(default=None, description="the command that caused it; None for timers")
    payload: EventPayload

    @property
    def type(self) -> str:
        return self.payload.type

    def canonical_json(self) -> str:
        """The bytes the hash chain covers: sorted keys, no spaces, UTF-8 kept as is."""
        return canonical_json(self.model_dump(mode="json"))


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
