"""The HTML pages: inbox (我的案件) and the deal page with its action forms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

import starter
from domain.open_call import PUBLISHABLE_STAGES
from domain.stages import STAGE_NAMES_ZH, Stage
from store.dashboard import read_model_updated_at
from web import deals, open_call_pages, partner_view, roadshow_pages, roadshow_view
from web.auth import check_csrf, page_user, services
from web.deals import Services
from web.format import JIANGXI_CITIES, code_names, freshness, progress
from web.forms import form_for, payload_from_form
from web.i18n import language_of
from web.refusals import Refusal
from web.rendering import render
from web.timeline import deal_line
from web.users import User

router = APIRouter()
SignedIn = Annotated[User, Depends(page_user)]
Svc = Annotated[Services, Depends(services)]


@router.get("/", include_in_schema=False)
def home(user: SignedIn) -> Response:
    return RedirectResponse("/deals", status_code=303)


@router.get("/deals", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    user: SignedIn,
    svc: Svc,
    stage: str | None = None,
    industry: str | None = None,
    region: str | None = None,
    due_by: str | None = None,
    sort: str | None = None,
) -> Response:
    """The inbox; the filter's values stay in its form, and a bad one is named above the list (and ignored)."""
    now = datetime.now(UTC)
    wanted, errors = deals.parse_filter(stage, industry, region, due_by, sort)
    items = [deals.inbox_item(d, now) for d in deals.inbox(svc, user.actor, wanted)]
    with svc.sessions() as session:
        updated = read_model_updated_at(session)
    names = code_names()["regions"]
    context = {
        "me": user,
        "items": items,
        "stages": list(STAGE_NAMES_ZH.items()),
        "form": {
            "stage": stage or "",
            "industry": industry or "",
            "region": region or "",
            "due_by": due_by or "",
            "sort": sort or "due",
        },
        "errors": errors,
        "regions": [(c, names.get(c, c)) for c in JIANGXI_CITIES],
        "freshness": freshness(updated, now),
    }
    return render(request, "inbox.html", context, status_code=422 if errors else 200)


@router.get("/deals/{deal_id}", response_class=HTMLResponse)
async def deal_page(request: Request, deal_id: str, user: SignedIn, svc: Svc, done: str | None = None) -> Response:
    return await _deal_page(request, user, svc, deal_id, done=done)


@router.post("/deals/{deal_id}/actions/{command_type}", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def deal_action(request: Request, deal_id: str, command_type: str, user: SignedIn, svc: Svc) -> Response:
    """Send one command; on refusal show the domain's message next to its form, with what was typed kept."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}
    state, _ = deals.archived_state(svc, deals.visible_deal(svc, user.actor, deal_id).deal_id)
    try:
        payload = payload_from_form(command_type, form, state)
        # The form's command id makes a double click or a resent POST return the first answer, not act twice.
        await deals.act(svc, user.actor, deal_id, command_type, payload, form.get("command_id") or None, state=state)
    except starter.CommandRejected as e:
        return await _deal_page(request, user, svc, deal_id, error=(command_type, Refusal.of(e)), typed=form, status_code=422)
    return RedirectResponse(f"/deals/{deal_id}?done={command_type}", status_code=303)


@router.post("/deals/{deal_id}/open-calls", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def publish_open_call(request: Request, deal_id: str, user: SignedIn, svc: Svc) -> Response:
    """Publish the deal's demand as an open call (揭榜挂帅); a refusal shows next to the form, with what was typed."""
    received = await request.form()
    form = {k: v for k, v in received.items() if isinstance(v, str) and k != "csrf_token"}
    kinds = [v for v in received.getlist("institution_kinds") if isinstance(v, str)]
    try:
        call_id = await open_call_pages.publish(user, svc, deal_id, form, kinds)
    except starter.CommandRejected as e:
        typed = form | {"institution_kinds": ",".join(kinds)}
        return await _deal_page(
            request, user, svc, deal_id, error=("PublishOpenCall", Refusal.of(e)), typed=typed, status_code=422
        )
    return RedirectResponse(f"/open-calls/{call_id}", status_code=303)


async def _deal_page(
    request: Request,
    user: User,
    svc: Services,
    deal_id: str,
    *,
    done: str | None = None,
    error: tuple[str, Refusal] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await deals.deal_view(svc, user.actor, deal_id)
    forms = [form_for(c, view.state) for c in view.allowed]
    lang = language_of(request)
    timeline = [(e, *deal_line(e, lang)) for e in reversed(view.events)]
    calls = open_call_pages.calls_of_deal(svc, deal_id)
    context = {
        "me": user,
        "view": view,
        "forms": forms,
        "timeline": timeline,
        "progress": progress(view.summary.stage),
        "done": done,
        "error": error,
        "typed": typed or {},
        "new_command_id": deals.new_command_id(),
        "may_publish": view.summary.stage in PUBLISHABLE_STAGES
        and open_call_pages.enterprise_side(user.actor, view.summary.broker_id, view.summary.centre_id)
        and not open_call_pages.has_running_call(calls),
        "open_calls": calls,
        "call_regions": open_call_pages.publish_regions(),
        "call_kinds": open_call_pages.KINDS,
        "partner_requests": partner_view.requests(view.state),
        "commitments": partner_view.commitments(view.events),
        "registration": partner_view.registration(view.state, view.events),
        "roadshows": roadshow_pages.roadshows_of_deal(svc, user.actor, deal_id),
        "roadshow_status_zh": roadshow_view.STATUS_ZH,
        "interest_status_zh": roadshow_view.INTEREST_STATUS_ZH,
        "may_schedule_roadshow": view.summary.stage == Stage.FINANCING
        and roadshow_pages.may_schedule_for(user.actor, view.summary.centre_id),
    }
    return render(request, "deal.html", context, status_code=status_code)
