"""The JSON API under /api/ (bearer token per user): the inbox, a deal, and sending commands."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from domain.events import Event
from domain.projection import DealSummary
from domain.stages import Stage
from domain.state import DealState
from web import deals
from web.auth import api_user, services
from web.deals import InboxItem, Services
from web.timeline import what, what_en, who, who_en
from web.users import User
from workflows.messages import Answer

router = APIRouter(prefix="/api", tags=["deals"])
ApiUser = Annotated[User, Depends(api_user)]
Svc = Annotated[Services, Depends(services)]


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    centre_id: str | None


class TimelineEntry(BaseModel):
    event: Event
    who: str = Field(description="who acted, in Chinese")
    what: str = Field(description="what happened, in Chinese (the record's language)")
    who_en: str = Field(description="who acted, in English")
    what_en: str = Field(description="what happened, in English; typed texts and partners' messages stay as written")


class DealDetail(BaseModel):
    deal: DealSummary
    state: DealState
    timeline: list[TimelineEntry]
    allowed_commands: list[str] = Field(description="commands the caller may send now (payload checks still apply)")
    workflow_url: str | None


class CommandBody(BaseModel):
    type: str = Field(description="a command type of domain/commands.py, e.g. ValidateDemand")
    payload: dict[str, Any] = Field(default_factory=dict, description="the command's fields, money in fen")
    command_id: str | None = Field(default=None, description="repeat it to retry safely: the first answer is returned")


class Refusal(BaseModel):
    code: str
    message: str


@router.get("/me")
def me(user: ApiUser) -> Me:
    return Me(username=user.username, display_name=user.display_name, role=user.role.value, centre_id=user.centre_id)


@router.get("/deals", responses={422: {"model": Refusal}})
def list_deals(
    user: ApiUser,
    svc: Svc,
    stage: Stage | None = None,
    industry: str | None = Query(None, description="GB/T 4754 code or its start, e.g. C34"),
    region: str | None = Query(None, description="GB/T 2260 code; 360800 covers 3608xx"),
    due_by: str | None = Query(None, description="stage due on or before this date (YYYY-MM-DD, Beijing)"),
    sort: str | None = Query(None, description="due | due_desc | entered | activity | deal"),
) -> list[InboxItem]:
    """The caller's inbox: the deals they may see, soonest stage deadline first unless sorted otherwise."""
    wanted, errors = deals.parse_filter(stage, industry, region, due_by, sort)
    if errors:
        raise HTTPException(422, "；".join(e.message for e in errors))
    now = datetime.now(UTC)
    return [deals.inbox_item(d, now) for d in deals.inbox(svc, user.actor, wanted)]


@router.get("/deals/{deal_id}", responses={404: {"model": Refusal}})
async def get_deal(deal_id: str, user: ApiUser, svc: Svc) -> DealDetail:
    view = await deals.deal_view(svc, user.actor, deal_id)
    timeline = [TimelineEntry(event=e, who=who(e), what=what(e), who_en=who_en(e), what_en=what_en(e)) for e in view.events]
    return DealDetail(
        deal=view.summary, state=view.state, timeline=timeline, allowed_commands=view.allowed, workflow_url=view.workflow_url
    )


@router.post("/deals/{deal_id}/commands", responses={403: {"model": Refusal}, 404: {"model": Refusal}, 422: {"model": Refusal}})
async def send_command(deal_id: str, body: CommandBody, user: ApiUser, svc: Svc) -> Answer:
    """Send a command as the caller; a refusal answers the domain's code and message, and nothing is recorded."""
    return await deals.act(svc, user.actor, deal_id, body.type, body.payload, body.command_id)
