"""JSON API of open calls (揭榜挂帅) and of the declines an N centre's achievements received.

Open calls are public to every signed-in user (institutions must find them to bid), but a bid is seen only by
the deal's side (its broker, its centre's managers, the hub, auditors) and by the bidder's own centre. Acting is
the domain's business (`domain.open_call.decide`), checked again by the workflow; seeing is decided here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import AwareDatetime, BaseModel, Field

import starter
from domain.actors import Actor, Role
from domain.open_call import (
    BidSubmitted,
    CloseOpenCall,
    InstitutionKind,
    OpenCallCommand,
    OpenCallEvent,
    OpenCallState,
    SelectWinner,
    SolverQualifications,
    SubmitBid,
)
from kuayue import open_calls
from registry.declines import REASON_LABELS, decline_reasons, list_declines
from store.open_calls import OpenCallRow, list_open_calls
from web import deals
from web.auth import api_user, services
from web.deals import Forbidden, Services
from web.scope import check_declines_visible, check_may_bid
from web.users import User
from workflows.open_call_messages import OpenCallAnswer

router = APIRouter(prefix="/api", tags=["open calls", "declines"])
ApiUser = Annotated[User, Depends(api_user)]
Svc = Annotated[Services, Depends(services)]


class PublishBody(BaseModel):
    open_call_id: str | None = Field(default=None, description="default: OC-<deal id>")
    deadline: AwareDatetime = Field(description="with its offset, e.g. 2026-12-31T17:00:00+08:00")
    qualifications: SolverQualifications


class BidBody(BaseModel):
    achievement_id: str = Field(description="a registered achievement of the caller's centre (登记号)")
    institution_kind: InstitutionKind
    proposal: str = Field(min_length=1, max_length=2000)
    price_fen: int | None = Field(default=None, ge=0, description="default: the registry's asking price")
    command_id: str | None = None


class CloseBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class SelectBody(BaseModel):
    bid_id: str
    note: str = ""
    command_id: str | None = None


class OpenCallView(BaseModel):
    state: OpenCallState
    events: list[OpenCallEvent]
    all_bids_visible: bool = Field(description="false: only the caller's centre's bids are shown")


class DeclineReasonCount(BaseModel):
    reason: str
    label: str
    count: int


class DeclineEntry(BaseModel):
    achievement_id: str
    deal_id: str
    seq: int
    reason: str
    label: str
    note: str
    declined_at: datetime


class CentreDeclines(BaseModel):
    centre_id: str
    reasons: list[DeclineReasonCount]
    declines: list[DeclineEntry]


def _deal_side(actor: Actor, state: OpenCallState) -> bool:
    """Whether `actor` sees every bid: the read scope of the call's deal (web.scope), as recorded at publishing."""
    match actor.role:
        case Role.HUB_ADMIN | Role.AUDITOR:
            return True
        case Role.MANAGER:
            return actor.centre_id == state.centre_id
        case Role.BROKER:
            return actor.id == state.broker_id
    return False


def visible_view(actor: Actor, state: OpenCallState, events: list[OpenCallEvent]) -> OpenCallView:
    if _deal_side(actor, state):
        return OpenCallView(state=state, events=events, all_bids_visible=True)
    mine = {b.bid_id for b in state.bids if actor.centre_id and b.bid.achievement.institution.centre_id == actor.centre_id}
    shown = [e for e in events if not isinstance(e.payload, BidSubmitted) or e.payload.bid_id in mine]
    state = state.model_copy(update={"bids": tuple(b for b in state.bids if b.bid_id in mine)})
    return OpenCallView(state=state, events=shown, all_bids_visible=False)


async def send(svc: Services, open_call_id: str, command: OpenCallCommand) -> OpenCallAnswer:
    try:
        return await open_calls.send(svc.client, open_call_id, command)
    except starter.CommandRejected as e:
        if e.code == "forbidden":
            raise Forbidden(e.message) from e
        if e.code == "unknown_open_call":
            raise HTTPException(404, e.message) from e
        raise


@router.post("/deals/{deal_id}/open-calls", status_code=201)
async def publish(deal_id: str, body: PublishBody, user: ApiUser, svc: Svc) -> OpenCallView:
    """Publish the deal's demand as an open call (the deal's broker, a manager of its centre, or the hub)."""
    deals.visible_deal(svc, user.actor, deal_id)
    call_id = body.open_call_id or f"OC-{deal_id}"
    try:
        state = await open_calls.publish(svc.client, None, user.actor, deal_id, call_id, body.deadline, body.qualifications)
    except starter.CommandRejected as e:
        if e.code == "forbidden":
            raise Forbidden(e.message) from e
        raise
    return visible_view(user.actor, state, await open_calls.open_call_events(svc.client, call_id))


@router.get("/open-calls")
def list_calls(user: ApiUser, svc: Svc, status: str | None = None) -> list[OpenCallRow]:
    """Open calls, soonest deadline first (status: open, closed, awarded)."""
    with svc.sessions() as session:
        return list_open_calls(session, status=status)


@router.get("/open-calls/{open_call_id}")
async def show(open_call_id: str, user: ApiUser, svc: Svc) -> OpenCallView:
    try:
        state = await open_calls.visible_state(svc.client, open_call_id)
    except starter.CommandRejected as e:
        raise HTTPException(404, e.message) from e
    return visible_view(user.actor, state, await open_calls.open_call_events(svc.client, open_call_id))


@router.post("/open-calls/{open_call_id}/bids")
async def bid(open_call_id: str, body: BidBody, user: ApiUser, svc: Svc) -> OpenCallAnswer:
    """Bid with a registered achievement of the caller's centre; late or unqualified bids are refused, recording nothing."""
    check_may_bid(user.actor)
    offer = open_calls.bid_for(svc.sessions, body.achievement_id, body.institution_kind, body.proposal, body.price_fen)
    command = SubmitBid(command_id=body.command_id or f"api-{uuid.uuid4()}", actor=user.actor, bid=offer)
    return await send(svc, open_call_id, command)


@router.post("/open-calls/{open_call_id}/close")
async def close(open_call_id: str, body: CloseBody, user: ApiUser, svc: Svc) -> OpenCallAnswer:
    """Close the call before its deadline (the enterprise's side, with a reason)."""
    return await send(svc, open_call_id, CloseOpenCall(command_id=f"api-{uuid.uuid4()}", actor=user.actor, reason=body.reason))


@router.post("/open-calls/{open_call_id}/selection")
async def select(open_call_id: str, body: SelectBody, user: ApiUser, svc: Svc) -> OpenCallAnswer:
    """Select the winning bid after the deadline; it becomes the deal's accepted match, or nothing changes."""
    command = SelectWinner(
        command_id=body.command_id or f"api-{uuid.uuid4()}", actor=user.actor, bid_id=body.bid_id, note=body.note
    )
    return await send(svc, open_call_id, command)


@router.get("/centres/{centre_id}/declines")
def centre_declines(centre_id: str, user: ApiUser, svc: Svc) -> CentreDeclines:
    """Why an N centre's achievements are passed over: the hub and auditors see every centre, a manager their own."""
    check_declines_visible(user.actor, centre_id)
    with svc.sessions() as session:
        counts = decline_reasons(session, centre_id=centre_id)
        rows = list_declines(session, centre_id=centre_id)
    return CentreDeclines(
        centre_id=centre_id,
        reasons=[DeclineReasonCount(reason=r.reason.value, label=r.label, count=r.count) for r in counts],
        declines=[
            DeclineEntry(
                achievement_id=d.achievement_id,
                deal_id=d.deal_id,
                seq=d.seq,
                reason=d.reason.value,
                label=REASON_LABELS[d.reason],
                note=d.note,
                declined_at=d.declined_at,
            )
            for d in rows
        ],
    )
