"""The open-call pages (揭榜挂帅): the list, a call's page with its bids and forms, and publishing from a deal's page.

Who sees which bids is the JSON API's rule (`web.api_open_calls.visible_view`); who may act is the domain's
(`domain.open_call.decide`, checked again by the call's workflow). A refusal shows the domain's message next to
its form with what was typed kept and records nothing; a forbidden one answers 403.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

import starter
from domain.actors import Actor, Role
from domain.errors import DomainError
from domain.open_call import (
    KIND_ZH,
    STATUS_ZH,
    CloseOpenCall,
    InstitutionKind,
    OpenCallStatus,
    SelectWinner,
    SolverQualifications,
    SubmitBid,
    authorize_enterprise_side,
)
from domain.parties import FEN_PER_WAN
from kuayue import open_calls
from store.models import AchievementRecord
from store.open_calls import list_open_calls
from web import deals
from web.api_open_calls import send, visible_view
from web.auth import check_csrf, page_user, services
from web.deals import Forbidden, Services
from web.format import JIANGXI_CITIES, SHANGHAI, code_names
from web.refusals import PageError, Refusal
from web.rendering import render
from web.scope import check_may_bid
from web.users import User

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]
Svc = Annotated[Services, Depends(services)]
STATUSES = tuple((s.value, name) for s, name in STATUS_ZH.items() if s != OpenCallStatus.DRAFT)
KINDS = tuple((k.value, name) for k, name in KIND_ZH.items())


def publish_regions() -> list[tuple[str, str]]:
    names = code_names()["regions"]
    return [("360000", "江西省")] + [(c, names.get(c, c)) for c in JIANGXI_CITIES]


def enterprise_side(actor: Actor, broker_id: str, centre_id: str) -> bool:
    """The deal's own roles (its broker, its centre's managers, the hub): who publishes, closes and selects.
    The domain's rule, asked so the page offers its forms only to them."""
    try:
        authorize_enterprise_side(actor, "", broker_id, centre_id, "")
    except DomainError:
        return False
    return True


@router.get("/open-calls", response_class=HTMLResponse)
def open_calls_page(request: Request, user: SignedIn, svc: Svc, status: str | None = None) -> Response:
    error = None
    if status and status not in {v for v, _ in STATUSES}:
        error = Refusal("bad_status", f"状态「{status[:20]}」不存在；可选：{'、'.join(v for v, _ in STATUSES)}")
        status = None
    with svc.sessions() as session:
        rows = list_open_calls(session, status=status or None)
    context = {
        "me": user,
        "rows": rows,
        "status": status or "",
        "statuses": STATUSES,
        "status_zh": dict(STATUSES),
        "error": error,
    }
    return render(request, "open_calls.html", context, status_code=422 if error else 200)


@router.get("/open-calls/{open_call_id}", response_class=HTMLResponse)
async def open_call_page(request: Request, open_call_id: str, user: SignedIn, svc: Svc, done: str | None = None) -> Response:
    return await _call_page(request, user, svc, open_call_id, done=done)


async def _call_page(
    request: Request,
    user: User,
    svc: Services,
    open_call_id: str,
    *,
    done: str | None = None,
    error: tuple[str, Refusal] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        state = await open_calls.visible_state(svc.client, open_call_id)
    except starter.CommandRejected as e:
        raise PageError(404, e.code, e.message) from e
    view = visible_view(user.actor, state, await open_calls.open_call_events(svc.client, open_call_id))
    side = enterprise_side(user.actor, state.broker_id, state.centre_id)
    mine = _own_achievements(svc, user) if state.status == OpenCallStatus.OPEN else []
    context = {
        "me": user,
        "call": view.state,
        "all_bids_visible": view.all_bids_visible,
        "status_zh": STATUS_ZH[state.status],
        "kinds_zh": {k.value: v for k, v in KIND_ZH.items()},
        "region_names": code_names()["regions"],
        "may_close": side and state.status == OpenCallStatus.OPEN,
        "may_select": side and state.status == OpenCallStatus.CLOSED and bool(view.state.bids),
        "may_bid": bool(mine),
        "own_achievements": mine,
        "kinds": KINDS,
        "done": done,
        "error": error,
        "typed": typed or {},
        "command_id": f"web-{uuid.uuid4()}",
    }
    return render(request, "open_call.html", context, status_code=status_code)


def _own_achievements(svc: Services, user: User) -> list[tuple[str, str]]:
    """The registered achievements of the user's centre: what its staff may bid with (auditors bid nothing)."""
    if user.role not in (Role.BROKER, Role.MANAGER) or not user.centre_id:
        return []
    with svc.sessions() as session:
        rows = session.execute(
            select(AchievementRecord.achievement_id, AchievementRecord.title)
            .where(AchievementRecord.centre_id == user.centre_id)
            .order_by(AchievementRecord.achievement_id)
        )
        return [(a, t) for a, t in rows]


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}


def _authorize(actor: Actor, deal_id: str, broker_id: str, centre_id: str, what: str) -> None:
    """The domain's rule for the enterprise side, checked before the form is read: a forbidden request is 403,
    whatever it carries."""
    try:
        authorize_enterprise_side(actor, deal_id, broker_id, centre_id, what)
    except DomainError as e:
        raise Forbidden(e.message) from e


async def _authorize_on_call(svc: Services, user: User, open_call_id: str, what: str) -> None:
    try:
        state = await open_calls.visible_state(svc.client, open_call_id)
    except starter.CommandRejected as e:
        raise PageError(404, e.code, e.message) from e
    _authorize(user.actor, state.deal_id, state.broker_id, state.centre_id, what)


@router.post("/open-calls/{open_call_id}/bids", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def bid(request: Request, open_call_id: str, user: SignedIn, svc: Svc) -> Response:
    check_may_bid(user.actor)
    form = await _form(request)
    try:
        kind = _choice(form.get("institution_kind", ""), InstitutionKind, "单位类型", KIND_ZH)
        price = _wan(form.get("price_wan", ""))
        proposal = form.get("proposal", "").strip()
        if not proposal or len(proposal) > 2000:
            raise starter.CommandRejected("invalid_bid", "揭榜方案须为 1 到 2000 字；请写明成果如何达到需求的指标")
        offer = open_calls.bid_for(svc.sessions, form.get("achievement_id", ""), kind, proposal, price)
        command = SubmitBid(command_id=form.get("command_id") or f"web-{uuid.uuid4()}", actor=user.actor, bid=offer)
        await send(svc, open_call_id, command)
    except starter.CommandRejected as e:
        return await _call_page(request, user, svc, open_call_id, error=("bid", Refusal.of(e)), typed=form, status_code=422)
    return RedirectResponse(f"/open-calls/{open_call_id}?done=bid", status_code=303)


@router.post("/open-calls/{open_call_id}/close", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def close(request: Request, open_call_id: str, user: SignedIn, svc: Svc) -> Response:
    await _authorize_on_call(svc, user, open_call_id, "提前截止揭榜")
    form = await _form(request)
    try:
        reason = form.get("reason", "").strip()
        if not reason:
            raise starter.CommandRejected("invalid_close", "提前截止须写明原因")
        command = CloseOpenCall(command_id=form.get("command_id") or f"web-{uuid.uuid4()}", actor=user.actor, reason=reason[:500])
        await send(svc, open_call_id, command)
    except starter.CommandRejected as e:
        return await _call_page(request, user, svc, open_call_id, error=("close", Refusal.of(e)), typed=form, status_code=422)
    return RedirectResponse(f"/open-calls/{open_call_id}?done=close", status_code=303)


@router.post("/open-calls/{open_call_id}/selection", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def select_winner(request: Request, open_call_id: str, user: SignedIn, svc: Svc) -> Response:
    await _authorize_on_call(svc, user, open_call_id, "选定揭榜方")
    form = await _form(request)
    try:
        command = SelectWinner(
            command_id=form.get("command_id") or f"web-{uuid.uuid4()}",
            actor=user.actor,
            bid_id=form.get("bid_id", "")[:16] or "-",
            note=form.get("note", "")[:500],
        )
        await send(svc, open_call_id, command)
    except starter.CommandRejected as e:
        return await _call_page(request, user, svc, open_call_id, error=("select", Refusal.of(e)), typed=form, status_code=422)
    return RedirectResponse(f"/open-calls/{open_call_id}?done=select", status_code=303)


async def publish(user: User, svc: Services, deal_id: str, form: dict[str, str], kind_values: list[str]) -> str:
    """Publish the deal's demand from its page; the call's id, or CommandRejected (Forbidden when not allowed)."""
    summary = deals.visible_deal(svc, user.actor, deal_id)
    _authorize(user.actor, deal_id, summary.broker_id, summary.centre_id, "发布揭榜")
    with svc.sessions() as session:
        earlier = list_open_calls(session, deal_id=deal_id)
    running = [c.open_call_id for c in earlier if c.status in (OpenCallStatus.OPEN, OpenCallStatus.CLOSED)]
    if running:
        raise starter.CommandRejected(
            "open_call_exists", f"案件 {deal_id} 已有未结束的揭榜 {'、'.join(running)}；选定揭榜方或其结束后才能再次发布"
        )
    # A deal's later call (after one lapsed or was awarded) gets the next number.
    call_id = f"OC-{deal_id}" + (f"-{len(earlier) + 1}" if earlier else "")
    deadline = _deadline(form.get("deadline", ""))
    kinds = tuple(_choice(k, InstitutionKind, "单位类型", KIND_ZH) for k in kind_values if k)
    try:
        min_trl = int(form.get("min_trl") or 1)
        qualifications = SolverQualifications(
            institution_kinds=kinds, min_trl=min_trl, region_code=form.get("region_code") or None
        )
    except ValueError as e:
        raise starter.CommandRejected("invalid_qualifications", f"揭榜方资格不对：{e}") from None
    try:
        await open_calls.publish(svc.client, None, user.actor, deal_id, call_id, deadline, qualifications)
    except starter.CommandRejected as e:
        if e.code == "forbidden":
            raise Forbidden(e.message) from e
        raise
    return call_id


def _deadline(text: str) -> datetime:
    """A datetime-local value (Beijing time, as people here write deadlines)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise starter.CommandRejected(
            "invalid_deadline", f"截止时间「{text[:30]}」不对；请按 2026-12-31T17:00 的格式填写（北京时间）"
        ) from None
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment


def _choice(value: str, enum: type[InstitutionKind], label: str, names: dict[InstitutionKind, str]) -> InstitutionKind:
    try:
        return enum(value)
    except ValueError:
        allowed = "、".join(f"{k.value}（{n}）" for k, n in names.items())
        raise starter.CommandRejected("invalid_choice", f"{label}「{value[:20]}」不存在；可选：{allowed}") from None


def _wan(text: str) -> int | None:
    if not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise starter.CommandRejected("invalid_money", f"报价「{text[:20]}」不对；请填写不小于 0 的万元数，或留空按登记报价")
    return int(value * FEN_PER_WAN)


def calls_of_deal(svc: Services, deal_id: str) -> list[tuple[str, str, datetime, int]]:
    """The deal's open calls for its page: id, status (Chinese), deadline, bids."""
    with svc.sessions() as session:
        rows = list_open_calls(session, deal_id=deal_id)
    return [(r.open_call_id, STATUS_ZH[OpenCallStatus(r.status)], r.deadline, r.bids) for r in rows]


def has_running_call(calls: list[tuple[str, str, datetime, int]]) -> bool:
    """Whether one of the deal's calls is still open or awaiting its selection (no second call meanwhile)."""
    return any(status in (STATUS_ZH[OpenCallStatus.OPEN], STATUS_ZH[OpenCallStatus.CLOSED]) for _, status, _, _ in calls)
