"""The registry pages (登记库): search and browse achievements and demands, a record with its matches and reasons,
starting a deal from a demand, and an N centre's declines.

Input is checked by the JSON API's own functions (`web.api_registry`), so a page and the API refuse the same
values with the same words. Every signed-in user may read the registries (as the API); starting a deal is for
brokers, managers and the hub (the domain refuses auditors again when the deal opens).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

import starter
from domain.actors import Role
from domain.commands import OpenDeal
from domain.events import Event
from domain.matching import Filters
from domain.parties import FEN_PER_WAN, Broker, Centre, CentreLevel, Demand, Enterprise, TransferMode
from domain.registry import MATURITY_LABELS, Achievement, RegisteredDemand
from registry import records
from registry.browse import browse_achievements, browse_demands
from registry.declines import REASON_LABELS, decline_reasons, list_declines
from registry.matcher import NotFound
from registry.tables import Kind
from store.models import DealRecord, EventRecord, UserRecord
from web.api_registry import BadQuery, FilterQuery, Match, query_text
from web.auth import check_csrf, page_user, services
from web.deals import Forbidden, Services
from web.format import JIANGXI_CITIES, code_names
from web.refusals import PageError, Refusal
from web.rendering import render
from web.scope import check_declines_visible
from web.users import User

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]
Svc = Annotated[Services, Depends(services)]
PAGE_SIZE = 20
MAX_PAGE = 10_000  # 200,000 records; a deeper page is a mistyped URL
MATCHES = 10
STARTERS = (Role.BROKER, Role.MANAGER, Role.HUB_ADMIN)
CENTRE_LEVELS = (
    (CentreLevel.CITY_OR_INDUSTRY.value, "市级或行业中心（M）"),
    (CentreLevel.PROVINCIAL_HUB.value, "省中心（1）"),
    (CentreLevel.UNIVERSITY.value, "高校院所中心（N）"),
)


@dataclass(frozen=True)
class Listing:
    """One row of a registry list: a record, and its score and reasons when found by text."""

    record: Achievement | RegisteredDemand
    score: float | None = None
    reasons: tuple[str, ...] = ()


def _names() -> dict[str, dict[str, str]]:
    return code_names()


@router.get("/registry", response_class=HTMLResponse)
def registry_home(user: SignedIn) -> Response:
    return RedirectResponse("/registry/demands", status_code=303)


@router.get("/registry/{kind}", response_class=HTMLResponse)
async def registry_list(
    request: Request,
    kind: str,
    user: SignedIn,
    svc: Svc,
    matcher: Match,
    params: FilterQuery,
    q: str | None = None,
    page: str | None = None,
) -> Response:
    """Search (with text: best first, with reasons) or browse (without: by registration number) one registry."""
    which = _kind(kind)
    form = {"q": q or "", **{k: v or "" for k, v in dataclasses.asdict(params).items()}}
    rows: list[Listing] = []
    error = None
    total = 0
    number = int(page) if page and page.isdigit() and 0 < int(page) <= MAX_PAGE else 1
    try:
        if page and number == 1 and page != "1":
            raise BadQuery(f"页码「{page[:20]}」不对；允许 1 到 {MAX_PAGE} 的整数")
        filters = params.filters()
        if q is not None and q.strip():
            text = query_text(q)
            rows = await asyncio.to_thread(_search, svc, matcher, which, text, filters)
            total = len(rows)
        else:
            rows, total = _browse(svc, which, filters, number)
    except BadQuery as e:
        error = Refusal("bad_query", str(e))
    context = {
        "me": user,
        "kind": which.value,
        "rows": rows,
        "total": total,
        "page": number,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "searched": bool(q and q.strip()),
        "form": form,
        "error": error,
        "regions": [("360000", "江西省")] + [(c, _names()["regions"].get(c, c)) for c in JIANGXI_CITIES],
        "industries": _names()["industries"],
        "region_names": _names()["regions"],
        "page_base": f"/registry/{which.value}?" + "".join(f"{urlencode({k: v})}&" for k, v in form.items() if v),
        "modes": [m.value for m in TransferMode],
    }
    return render(request, "registry.html", context, status_code=422 if error else 200)


def _kind(kind: str) -> Kind:
    try:
        return Kind(kind)
    except ValueError:
        raise PageError(
            404, "registry_not_found", f"没有「{kind[:20]}」登记库；可选：achievements（科技成果）、demands（企业技术需求）"
        ) from None


def _search(svc: Services, matcher: Any, kind: Kind, text: str, filters: Filters) -> list[Listing]:
    if kind is Kind.ACHIEVEMENTS:
        hits = [(c.achievement.achievement_id, c.score, c.reasons) for c in matcher.search(text, filters, PAGE_SIZE).candidates]
    else:
        hits = [(d.demand_id, d.score, d.reasons) for d in matcher.search_demands(text, filters, PAGE_SIZE).demands]
    with svc.sessions() as session:
        found = list(records.stream(session, kind, [id_ for id_, _, _ in hits]))
    return [Listing(record, score, reasons) for record, (_, score, reasons) in zip(found, hits, strict=True)]


def _browse(svc: Services, kind: Kind, filters: Filters, page: int) -> tuple[list[Listing], int]:
    with svc.sessions() as session:
        browse = browse_achievements if kind is Kind.ACHIEVEMENTS else browse_demands
        found = browse(session, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return [Listing(r) for r in found.records], found.total


@router.get("/registry/achievements/{achievement_id}", response_class=HTMLResponse, name="achievement_page")
async def achievement_page(request: Request, achievement_id: str, user: SignedIn, svc: Svc, matcher: Match) -> Response:
    """An achievement with every field, the demands it may serve (supply push) and why it was passed over."""
    record = _record(matcher, Kind.ACHIEVEMENTS, achievement_id)
    found = await asyncio.to_thread(matcher.for_achievement, achievement_id, Filters(), MATCHES)
    with svc.sessions() as session:
        declines = decline_reasons(session, achievement_id=achievement_id)
    context = {
        "me": user,
        "a": record,
        "matches": found.demands,
        "declines": declines,
        "names": _names(),
        "maturity": MATURITY_LABELS,
        "declines_link": _may_read_declines(user, record.institution.centre_id),
    }
    return render(request, "achievement.html", context)


@router.get("/registry/demands/{demand_id}", response_class=HTMLResponse)
async def demand_page(request: Request, demand_id: str, user: SignedIn, svc: Svc, matcher: Match) -> Response:
    return await _demand_page(request, user, svc, matcher, demand_id)


async def _demand_page(
    request: Request,
    user: User,
    svc: Services,
    matcher: Any,
    demand_id: str,
    *,
    error: Refusal | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    record = _record(matcher, Kind.DEMANDS, demand_id)
    assert isinstance(record, RegisteredDemand)
    found = await asyncio.to_thread(matcher.for_demand, demand_id, Filters(), MATCHES)
    brokers: list[tuple[str, str]] = []
    centre = None
    if user.role in STARTERS:
        with svc.sessions() as session:
            brokers = _brokers(session, user)
            centre = _known_centre(session, user.centre_id) if user.role == Role.BROKER else None
    context = {
        "me": user,
        "d": record,
        "matches": found.candidates,
        "names": _names(),
        "may_start": user.role in STARTERS,
        "brokers": brokers,
        "centre": centre,
        "centre_levels": CENTRE_LEVELS,
        "error": error,
        "typed": typed or {},
        "command_id": f"web-{uuid.uuid4()}",
    }
    return render(request, "demand.html", context, status_code=status_code)


def _may_read_declines(user: User, centre_id: str | None) -> str | None:
    """The link to the centre's declines page when the user may read it."""
    if not centre_id:
        return None
    try:
        check_declines_visible(user.actor, centre_id)
    except Forbidden:
        return None
    return f"/centres/{centre_id}/declines"


def _record(matcher: Any, kind: Kind, id_: str) -> Achievement | RegisteredDemand:
    try:
        record: Achievement | RegisteredDemand = matcher.get(kind, id_)
    except NotFound as e:
        raise PageError(404, "record_not_found", str(e)) from e
    return record


def _brokers(session: Any, user: User) -> list[tuple[str, str]]:
    """The brokers a manager (own centre) or the hub (any centre) may give a new deal to; a broker takes it."""
    if user.role == Role.BROKER:
        return [(user.username, user.display_name)]
    query = select(UserRecord).where(UserRecord.role == Role.BROKER.value, UserRecord.active.is_(True))
    if user.role == Role.MANAGER:
        query = query.where(UserRecord.centre_id == user.centre_id)
    return [(u.username, f"{u.display_name}（{u.centre_id}）") for u in session.scalars(query.order_by(UserRecord.username))]


def _known_centre(session: Any, centre_id: str | None) -> Centre | None:
    """The centre as its latest deal recorded it (name, level, region): the system keeps no other centre list."""
    if not centre_id:
        return None
    of_centre = select(DealRecord.deal_id).where(DealRecord.centre_id == centre_id)
    payload = session.scalar(
        select(EventRecord.payload)
        .where(EventRecord.type == "DealOpened", EventRecord.deal_id.in_(of_centre))
        .order_by(EventRecord.id.desc())
        .limit(1)
    )
    if payload is None:
        return None
    opened = Event.model_validate_json(payload).payload
    centre: Centre = opened.centre  # type: ignore[union-attr]
    return centre


@router.post("/registry/demands/{demand_id}/deals", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def start_deal(request: Request, demand_id: str, user: SignedIn, svc: Svc, matcher: Match) -> Response:
    """Open a deal on a registered demand; it lands in the broker's inbox. Refusals keep what was typed."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}
    if user.role not in STARTERS:
        raise Forbidden(
            f"您（{user.username}，{user.role.value}）无权创建案件；只有经纪人、中心管理员和省中心可以从需求创建案件",
            code="start_deal_not_allowed",
        )
    record = _record(matcher, Kind.DEMANDS, demand_id)
    assert isinstance(record, RegisteredDemand)
    try:
        command = _open_command(svc, user, record, form)
        await starter.start_deal(svc.client, command, svc.config.task_queue)
    except starter.CommandRejected as e:
        return await _demand_page(request, user, svc, matcher, demand_id, error=Refusal.of(e), typed=form, status_code=422)
    return RedirectResponse(f"/deals/{command.deal_id}?done=OpenDeal", status_code=303)


def _open_command(svc: Services, user: User, demand: RegisteredDemand, form: dict[str, str]) -> OpenDeal:
    need = _wan(form.get("financing_need_wan", ""), "融资需求")
    with svc.sessions() as session:
        broker = _broker(session, user, form.get("broker_id", "").strip())
        centre = _known_centre(session, broker.centre_id) or _centre_from(form, broker.centre_id)
    deal_demand = Demand(
        title=demand.title,
        description=demand.problem,
        enterprise=Enterprise(
            name=demand.enterprise_name, credit_code=demand.enterprise_credit_code, region_code=demand.region_code
        ),
        indicators=demand.indicators,
        budget=demand.budget,
        deadline=demand.deadline,
        ip_expectations=demand.ip_expectations,
        industry_code=demand.industry_code,
        region_code=demand.region_code,
        financing_need_fen=need,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    deal_id = f"{demand.demand_id}-{stamp}-{uuid.uuid4().hex[:4]}"
    return OpenDeal(
        command_id=form.get("command_id") or f"web-{uuid.uuid4()}",
        actor=user.actor,
        deal_id=deal_id,
        demand=deal_demand,
        broker=broker,
        centre=centre,
    )


def _broker(session: Any, user: User, chosen: str) -> Broker:
    if user.role == Role.BROKER:
        assert user.centre_id  # a broker always has a centre (web.users)
        return Broker(broker_id=user.username, name=user.display_name, centre_id=user.centre_id)
    allowed = dict(_brokers(session, user))
    if chosen not in allowed:
        where = f"中心 {user.centre_id}" if user.role == Role.MANAGER else "任何中心"
        raise starter.CommandRejected("unknown_broker", f"经纪人「{chosen[:64]}」不是{where}的在岗经纪人；请从列表中选择")
    record = session.get(UserRecord, chosen)
    return Broker(broker_id=record.username, name=record.display_name, centre_id=record.centre_id)


def _centre_from(form: dict[str, str], centre_id: str) -> Centre:
    """A centre no deal has named yet: its name, level and region as typed (checked by the domain's model)."""
    name, level, region = form.get("centre_name", "").strip(), form.get("centre_level", ""), form.get("centre_region", "").strip()
    if not name or level not in {v for v, _ in CENTRE_LEVELS} or not region:
        raise starter.CommandRejected(
            "centre_unknown", f"中心 {centre_id} 尚无案件记录其名称；请填写中心名称、级别和 6 位地区代码（如 360800）"
        )
    try:
        return Centre(centre_id=centre_id, name=name, level=CentreLevel(level), region_code=region)
    except ValueError as e:
        raise starter.CommandRejected("centre_unknown", f"中心信息不对：{e}") from None


def _wan(text: str, label: str) -> int:
    if not text.strip():
        return 0
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise starter.CommandRejected("invalid_money", f"{label}「{text[:20]}」不对；请填写不小于 0 的万元数，如 300 或 12.5")
    return int(value * FEN_PER_WAN)


@router.get("/centres/{centre_id}/declines", response_class=HTMLResponse)
def declines_page(request: Request, centre_id: str, user: SignedIn, svc: Svc) -> Response:
    """Why an N centre's achievements are passed over: its managers, the hub and auditors (as the API)."""
    check_declines_visible(user.actor, centre_id)
    with svc.sessions() as session:
        counts = decline_reasons(session, centre_id=centre_id)
        rows = list_declines(session, centre_id=centre_id)
    context = {"me": user, "centre_id": centre_id, "counts": counts, "rows": rows, "labels": REASON_LABELS}
    return render(request, "declines.html", context)
