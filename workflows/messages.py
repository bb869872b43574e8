"""The one-object inputs and outputs of DealWorkflow's run, updates and queries (shared with clients)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from domain.actors import Actor
from domain.commands import Command, OpenDeal
from domain.events import Event
from domain.parties import Model
from domain.partners import PartnerAnswer
from domain.stages import Stage
from domain.state import DealState

WORKFLOW_NAME = "DealWorkflow"
EXECUTE_UPDATE = "execute"
STATE_QUERY = "state"
EVENTS_QUERY = "events"
ALLOWED_QUERY = "allowed_commands"
PARTNER_ANSWER_SIGNAL = "partner_answer"


def workflow_id(deal_id: str) -> str:
    return f"deal-{deal_id}"


class Answer(Model):
    """What a command got: the events it added (empty only for a repeated command id's first answer)."""

    command_id: str
    seq: int
    stage: Stage
    events: tuple[Event, ...]


class Carry(Model):
    """Everything handed across continue-as-new."""

    state: DealState
    answers: tuple[Answer, ...] = ()  # recent answers, for idempotent retries of command ids
    recent_events: tuple[Event, ...] = ()
    matched_for: datetime | None = None  # the MATCHING stage entry the matching engine already ran for
    inbox: tuple[PartnerAnswer, ...] = ()  # partner answers signalled but not yet recorded


class DealInput(Model):
    open: OpenDeal | None = None  # the first run opens the deal
    carry: Carry | None = None  # later runs continue from here
    max_events_per_run: int = Field(default=0, ge=0, description="0: continue-as-new only when Temporal suggests it")
    upsert_search_attributes: bool = True


class CommandRequest(Model):
    command: Command


class EventsRequest(Model):
    since_seq: int = Field(default=0, ge=0)


class EventsPage(Model):
    """Events after `since_seq` that the workflow still holds; older ones are in the archive."""

    events: tuple[Event, ...]
    first_held_seq: int


class AllowedRequest(Model):
    actor: Actor | None = None


class PartnerAnswerSignal(Model):
    """A partner's answer, sent by the web layer after it checked the callback's signature, window and nonce."""

    answer: PartnerAnswer


class DealOutcome(Model):
    deal_id: str
    stage: Stage
    seq: int
