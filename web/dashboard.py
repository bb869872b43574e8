"""The manager dashboard (page and API): funnel, stage timings, overdue and escalated deals, workload, signed
contract value by month; for the provincial hub also each centre and the demand map (industry × city).

Figures come from `store.dashboard` (SQL over the read models). Each chart has its numbers in a table next to
it; the charts are drawn by ECharts, installed from the npm registry by `scripts/setup` and served from here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from domain.stages import OPEN_STAGES, STAGE_NAMES_ZH, Stage
from store import dashboard as figures
from web.auth import api_user, page_user, services
from web.deals import Forbidden, InboxItem, Services, inbox_item
from web.format import JIANGXI_CITIES, code_names, freshness, wan
from web.i18n import DEFAULT, gettext_for, language_of
from web.refusals import PageError
from web.rendering import render
from web.scope import DashboardScope, dashboard_scope
from web.users import User

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["dashboard"])

SHANGHAI = ZoneInfo("Asia/Shanghai")
ECHARTS = Path(__file__).resolve().parents[1] / "node_modules" / "echarts" / "dist" / "echarts.min.js"
OUTSIDE_JIANGXI = "省外"
MONTHS_SHOWN = 12


class StageRow(BaseModel):
    stage: Stage
    name: str
    deals: int = Field(description="deals in this stage now")
    finished_stays: int = Field(description="finished stays in this stage the timings are taken from")
    median_days: float | None
    p90_days: float | None


class BrokerRow(BaseModel):
    broker_id: str
    name: str | None
    open_deals: int
    overdue: int
    escalated: int


class MonthRow(BaseModel):
    month: str = Field(description="YYYY-MM, Beijing time, of reaching 已签约")
    label: str
    signed_deals: int
    contract_value_fen: int
    contract_value: str


class CentreRow(BaseModel):
    centre_id: str
    deals: int
    open_deals: int
    signed: int
    stages: list[StageRow]


class DemandMap(BaseModel):
    """Deals by the demand's industry (GB/T 4754 division) and city (GB/T 2260); `cells[row][col]`."""

    cities: list[str]
    city_names: list[str]
    industries: list[str]
    industry_names: list[str]
    cells: list[list[int]]


class Dashboard(BaseModel):
    centre_id: str | None = Field(description="None: the whole province")
    stages: list[StageRow]
    overdue: int
    escalated: int
    attention: list[InboxItem]
    workload: list[BrokerRow]
    months: list[MonthRow]
    centres: list[CentreRow] | None = Field(default=None, description="the hub's view: every centre")
    demand_map: DemandMap | None = None
    updated_at: datetime | None = Field(description="when the read model last changed")


def _stage_rows(counts: dict[Stage, int], timings: dict[Stage, figures.StageTiming]) -> list[StageRow]:
    def row(s: Stage) -> StageRow:
        t = timings.get(s, figures.StageTiming(0, None, None))
        median = None if t.median_days is None else round(t.median_days, 1)
        p90 = None if t.p90_days is None else round(t.p90_days, 1)
        return StageRow(
            stage=s, name=STAGE_NAMES_ZH[s], deals=counts[s], finished_stays=t.finished, median_days=median, p90_days=p90
        )

    return [row(s) for s in Stage]


def _months(signed: list[tuple[datetime, int]], now: datetime) -> list[MonthRow]:
    local = now.astimezone(SHANGHAI)
    keys = []
    year, month = local.year, local.month
    for _ in range(MONTHS_SHOWN):
        keys.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    totals = {k: [0, 0] for k in keys}
    for at, fen in signed:
        day = at.astimezone(SHANGHAI)
        if (day.year, day.month) in totals:
            totals[(day.year, day.month)][0] += 1
            totals[(day.year, day.month)][1] += fen
    return [
        MonthRow(month=f"{y}-{m:02d}", label=f"{y}年{m}月", signed_deals=n, contract_value_fen=fen, contract_value=wan(fen))
        for (y, m), (n, fen) in sorted(totals.items())
    ]


def _demand_map(cells: list[tuple[str, str, int]]) -> DemandMap:
    names = code_names()
    by: dict[tuple[str, str], int] = {}
    for industry, region, n in cells:
        division = industry[:3]
        city = region[:4] + "00" if region[:4] + "00" in JIANGXI_CITIES else OUTSIDE_JIANGXI
        by[(city, division)] = by.get((city, division), 0) + n
    industries = sorted({d for _, d in by})
    cities = [*JIANGXI_CITIES, *([OUTSIDE_JIANGXI] if any(c == OUTSIDE_JIANGXI for c, _ in by) else [])]
    return DemandMap(
        cities=cities,
        city_names=[names["regions"].get(c, c) for c in cities],
        industries=industries,
        industry_names=[f"{d} {names['industries'].get(d, '')}".strip() for d in industries],
        cells=[[by.get((c, d), 0) for d in industries] for c in cities],
    )


def build_dashboard(svc: Services, scope: DashboardScope, now: datetime | None = None) -> Dashboard:
    """Every figure of one dashboard, read in one database session."""
    now = now or datetime.now(UTC)
    centre = scope.centre_id
    with svc.sessions() as session:
        if scope.province_view:
            province_timings, centre_timings = figures.province_stage_timings(session)
        else:
            province_timings, centre_timings = figures.stage_timings(session, centre), {}
        stages = _stage_rows(figures.funnel(session, centre), province_timings)
        attention = figures.attention(session, now, centre)
        loads = figures.workload(session, now, centre)
        months = _months(figures.signed_deals(session, centre), now)
        centres = demand = None
        if scope.province_view:
            centres = [
                CentreRow(
                    centre_id=c,
                    deals=sum(counts.values()),
                    open_deals=sum(counts[s] for s in OPEN_STAGES),
                    signed=counts[Stage.SIGNED],
                    stages=_stage_rows(counts, centre_timings.get(c, {})),
                )
                for c, counts in figures.funnel_by_centre(session).items()
            ]
            demand = _demand_map(figures.demand_cells(session))
        updated_at = figures.read_model_updated_at(session)
    return Dashboard(
        centre_id=centre,
        stages=stages,
        overdue=attention.overdue,
        escalated=attention.escalated,
        attention=[inbox_item(d, now) for d in attention.deals],
        workload=[BrokerRow(**vars(b)) for b in loads],
        months=months,
        centres=centres,
        demand_map=demand,
        updated_at=updated_at,
    )


def _scope(user: User, centre: str | None) -> DashboardScope:
    scope = dashboard_scope(user.actor, centre)
    if scope is None:
        if centre and user.centre_id and centre != user.centre_id:
            raise Forbidden(f"您只能查看本中心（{user.centre_id}）的仪表盘，不能查看 {centre}", code="dashboard_not_allowed")
        raise Forbidden("仪表盘供中心管理员、省中心和审计员查看", code="dashboard_not_allowed")
    return scope


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    user: Annotated[User, Depends(page_user)],
    svc: Annotated[Services, Depends(services)],
    centre: str | None = None,
) -> Response:
    data = build_dashboard(svc, _scope(user, centre))
    charts = data.model_dump(mode="json", include={"stages", "months", "workload", "demand_map"})
    lang = language_of(request)
    _ = gettext_for(lang)
    labels = {"deals": "案件数", "value": "合同成交额（万元）", "unit": "万元", "open": "在办", "overdue": "超期"}
    charts["labels"] = {key: _(text) for key, text in labels.items()}
    if lang != DEFAULT:  # the charts' labels in the page's language, like the tables next to them
        for row in charts["stages"]:
            row["name"] = _(row["name"])
        for month in charts["months"]:
            month["label"] = month["month"]
        if charts["demand_map"]:
            charts["demand_map"]["city_names"] = [_(c) for c in charts["demand_map"]["city_names"]]
    context = {"me": user, "d": data, "charts": charts, "freshness": freshness(data.updated_at)}
    return render(request, "dashboard.html", context)


@api_router.get("/dashboard")
def dashboard_api(
    user: Annotated[User, Depends(api_user)], svc: Annotated[Services, Depends(services)], centre: str | None = None
) -> Dashboard:
    """The dashboard's figures: a manager's centre; the hub admin's and auditors' province (or `centre`)."""
    return build_dashboard(svc, _scope(user, centre))


@router.get("/vendor/echarts.min.js", include_in_schema=False)
def echarts() -> Response:
    """ECharts from node_modules (npm registry, at setup time); pages draw tables without it."""
    if not ECHARTS.exists():
        raise PageError(404, "charts_missing", "ECharts 未安装：请运行 scripts/setup（npm ci）")
    return FileResponse(ECHARTS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
