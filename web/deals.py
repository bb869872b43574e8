"""What the pages and the API do with deals, once: list what an actor may see, show a deal, send a command."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

import starter
from domain.actors import Actor
from domain.decider import allowed_commands, fold
from domain.events import Event
from domain.projection import DealSummary
from domain.stages import Stage
from domain.state import DealState
from store.inbox import SORTS, DealFilter, find_deals
from store.inbox import visible_deal as visible_row
from store.queries import events_of
from web.config import WebConfig
from web.format import COMMAND_NAMES_ZH, NEXT_ACTION_ZH, SHANGHAI, deadline_badge, stage_zh, working_days_left, zh_date
from web.refusals import Refusal
from web.scope import scope_of
from workflows.messages import Answer, workflow_id

INBOX_LIMIT = 200


class DealNotVisible(Exception):
    """The deal does not exist or the actor may not see it (answered alike, so ids cannot be probed)."""


class Forbidden(Exception):
    """The actor may see the deal but not do this; `message` (Chinese) says why, `code` which rule said no."""

    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Services:
    """What every route needs, built once per app."""

    sessions: sessionmaker[Session]
    client: Client
    config: WebConfig


@dataclass(frozen=True)
class DealView:
    summary: DealSummary
    state: DealState
    events: list[Event]
    allowed: list[str]
    workflow_url: str | None


def inbox(services: Services, actor: Actor, wanted: DealFilter | None = None, limit: int = INBOX_LIMIT) -> list[DealSummary]:
    """The deals `actor` may see that match `wanted`, soonest stage deadline first unless sorted otherwise."""
    scope = scope_of(actor)
    if scope.nothing:
        return []
    with services.sessions() as session:
        return find_deals(session, scope.conditions(), wanted or DealFilter(), limit)


def visible_deal(services: Services, actor: Actor, deal_id: str) -> DealSummary:
    with services.sessions() as session:
        summary = visible_row(session, scope_of(actor).conditions(), deal_id)
    if summary is None:
        raise DealNotVisible(deal_id)
    return summary


def archived_state(services: Services, deal_id: str) -> tuple[DealState, list[Event]]:
    """The deal's state folded from its archived events, and the events.

    The archive holds every event the workflow has (a command is answered only after its events are archived),
    so the fold equals the workflow's state without a query to Temporal: a page view or an action costs one
    database read instead of a round trip through the server to the worker.
    """
    with services.sessions() as session:
        events = events_of(session, deal_id)
    return fold(events), events


async def deal_view(services: Services, actor: Actor, deal_id: str) -> DealView:
    """The deal as its page shows it: read model, state (for the forms) and timeline from the archive."""
    summary = visible_deal(services, actor, deal_id)
    state, events = archived_state(services, deal_id)
    return DealView(summary, state, events, allowed_commands(state, actor), services.config.workflow_url(workflow_id(deal_id)))


async def act(
    services: Services,
    actor: Actor,
    deal_id: str,
    command_type: str,
    payload: dict[str, Any],
    command_id: str | None = None,
    state: DealState | None = None,
) -> Answer:
    """Send a command to the deal's workflow as `actor`; refusals raise Forbidden or starter.CommandRejected.

    `state` is the deal's state when the caller has just read it (the page needs it to read the form), so an
    action reads it once; the workflow's own `decide` checks the command again against its live state anyway.
    """
    if state is None:
        visible_deal(services, actor, deal_id)
        state, _ = archived_state(services, deal_id)
    # Offered to someone now but not to this actor: the domain's authorization says no, so refuse before sending.
    if command_type in allowed_commands(state) and command_type not in allowed_commands(state, actor):
        name = COMMAND_NAMES_ZH.get(command_type, command_type)
        raise Forbidden(f"您（{actor.id}）无权对案件 {deal_id} 执行「{name}」", code="not_offered_to_you")
    command = starter.parse_command(command_type, payload, actor, command_id)
    try:
        return await starter.send_command(services.client, deal_id, command)
    except starter.CommandRejected as e:
        if e.code == "forbidden":
            raise Forbidden(e.message) from e
        raise


class InboxItem(BaseModel):
    """A deal as the inbox lists it: the read-model row plus what a person reads at a glance."""

    deal: DealSummary
    stage_name: str
    working_days_left: int | None = Field(description="working days to the stage's due date; negative when overdue")
    due_date: str | None = Field(description="the stage's due date, e.g. 2026年3月5日")
    badge: str | None = Field(description="overdue | escalated | None")
    badge_text: str | None
    next_action: str | None


def inbox_item(deal: DealSummary, now: datetime) -> InboxItem:
    badge = deadline_badge(deal, now)
    return InboxItem(
        deal=deal,
        stage_name=stage_zh(deal.stage),
        working_days_left=working_days_left(deal.stage_due_at, now) if deal.stage_due_at else None,
        due_date=zh_date(deal.stage_due_at) if deal.stage_due_at else None,
        badge=badge[0] if badge else None,
        badge_text=badge[1] if badge else None,
        next_action=NEXT_ACTION_ZH.get(deal.stage),
    )


INDUSTRY_CODE = re.compile(r"[A-T](\d{2}){0,2}\d?")
REGION_CODE = re.compile(r"\d{2}(\d{2}){0,2}")


def parse_filter(
    stage: str | None, industry: str | None, region: str | None, due_by: str | None, sort: str | None
) -> tuple[DealFilter, list[Refusal]]:
    """The inbox filter from its query parameters; each bad value is dropped and named in a Chinese message."""
    errors: list[Refusal] = []
    wanted: dict[str, Any] = {}
    if stage:
        try:
            wanted["stage"] = Stage(stage)
        except ValueError:
            errors.append(Refusal("bad_stage", f"阶段「{stage}」不存在；可选：{'、'.join(s.value for s in Stage)}"))
    if industry and industry.strip():
        code = industry.strip().upper()
        if INDUSTRY_CODE.fullmatch(code):
            wanted["industry"] = code
        else:
            errors.append(
                Refusal("bad_industry", f"行业代码「{industry}」无效：请填写国民经济行业分类代码或其开头，如 C、C34、C3425")
            )
    if region and region.strip():
        code = region.strip()
        if REGION_CODE.fullmatch(code):
            while len(code) > 2 and code.endswith("00"):  # 360800 (吉安市) covers its counties 3608xx
                code = code[:-2]
            wanted["region"] = code
        else:
            errors.append(Refusal("bad_region", f"地区代码「{region}」无效：请填写 2、4 或 6 位行政区划代码，如 3608 或 360802"))
    if due_by:
        try:
            day = date.fromisoformat(due_by)
            # "Due by 5 March" keeps deals due any time on 5 March, Beijing time.
            wanted["due_before"] = datetime.combine(day + timedelta(days=1), time(), SHANGHAI)
        except ValueError:
            errors.append(Refusal("bad_due_by", f"期限日期「{due_by}」无效：请按 2026-03-05 的格式填写"))
    if sort:
        if sort in SORTS:
            wanted["sort"] = sort
        else:
            errors.append(Refusal("bad_sort", f"排序方式「{sort}」无效；可选：{'、'.join(SORTS)}"))
    return DealFilter(**wanted), errors


def new_command_id() -> str:
    """A command id for a form, so resending the same form is answered once (the workflow dedupes by id)."""
    return f"web-{uuid.uuid4()}"
