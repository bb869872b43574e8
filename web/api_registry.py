"""The registries' JSON API under /api/registry/ (bearer token per user), and the broker's recorded search.

Every signed-in user (broker, manager, hub admin, auditor) may read the registries; partners have no users, so no
token reaches these routes. Bad input (an empty or overlong query, an unknown industry or region code, a TRL outside
1–9, a mode or price that is not one) is answered 422 with a Chinese message naming the value and what is allowed.

`POST /api/deals/{id}/proposals` runs a search with the broker's filters and sends the deal's `ProposeCandidates`
command as the signed-in user, with `source` naming the index version and the filters: the deal's events record
what the broker saw and how it was found, even after the registry changes.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

import starter
from domain.events import Candidate
from domain.identifiers import validate_industry_code
from domain.matching import Filters, RankedDemand
from domain.parties import TransferMode
from domain.registry import Achievement, RegisteredDemand
from registry.analyzer import MAX_QUERY_CHARS, default_analyzer
from registry.matcher import Matcher, NotFound, as_registered
from registry.tables import Kind
from web import deals
from web.auth import api_user, services
from web.deals import Services
from web.users import User
from workflows.messages import Answer

router = APIRouter(prefix="/api", tags=["registry"])
ApiUser = Annotated[User, Depends(api_user)]
Svc = Annotated[Services, Depends(services)]
MAX_LIMIT = 100
# A burst of searches asks the database once whether a registry changed; an import shows within 2 s.
FRESH_SECONDS = 2.0
_MODES = "、".join(m.value for m in TransferMode)


class BadQuery(ValueError):
    """Input a search cannot run on; the message (Chinese) says what is allowed."""


class Refusal(BaseModel):
    code: str
    message: str


class AchievementHits(BaseModel):
    index_version: str
    candidates: list[Candidate]


class DemandHits(BaseModel):
    index_version: str
    demands: list[RankedDemand]


class SearchBody(BaseModel):
    """A search as a JSON body (for long texts): free text and filters."""

    q: str | None = Field(default=None, description="free text")
    industry: str | None = Field(default=None, description="industry code prefix (GB/T 4754), e.g. C34")
    region: str | int | None = Field(default=None, description="region code (GB/T 2260), e.g. 360000 or 360800")
    # Loose types on purpose: a wrong value gets this module's Chinese message, not a generic validation error.
    min_trl: int | str | None = Field(default=None, description="1-9")
    mode: str | None = Field(default=None, description="转让, 许可, 作价入股, 合作开发 or 技术服务")
    max_price_wan: float | str | None = Field(default=None, description="asking price at most, in 万元")
    limit: int | str | None = 10

    def filters(self) -> Filters:
        return filters_of(self.industry, self.region, self.min_trl, self.mode, self.max_price_wan)


class ProposalBody(SearchBody):
    """The broker's search for a deal: without `q`, the deal's own demand is matched."""

    command_id: str | None = Field(default=None, description="repeat it to retry safely")


def _matcher(request: Request, svc: Svc) -> Matcher:
    """One matcher per app: it keeps each registry's index until the registry changes."""
    matcher: Matcher | None = getattr(request.app.state, "registry_matcher", None)
    if matcher is None:
        matcher = Matcher(svc.sessions, fresh_seconds=FRESH_SECONDS)
        request.app.state.registry_matcher = matcher
    return matcher


Match = Annotated[Matcher, Depends(_matcher)]


def install(app: FastAPI) -> None:
    """Add the registry routes and the answer to bad input to `app`."""
    app.include_router(router)

    async def bad_query(request: Request, exc: Exception) -> Response:
        return JSONResponse({"code": "bad_query", "message": str(exc)}, status_code=422)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"code": "not_found", "message": str(exc)}, status_code=404)

    app.add_exception_handler(BadQuery, bad_query)
    app.add_exception_handler(NotFound, not_found)


# ---------------------------------------------------------------- input


def query_text(q: str | None) -> str:
    if q is None or not q.strip():
        raise BadQuery("查询内容为空；请输入要查找的技术或问题，如“超声主轴”")
    if len(q) > MAX_QUERY_CHARS:
        raise BadQuery(f"查询内容过长（{len(q):,} 字）；最多 {MAX_QUERY_CHARS:,} 字，请只写关键的技术词和问题")
    return q


@dataclass
class FilterParams:
    """The registries' filter query parameters, as every search route and page takes them.

    Strings on purpose: a wrong value gets this module's Chinese message (`filters`), not a generic validation error.
    """

    industry: str | None = None  # industry code prefix (GB/T 4754), e.g. C34
    region: str | None = None  # region code (GB/T 2260), e.g. 360000 or 360800
    min_trl: str | None = None  # 1-9
    mode: str | None = None  # 转让, 许可, 作价入股, 合作开发 or 技术服务
    max_price_wan: str | None = None  # asking price at most, in 万元

    def filters(self) -> Filters:
        return filters_of(self.industry, self.region, self.min_trl, self.mode, self.max_price_wan)


FilterQuery = Annotated[FilterParams, Depends()]


def filters_of(
    industry: str | None, region: str | int | None, min_trl: str | int | None, mode: str | None, max_price_wan: str | float | None
) -> Filters:
    """Filters from query parameters, each checked with a message that says what is allowed."""
    return Filters(
        industry=_industry(industry),
        region=_region(None if region is None else str(region)),
        min_trl=_trl(min_trl),
        mode=_mode(mode),
        max_price_fen=_price(max_price_wan),
    )


def _industry(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        code = validate_industry_code(value)
    except ValueError as err:
        raise BadQuery(f"{err}（行业筛选按代码前缀：C 为制造业，C34 为通用设备制造业，C3425 为一个小类）") from None
    return code


def _region(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    names = default_analyzer().config.region_names
    if not re.fullmatch(r"\d{6}", value) or value not in names:
        cities = "、".join(f"{code}（{name}）" for code, name in names.items() if code.startswith("36") and code != "360000")
        raise BadQuery(
            f"地区代码「{value[:20]}」未知；允许 GB/T 2260 的 6 位省级代码（如 360000 江西省、440000 广东省）"
            f"或江西省设区市代码：{cities}"
        )
    return value


def _trl(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) or re.fullmatch(r"\d{1,2}", str(value)):
        trl = int(value)
        if 1 <= trl <= 9:
            return trl
    raise BadQuery(f"技术就绪度「{value}」不对；允许 1 到 9 的整数（GB/T 22900）")


def _mode(value: str | None) -> TransferMode | None:
    if value is None or value == "":
        return None
    try:
        return TransferMode(value)
    except ValueError:
        raise BadQuery(f"转化方式「{value[:20]}」不对；允许：{_MODES}") from None


def _price(value: str | float | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        wan = Decimal(str(value))
    except InvalidOperation:
        wan = Decimal(-1)
    if not wan.is_finite() or wan < 0 or wan > 10_000_000:
        raise BadQuery(f"最高报价「{value}」不对；允许 0 到 10,000,000 之间的万元数，如 300 或 12.5")
    return int(wan * 1_000_000)


def _limit(value: str | int | None) -> int:
    if value is None or value == "":
        return 10
    if isinstance(value, int) or re.fullmatch(r"\d{1,4}", str(value)):
        limit = int(value)
        if 1 <= limit <= MAX_LIMIT:
            return limit
    raise BadQuery(f"返回条数「{value}」不对；允许 1 到 {MAX_LIMIT} 的整数")


# ---------------------------------------------------------------- routes

_FILTER_PARAMS = "industry: 行业代码前缀；region: 地区代码；min_trl: 1-9；mode: 转化方式；max_price_wan: 万元"


@router.get("/registry/achievements", responses={422: {"model": Refusal}}, description=_FILTER_PARAMS)
def search_achievements(
    user: ApiUser,
    matcher: Match,
    params: FilterQuery,
    q: str | None = None,
    limit: str | None = None,
) -> AchievementHits:
    """Achievements for free text, best first (text only; filters are hard)."""
    filters = params.filters()
    shortlist = matcher.search(query_text(q), filters, _limit(limit))
    return AchievementHits(index_version=shortlist.index_version, candidates=shortlist.candidates)


@router.get("/registry/demands", responses={422: {"model": Refusal}}, description=_FILTER_PARAMS)
def search_demands(
    user: ApiUser,
    matcher: Match,
    params: FilterQuery,
    q: str | None = None,
    limit: str | None = None,
) -> DemandHits:
    """Demands for free text, best first (min_trl: demands an achievement of that TRL qualifies for)."""
    filters = params.filters()
    found = matcher.search_demands(query_text(q), filters, _limit(limit))
    return DemandHits(index_version=found.index_version, demands=found.demands)


@router.post("/registry/achievements/search", responses={422: {"model": Refusal}})
def search_achievements_by_body(body: SearchBody, user: ApiUser, matcher: Match) -> AchievementHits:
    """As GET /api/registry/achievements, with the query in a JSON body."""
    shortlist = matcher.search(query_text(body.q), body.filters(), _limit(body.limit))
    return AchievementHits(index_version=shortlist.index_version, candidates=shortlist.candidates)


@router.post("/registry/demands/search", responses={422: {"model": Refusal}})
def search_demands_by_body(body: SearchBody, user: ApiUser, matcher: Match) -> DemandHits:
    """As GET /api/registry/demands, with the query in a JSON body."""
    found = matcher.search_demands(query_text(body.q), body.filters(), _limit(body.limit))
    return DemandHits(index_version=found.index_version, demands=found.demands)


@router.get("/registry/achievements/{achievement_id}", responses={404: {"model": Refusal}})
def show_achievement(achievement_id: str, user: ApiUser, matcher: Match) -> Achievement:
    record = matcher.get(Kind.ACHIEVEMENTS, achievement_id)
    assert isinstance(record, Achievement)
    return record


@router.get("/registry/demands/{demand_id}", responses={404: {"model": Refusal}})
def show_demand(demand_id: str, user: ApiUser, matcher: Match) -> RegisteredDemand:
    record = matcher.get(Kind.DEMANDS, demand_id)
    assert isinstance(record, RegisteredDemand)
    return record


@router.get("/registry/demands/{demand_id}/matches", responses={404: {"model": Refusal}, 422: {"model": Refusal}})
def match_demand(
    demand_id: str,
    user: ApiUser,
    matcher: Match,
    params: FilterQuery,
    limit: str | None = None,
) -> AchievementHits:
    """Achievements for a registered demand, with scores and reasons part by part."""
    filters = params.filters()
    shortlist = matcher.for_demand(demand_id, filters, _limit(limit))
    return AchievementHits(index_version=shortlist.index_version, candidates=shortlist.candidates)


@router.get("/registry/achievements/{achievement_id}/matches", responses={404: {"model": Refusal}, 422: {"model": Refusal}})
def match_achievement(
    achievement_id: str,
    user: ApiUser,
    matcher: Match,
    params: FilterQuery,
    limit: str | None = None,
) -> DemandHits:
    """Demands for a registered achievement (supply push), with scores and reasons."""
    filters = params.filters()
    found = matcher.for_achievement(achievement_id, filters, _limit(limit))
    return DemandHits(index_version=found.index_version, demands=found.demands)


@router.post(
    "/deals/{deal_id}/proposals",
    responses={403: {"model": Refusal}, 404: {"model": Refusal}, 422: {"model": Refusal}},
)
async def propose(deal_id: str, body: ProposalBody, user: ApiUser, svc: Svc, matcher: Match) -> Answer:
    """Search with the broker's filters and propose the hits to the deal; the event names the index and the filters."""
    filters = body.filters()
    limit = _limit(body.limit)
    deals.visible_deal(svc, user.actor, deal_id)
    if body.q is not None:
        text = query_text(body.q)
        shortlist = await asyncio.to_thread(matcher.search, text, filters, limit)
    else:
        state = await starter.deal_state(svc.client, deal_id)
        if state.demand is None:
            raise BadQuery(f"案件 {deal_id} 尚无需求，无法匹配；请提供查询内容 q")
        shortlist = await asyncio.to_thread(matcher.for_demand_record, as_registered(deal_id, state.demand), filters, limit)
    if not shortlist.candidates:
        raise BadQuery("没有符合查询和筛选条件的成果，未记录任何内容；请放宽筛选条件或换用其他关键词")
    source = source_of(shortlist.index_version, body.q, filters)
    payload = {"candidates": [c.model_dump(mode="json") for c in shortlist.candidates], "source": source}
    return await deals.act(svc, user.actor, deal_id, "ProposeCandidates", payload, body.command_id)


def source_of(index_version: str, q: str | None, filters: Filters) -> str:
    """What a recorded proposal says of its origin: `search <index version> <query and filters as JSON>`."""
    what: dict[str, Any] = {"q": q[:200]} if q else {"demand": "deal"}
    what |= filters.model_dump(mode="json", exclude_none=True)
    return f"search {index_version} {json.dumps(what, ensure_ascii=False, sort_keys=True, separators=(',', ':'))}"
