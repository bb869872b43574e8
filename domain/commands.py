"""Commands: what a broker, a manager, a partner or a timer asks of a deal.

Every command carries a client-chosen `command_id` (a repeated id returns the first answer and adds
nothing) and the `actor` who asks. `decide` turns a command into events or refuses it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from domain.actors import Actor
from domain.events import Candidate, DeclineReason, Instrument, Side
from domain.parties import Broker, Centre, Contract, Demand, Fen, Model, Terms
from domain.partners import AnswerPlan, PartnerAnswer, PartnerId, PartnerKind, RequestId, TechnologyContract
from domain.sla import DeadlinePlan, LadderStep

CommandId = Annotated[str, Field(min_length=1, max_length=128)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class CommandBase(Model):
    command_id: CommandId
    actor: Actor


class OpenDeal(CommandBase):
    type: Literal["OpenDeal"] = "OpenDeal"
    deal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    demand: Demand
    broker: Broker
    centre: Centre


class ValidateDemand(CommandBase):
    type: Literal["ValidateDemand"] = "ValidateDemand"
    note: str = ""


class ProposeCandidates(CommandBase):
    type: Literal["ProposeCandidates"] = "ProposeCandidates"
    candidates: tuple[Candidate, ...] = Field(min_length=1)
    source: str = "broker"


class ShortlistCandidate(CommandBase):
    type: Literal["ShortlistCandidate"] = "ShortlistCandidate"
    achievement_id: str


class RejectCandidate(CommandBase):
    type: Literal["RejectCandidate"] = "RejectCandidate"
    achievement_id: str
    reason: DeclineReason
    note: str = ""


class AcceptMatch(CommandBase):
    type: Literal["AcceptMatch"] = "AcceptMatch"
    achievement_id: str
    side: Side


class AgreeTerms(CommandBase):
    type: Literal["AgreeTerms"] = "AgreeTerms"
    terms: Terms


class FailNegotiation(CommandBase):
    type: Literal["FailNegotiation"] = "FailNegotiation"
    reason: DeclineReason
    note: str = ""


class RecordCommitment(CommandBase):
    type: Literal["RecordCommitment"] = "RecordCommitment"
    investor: str = Field(min_length=1)
    instrument: Instrument
    amount_fen: Fen


class WaiveFinancing(CommandBase):
    type: Literal["WaiveFinancing"] = "WaiveFinancing"
    reason: Reason


class SignContract(CommandBase):
    type: Literal["SignContract"] = "SignContract"
    contract: Contract


class RegisterContract(CommandBase):
    type: Literal["RegisterContract"] = "RegisterContract"
    registration_number: str = Field(min_length=1, max_length=64)


class WithdrawDeal(CommandBase):
    type: Literal["WithdrawDeal"] = "WithdrawDeal"
    reason: Reason


class ReassignBroker(CommandBase):
    type: Literal["ReassignBroker"] = "ReassignBroker"
    broker: Broker
    reason: Reason


class ExtendDeadline(CommandBase):
    type: Literal["ExtendDeadline"] = "ExtendDeadline"
    working_days: int = Field(ge=1, le=120)
    reason: Reason


class FireLadderStep(CommandBase):
    """Issued by the workflow's own timer when a step of the ladder falls due."""

    type: Literal["FireLadderStep"] = "FireLadderStep"
    step: LadderStep


class LapseDeal(CommandBase):
    """Issued by the workflow's own timer after the policy's period of inactivity."""

    type: Literal["LapseDeal"] = "LapseDeal"
    inactive_days: int = Field(ge=0)


# ----------------------------------------------------------------- partners (since PARTNERS_PATCH)


class ApplyForFinancing(CommandBase):
    """The broker sends a financing application to a bank, guarantee firm or fund (the workflow delivers it)."""

    type: Literal["ApplyForFinancing"] = "ApplyForFinancing"
    application_id: RequestId
    partner_id: PartnerId
    partner_kind: PartnerKind
    instrument: Instrument
    amount_fen: Fen
    note: str = Field(default="", max_length=2000)


class RecordDelivery(CommandBase):
    """Issued by the workflow with the outcome of delivering a request to its partner."""

    type: Literal["RecordDelivery"] = "RecordDelivery"
    request_id: str
    partner_reference: str | None = None
    status_code: int | None = None
    partner_message: str = ""


class RecordPartnerAnswer(CommandBase):
    """Issued by the workflow for a partner's answer signal (already authenticated by the web layer)."""

    type: Literal["RecordPartnerAnswer"] = "RecordPartnerAnswer"
    answer: PartnerAnswer


class ExpireCommitment(CommandBase):
    """Issued by the workflow's own timer when a commitment's expiry moment passes."""

    type: Literal["ExpireCommitment"] = "ExpireCommitment"
    request_id: str


class FirePartnerLadderStep(CommandBase):
    """Issued by the workflow's own timer when a step of a partner request's answer ladder falls due."""

    type: Literal["FirePartnerLadderStep"] = "FirePartnerLadderStep"
    request_id: str
    step: LadderStep


class SignTechnologyContract(CommandBase):
    type: Literal["SignTechnologyContract"] = "SignTechnologyContract"
    contract: TechnologyContract


class SubmitRegistration(CommandBase):
    """The broker submits the signed contract for registration (认定登记); again after a correction request."""

    type: Literal["SubmitRegistration"] = "SubmitRegistration"
    submission_id: RequestId
    partner_id: PartnerId


Command = Annotated[
    OpenDeal
    | ValidateDemand
    | ProposeCandidates
    | ShortlistCandidate
    | RejectCandidate
    | AcceptMatch
    | AgreeTerms
    | FailNegotiation
    | RecordCommitment
    | WaiveFinancing
    | SignContract
    | RegisterContract
    | WithdrawDeal
    | ReassignBroker
    | ExtendDeadline
    | FireLadderStep
    | LapseDeal
    | ApplyForFinancing
    | RecordDelivery
    | RecordPartnerAnswer
    | ExpireCommitment
    | FirePartnerLadderStep
    | SignTechnologyContract
    | SubmitRegistration,
    Field(discriminator="type"),
]


class Context(Model):
    """What `decide` needs from outside the deal: the workflow's clock and, for a new stage, its plan."""

    now: datetime
    plan: DeadlinePlan | None = None
    answer_plan: AnswerPlan | None = None  # for a new partner request: its answer deadline, from the rules
