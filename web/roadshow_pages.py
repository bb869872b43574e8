"""The roadshow pages (路演): the list, starting a roadshow for deals in 路演融资, a roadshow's page with its deals,
investors, interest and commitments, and the actions the roles may take, all through the roadshow's `execute` update.

Who sees a roadshow is `web.scope.roadshow_scope` (404 otherwise, as for an unknown id); who may act is the domain's
(`domain.roadshow.authorize_schedule`, `allowed_roadshow_commands` and `decide`), checked before a form is read, so a
forbidden POST is 403 whatever it carries. Every other refusal shows the domain's message next to its form, keeps
what was typed and records nothing (HTTP 422).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

import starter
from domain.actors import Actor, Role
from domain.errors import DomainError
from domain.parties import FEN_PER_WAN
from domain.partners import Instrument, PartnerEndpoint
from domain.roadshow import (
    PERSON_COMMANDS,
    CloseRoadshow,
    InvitedInvestor,
    InviteInvestor,
    PresentDeal,
    RegisterInterest,
    RequestDueDiligence,
    RoadshowCommand,
    RoadshowMode,
    RoadshowState,
    ScheduleRoadshow,
    allowed_roadshow_commands,
    authorize_schedule,
)
from kuayue import roadshows
from store.roadshows import interests, roadshow_row
from web.auth import check_csrf, page_user, services
from web.deals import Forbidden, Services
from web.forms import fen
from web.i18n import language_of
from web.partner_view import INSTRUMENT_ZH
from web.refusals import PageError, Refusal
from web.rendering import render
from web.roadshow_view import (
    INTEREST_STATUS_ZH,
    MODE_ZH,
    STATUS_ZH,
    RoadshowNotVisible,
    archived_roadshow,
    directory_investors,
    page,
    presentable_deals,
    visible_roadshows,
    visible_row,
)
from web.users import User

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]
Svc = Annotated[Services, Depends(services)]
STATUSES = tuple(STATUS_ZH.items())
MODES = tuple(MODE_ZH.items())
INSTRUMENTS = tuple((i.value, INSTRUMENT_ZH[i.value]) for i in Instrument)
# An interest above this is a typing slip, and beyond 64-bit fen the archive could not store it (stuck, not refused).
MAX_INTEREST_WAN = 1_000_000  # 100 亿元
MAX_INTEREST_FEN = MAX_INTEREST_WAN * FEN_PER_WAN
# What each action is called on the page (and in its ?done= message).
ACTION_ZH = {
    "ScheduleRoadshow": "安排路演",
    "PresentDeal": "推介案件",
    "InviteInvestor": "邀请投资方",
    "RegisterInterest": "登记投资意向",
    "RequestDueDiligence": "要求尽调材料",
    "CloseRoadshow": "结束路演",
}


def organiser_centre(actor: Actor) -> str:
    """The centre a roadshow started by `actor` is organised by: their own (the hub's staff organise for the hub)."""
    return actor.centre_id or "hub"


def may_schedule(actor: Actor) -> bool:
    try:
        authorize_schedule(actor, organiser_centre(actor))
    except DomainError:
        return False
    return True


def _partners(request: Request) -> dict[str, PartnerEndpoint] | None:
    callbacks = request.app.state.partner_callbacks
    return None if callbacks is None else callbacks.partners


def _not_found(roadshow_id: str) -> PageError:
    return PageError(404, "roadshow_not_found", f"没有编号为 {roadshow_id[:64]} 的路演，或您无权查看")


# ------------------------------------------------------------------------------------------------ the list


@router.get("/roadshows", response_class=HTMLResponse)
def roadshows_page(request: Request, user: SignedIn, svc: Svc, status: str | None = None) -> Response:
    error = None
    if status and status not in STATUS_ZH:
        error = Refusal(
            "bad_status", f"状态「{status[:20]}」不存在；可选：{'、'.join(f'{k}（{v}）' for k, v in STATUS_ZH.items())}"
        )
        status = None
    context = {
        "me": user,
        "rows": visible_roadshows(svc, user.actor, status=status or None),
        "status": status or "",
        "statuses": STATUSES,
        "status_zh": STATUS_ZH,
        "mode_zh": MODE_ZH,
        "may_schedule": may_schedule(user.actor),
        "error": error,
    }
    return render(request, "roadshows.html", context, status_code=422 if error else 200)


# ---------------------------------------------------------------------------------------------- starting one


@router.get("/roadshows/new", response_class=HTMLResponse)
def new_roadshow_page(request: Request, user: SignedIn, svc: Svc, deal: str | None = None) -> Response:
    _check_may_schedule(user.actor)
    return _new_page(request, user, svc, typed={"deal_ids": [deal] if deal else []})


def _check_may_schedule(actor: Actor) -> None:
    try:
        authorize_schedule(actor, organiser_centre(actor))
    except DomainError as e:
        raise Forbidden(e.message) from e


def _new_page(
    request: Request, user: User, svc: Services, *, typed: dict[str, Any], error: Refusal | None = None, status_code: int = 200
) -> Response:
    context = {
        "me": user,
        "deals": presentable_deals(svc, user.actor),
        "investors": directory_investors(_partners(request)),
        "modes": MODES,
        "organiser": organiser_centre(user.actor),
        "typed": typed,
        "error": error,
        "command_id": f"web-{uuid.uuid4()}",
    }
    return render(request, "roadshow_new.html", context, status_code=status_code)


@router.post("/roadshows", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def start_roadshow(request: Request, user: SignedIn, svc: Svc) -> Response:
    """Start a roadshow with its deals and invited investors; refused, it starts nothing and shows why."""
    _check_may_schedule(user.actor)
    received = await request.form()
    form = _texts(received)
    deal_ids = _list(received, "deal_ids")
    investor_ids = _list(received, "investor_ids")
    typed: dict[str, Any] = {**form, "deal_ids": deal_ids, "investor_ids": investor_ids}
    command_id = _command_id(form)
    try:
        schedule, opening = _opening(request, user, svc, form, deal_ids, investor_ids, command_id)
        with svc.sessions() as session:
            already = roadshow_row(session, schedule.roadshow_id) is not None
        if not already:  # a form sent twice names the same roadshow: the second send just shows it
            await roadshows.start(svc.client, svc.sessions, svc.config.task_queue, schedule, opening)
    except starter.CommandRejected as e:
        if e.code == "forbidden":
            raise Forbidden(e.message) from e
        return _new_page(request, user, svc, typed=typed, error=Refusal.of(e), status_code=422)
    return RedirectResponse(f"/roadshows/{schedule.roadshow_id}?done=ScheduleRoadshow", status_code=303)


def _opening(
    request: Request,
    user: User,
    svc: Services,
    form: dict[str, str],
    deal_ids: list[str],
    investor_ids: list[str],
    command_id: str,
) -> tuple[ScheduleRoadshow, list[RoadshowCommand]]:
    actor = user.actor
    title = form.get("title", "").strip()
    if not 2 <= len(title) <= 200:
        raise starter.CommandRejected("invalid_input", f"路演名称须为 2 到 200 个字，收到 {len(title)} 个字")
    held_on = _date(form.get("held_on", ""))
    mode = _mode(form.get("mode", ""))
    venue = form.get("venue", "").strip()[:500]
    if not deal_ids:
        raise starter.CommandRejected("no_deals", "请至少选择一个处于路演融资阶段的案件")
    offered = dict(presentable_deals(svc, actor))
    _only_offered("案件", deal_ids, offered, "（须处于路演融资阶段，且是您可以办理的案件）")
    investors = {p.partner_id: p for p in directory_investors(_partners(request))}
    _only_offered("投资方", investor_ids, {k: v.name for k, v in investors.items()}, "（合作方目录中的银行、担保公司、基金）")
    # The id carries the form's own token, so a form sent twice names one roadshow, not two.
    roadshow_id = f"RS-{held_on:%Y%m%d}-{uuid.uuid5(uuid.NAMESPACE_URL, command_id).hex[:8]}"
    schedule = ScheduleRoadshow(
        command_id=f"{command_id}:schedule",
        actor=actor,
        roadshow_id=roadshow_id,
        title=title,
        held_on=held_on,
        mode=mode,
        venue=venue,
        centre_id=organiser_centre(actor),
    )
    opening: list[RoadshowCommand] = [
        PresentDeal(command_id=f"{command_id}:present:{d}", actor=actor, deal_id=d) for d in dict.fromkeys(deal_ids)
    ]
    opening += [
        InviteInvestor(command_id=f"{command_id}:invite:{i}", actor=actor, investor=_invited(investors[i]))
        for i in dict.fromkeys(investor_ids)
    ]
    return schedule, opening


# ------------------------------------------------------------------------------------------- a roadshow's page


@router.get("/roadshows/{roadshow_id}", response_class=HTMLResponse)
def roadshow_page(request: Request, roadshow_id: str, user: SignedIn, svc: Svc, done: str | None = None) -> Response:
    return _roadshow_page(request, user, svc, roadshow_id, done=done)


def _roadshow_page(
    request: Request,
    user: User,
    svc: Services,
    roadshow_id: str,
    *,
    done: str | None = None,
    error: tuple[str, Refusal] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        view = page(svc, user.actor, roadshow_id, language_of(request))
    except RoadshowNotVisible as e:
        raise _not_found(roadshow_id) from e
    allowed = set(view.allowed)
    presented = view.state.deal_ids
    invited = tuple(i.partner_id for i in view.state.investors)
    context = {
        "me": user,
        "view": view,
        "rs": view.state,
        "status_zh": STATUS_ZH,
        "mode_zh": MODE_ZH,
        "interest_status_zh": INTEREST_STATUS_ZH,
        "allowed": allowed,
        "presentable": presentable_deals(svc, user.actor, exclude=presented) if "PresentDeal" in allowed else [],
        "invitable": directory_investors(_partners(request), exclude=invited) if "InviteInvestor" in allowed else [],
        "instruments": INSTRUMENTS,
        "action_zh": ACTION_ZH,
        "done": done if done in ACTION_ZH else None,
        "error": error,
        "typed": typed or {},
        "command_id": f"web-{uuid.uuid4()}",
    }
    return render(request, "roadshow.html", context, status_code=status_code)


@router.post("/roadshows/{roadshow_id}/actions/{command_type}", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def roadshow_action(request: Request, roadshow_id: str, command_type: str, user: SignedIn, svc: Svc) -> Response:
    """One action through the roadshow's `execute` update; a refusal shows next to its form, with what was typed."""
    try:
        visible_row(svc, user.actor, roadshow_id)
    except RoadshowNotVisible as e:
        raise _not_found(roadshow_id) from e
    if command_type not in PERSON_COMMANDS:
        raise starter.CommandRejected(
            "unknown_action", f"路演没有「{command_type[:40]}」这一操作；可选：{'、'.join(PERSON_COMMANDS)}"
        )
    state, _ = archived_roadshow(svc, roadshow_id)
    # Offered to someone now but not to this person: the domain's authorization says no, whatever the form carries.
    if command_type in allowed_roadshow_commands(state) and command_type not in allowed_roadshow_commands(state, user.actor):
        raise Forbidden(
            f"您（{user.actor.id}）无权对路演 {roadshow_id} 执行「{ACTION_ZH[command_type]}」", code="not_offered_to_you"
        )
    form = _texts(await request.form())
    try:
        command = _command(request, svc, user.actor, state, command_type, form)
        roadshows.check([command], state)  # the domain's message at once, before a round trip
        await roadshows.send(svc.client, roadshow_id, command)
    except starter.CommandRejected as e:
        if e.code == "forbidden":
            raise Forbidden(e.message) from e
        return _roadshow_page(request, user, svc, roadshow_id, error=(command_type, Refusal.of(e)), typed=form, status_code=422)
    return RedirectResponse(f"/roadshows/{roadshow_id}?done={command_type}", status_code=303)


def _command(
    request: Request, svc: Services, actor: Actor, state: RoadshowState, command_type: str, form: dict[str, str]
) -> RoadshowCommand:
    command_id = _command_id(form)
    if command_type == "PresentDeal":
        deal_id = form.get("deal_id", "")
        _only_offered("案件", [deal_id], dict(presentable_deals(svc, actor, exclude=state.deal_ids)), "（须处于路演融资阶段）")
        return PresentDeal(command_id=command_id, actor=actor, deal_id=deal_id)
    if command_type == "InviteInvestor":
        invited = tuple(i.partner_id for i in state.investors)
        investors = {p.partner_id: p for p in directory_investors(_partners(request), exclude=invited)}
        partner_id = form.get("partner_id", "")
        _only_offered("投资方", [partner_id], {k: v.name for k, v in investors.items()}, "（合作方目录中未受邀的投资方）")
        return InviteInvestor(command_id=command_id, actor=actor, investor=_invited(investors[partner_id]))
    if command_type == "RegisterInterest":
        amount = fen(form.get("amount_wan", "")[:40], "意向金额（万元）")
        if not 0 < amount <= MAX_INTEREST_FEN:
            raise starter.CommandRejected(
                "invalid_input",
                f"意向金额（万元）「{form.get('amount_wan', '')[:20]}」须大于 0、不超过 {MAX_INTEREST_WAN:,} 万元",
            )
        note = form.get("note", "").strip()
        if len(note) > 2000:
            raise starter.CommandRejected("invalid_input", f"意向说明最多 2000 字，收到 {len(note)} 字")
        return RegisterInterest(
            command_id=command_id,
            actor=actor,
            investor_id=form.get("investor_id", "")[:64],
            deal_id=form.get("deal_id", "")[:64],
            amount_fen=amount,
            instrument=_instrument(form.get("instrument", "")),
            note=note,
        )
    if command_type == "RequestDueDiligence":
        materials = tuple(m.strip() for m in form.get("materials", "").replace("，", "、").replace(",", "、").split("、"))
        materials = tuple(m[:200] for m in materials if m)
        if not materials:
            raise starter.CommandRejected("invalid_input", "请写明所需材料，多项用顿号或逗号分隔，如：专利证书、审计报告")
        return RequestDueDiligence(
            command_id=command_id,
            actor=actor,
            investor_id=form.get("investor_id", "")[:64],
            deal_id=form.get("deal_id", "")[:64],
            materials=materials,
        )
    return CloseRoadshow(command_id=command_id, actor=actor, note=form.get("note", "").strip()[:500])


# ------------------------------------------------------------------------------------------------ form parts


def _texts(received: FormData) -> dict[str, str]:
    return {k: v for k, v in received.items() if isinstance(v, str) and k != "csrf_token"}


def _list(received: FormData, name: str) -> list[str]:
    return [v for v in received.getlist(name) if isinstance(v, str) and v]


def _command_id(form: dict[str, str]) -> str:
    return form.get("command_id", "")[:100] or f"web-{uuid.uuid4()}"


def _only_offered(what: str, chosen: list[str], offered: dict[str, str], rule: str) -> None:
    wrong = [c for c in chosen if c not in offered]
    if wrong:
        allowed = "、".join(offered) or "（暂无）"
        raise starter.CommandRejected(
            "invalid_choice", f"{what}「{'、'.join(w[:64] for w in wrong)}」不可选{rule}；可选：{allowed}"
        )


def _invited(partner: PartnerEndpoint) -> InvitedInvestor:
    return InvitedInvestor(partner_id=partner.partner_id, name=partner.name, kind=partner.kind)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise starter.CommandRejected("invalid_input", f"路演日期「{text[:30]}」不是日期；请按 2026-12-18 的格式填写") from None


def _mode(value: str) -> RoadshowMode:
    try:
        return RoadshowMode(value)
    except ValueError:
        allowed = "、".join(f"{k}（{v}）" for k, v in MODE_ZH.items())
        raise starter.CommandRejected("invalid_choice", f"路演形式「{value[:20]}」不存在；可选：{allowed}") from None


def _instrument(value: str) -> Instrument:
    try:
        return Instrument(value)
    except ValueError:
        allowed = "、".join(f"{k}（{v}）" for k, v in INSTRUMENTS)
        raise starter.CommandRejected("invalid_choice", f"融资方式「{value[:20]}」不存在；可选：{allowed}") from None


# ------------------------------------------------------------------------------------------------ the deal page


def roadshows_of_deal(svc: Services, actor: Actor, deal_id: str) -> list[dict[str, Any]]:
    """The roadshows presenting the deal, each with the interest registered for this deal (for the deal's page)."""
    rows = visible_roadshows(svc, actor, deal_id=deal_id)
    with svc.sessions() as session:
        by_roadshow: dict[str, list[Any]] = {}
        for i in interests(session, deal_id=deal_id):
            by_roadshow.setdefault(i.roadshow_id, []).append(i)
    return [{"row": r, "interests": by_roadshow.get(r.roadshow_id, [])} for r in rows]


def may_schedule_for(actor: Actor, deal_centre_id: str) -> bool:
    """Whether the deal page offers to start a roadshow for this deal: its centre's managers and the hub."""
    if not may_schedule(actor):
        return False
    return actor.role == Role.HUB_ADMIN or actor.centre_id == deal_centre_id
