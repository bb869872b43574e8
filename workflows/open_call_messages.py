"""The one-object inputs and outputs of OpenCallWorkflow's run, update and queries (shared with clients)."""

from __future__ import annotations

from domain.open_call import OpenCallCommand, OpenCallEvent, OpenCallStatus, PublishOpenCall
from domain.parties import Model

OPEN_CALL_WORKFLOW = "OpenCallWorkflow"
OPEN_CALL_EXECUTE = "execute"
OPEN_CALL_STATE_QUERY = "state"
OPEN_CALL_EVENTS_QUERY = "events"


def open_call_workflow_id(open_call_id: str) -> str:
    return f"open-call-{open_call_id}"


class OpenCallInput(Model):
    publish: PublishOpenCall


class OpenCallRequest(Model):
    command: OpenCallCommand


class OpenCallAnswer(Model):
    """What a command got: the events it added (for a repeated command id, the first answer's)."""

    command_id: str
    seq: int
    status: OpenCallStatus
    events: tuple[OpenCallEvent, ...]


class OpenCallOutcome(Model):
    open_call_id: str
    status: OpenCallStatus
    winner_bid_id: str | None
    seq: int
