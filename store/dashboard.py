"""The manager dashboard's figures, computed in SQL over the `deals` and `stage_visits` read models.

Every function takes `centre_id` (None: the whole province) so the same query serves a centre's manager, each
centre of the hub's page and the province; `by_centre` variants answer all centres in one query.
Nothing here asks a workflow: a dashboard over 10,000 deals must not cost 10,000 queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from domain.projection import DealSummary
from domain.stages import OPEN_STAGES, Stage
from store.models import DealRecord, StageVisitRecord, UserRecord

OPEN = [s.value for s in OPEN_STAGES]


@dataclass(frozen=True)
class StageTiming:
    """How long finished stays in a stage took, in calendar days (nearest-rank percentiles)."""

    finished: int
    median_days: float | None
    p90_days: float | None


@dataclass(frozen=True)
class BrokerLoad:
    broker_id: str
    name: str | None
    open_deals: int
    overdue: int
    escalated: int


@dataclass(frozen=True)
class Attention:
    """Open deals that ran over their stage's due date or were escalated, worst first."""

    overdue: int
    escalated: int
    deals: list[DealSummary]


def _in_centre(column: Any, centre_id: str | None) -> list[ColumnElement[bool]]:
    return [] if centre_id is None else [column == centre_id]


def funnel(session: Session, centre_id: str | None = None) -> dict[Stage, int]:
    """Deals per stage (every stage, zero included)."""
    counts = {s: 0 for s in Stage}
    query = select(DealRecord.stage, func.count()).where(*_in_centre(DealRecord.centre_id, centre_id)).group_by(DealRecord.stage)
    for stage, n in session.execute(query):
        counts[Stage(stage)] = n
    return counts


def funnel_by_centre(session: Session) -> dict[str, dict[Stage, int]]:
    out: dict[str, dict[Stage, int]] = defaultdict(lambda: {s: 0 for s in Stage})
    query = select(DealRecord.centre_id, DealRecord.stage, func.count()).group_by(DealRecord.centre_id, DealRecord.stage)
    for centre, stage, n in session.execute(query):
        out[centre][Stage(stage)] = n
    return dict(sorted(out.items()))


def _ranked_timings(session: Session, centre_id: str | None, by_centre: bool) -> list[tuple[str | None, str, int, Any, Any]]:
    """(centre or None, stage, finished stays, median, p90) rows, nearest-rank percentiles.

    PostgreSQL has them built in (`percentile_disc` is the nearest rank) and answers the province and every
    centre in one pass with grouping sets. Elsewhere (SQLite) window functions rank the stays: the median is the
    ceil(n/2)-th and p90 the ceil(9n/10)-th, counted in integers so no backend's ceil() is needed. The store
    tests run both and expect the same figures.
    """
    v = StageVisitRecord
    where = [v.days.is_not(None), *_in_centre(v.centre_id, centre_id)]
    if session.get_bind().dialect.name == "postgresql":
        median, p90 = func.percentile_disc(0.5).within_group(v.days), func.percentile_disc(0.9).within_group(v.days)
        groups = func.grouping_sets(tuple_(v.stage), tuple_(v.centre_id, v.stage)) if by_centre else v.stage
        centre: Any = v.centre_id if by_centre else literal(None)
        query = select(centre, v.stage, func.count(), median, p90).where(*where).group_by(groups)
        return [(c, st, n, m, p) for c, st, n, m, p in session.execute(query)]
    rows = []
    for partition_by_centre in (False, True) if by_centre else (False,):
        part: list[Any] = [v.centre_id, v.stage] if partition_by_centre else [v.stage]
        ranked = (
            select(
                *part,
                v.days,
                func.row_number().over(partition_by=part, order_by=v.days).label("rn"),
                func.count().over(partition_by=part).label("n"),
            )
            .where(*where)
            .subquery()
        )
        median_rank, p90_rank = (ranked.c.n + 1) // 2, (9 * ranked.c.n + 9) // 10
        centre_column: Any = ranked.c.centre_id if partition_by_centre else literal(None)
        query = select(
            centre_column, ranked.c.stage, ranked.c.n, ranked.c.rn == median_rank, ranked.c.rn == p90_rank, ranked.c.days
        )
        found: dict[tuple[str | None, str], list[Any]] = {}
        for c, st, n, is_median, is_p90, days in session.execute(
            query.where(or_(ranked.c.rn == median_rank, ranked.c.rn == p90_rank))
        ):
            entry = found.setdefault((c, st), [c, st, n, None, None])
            if is_median:
                entry[3] = days
            if is_p90:
                entry[4] = days
        rows += [(c, st, n, m, p) for c, st, n, m, p in found.values()]
    return rows


def _timings(rows: list[tuple[str | None, str, int, Any, Any]]) -> dict[Stage, StageTiming]:
    found = {Stage(st): StageTiming(n, m, p) for _, st, n, m, p in rows}
    return {s: found.get(s, StageTiming(0, None, None)) for s in OPEN_STAGES}


def stage_timings(session: Session, centre_id: str | None = None) -> dict[Stage, StageTiming]:
    """Median and p90 days of the finished stays in each open stage (stays still running are not counted)."""
    return _timings(_ranked_timings(session, centre_id, by_centre=False))


def province_stage_timings(session: Session) -> tuple[dict[Stage, StageTiming], dict[str, dict[Stage, StageTiming]]]:
    """The province's stage timings and each centre's, in one pass where the backend allows."""
    rows = _ranked_timings(session, None, by_centre=True)
    by_centre: dict[str, list[tuple[str | None, str, int, Any, Any]]] = defaultdict(list)
    for row in rows:
        if row[0] is not None:
            by_centre[row[0]].append(row)
    province = _timings([r for r in rows if r[0] is None])
    return province, {c: _timings(r) for c, r in sorted(by_centre.items())}


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(DealRecord.stage_due_at.is_not(None), DealRecord.stage_due_at <= now)


def attention(session: Session, now: datetime, centre_id: str | None = None, limit: int = 50) -> Attention:
    """Open deals past their stage's due date or escalated: counts, and the worst `limit` of them."""
    where = [DealRecord.stage.in_(OPEN), *_in_centre(DealRecord.centre_id, centre_id)]
    needs = or_(DealRecord.escalation_level > 0, _overdue(now))
    overdue, escalated = session.execute(
        select(
            func.coalesce(func.sum(case((_overdue(now), 1), else_=0)), 0),
            func.coalesce(func.sum(case((DealRecord.escalation_level > 0, 1), else_=0)), 0),
        ).where(*where)
    ).one()
    query = (
        select(DealRecord)
        .where(*where, needs)
        .order_by(DealRecord.escalation_level.desc(), DealRecord.stage_due_at.asc().nulls_last(), DealRecord.deal_id)
        .limit(limit)
    )
    deals = [DealSummary.model_validate(r, from_attributes=True) for r in session.scalars(query)]
    return Attention(int(overdue), int(escalated), deals)


def workload(session: Session, now: datetime, centre_id: str | None = None) -> list[BrokerLoad]:
    """Open deals per broker, with how many of them are overdue or escalated; busiest first."""
    query = (
        select(
            DealRecord.broker_id,
            UserRecord.display_name,
            func.count(),
            func.sum(case((_overdue(now), 1), else_=0)),
            func.sum(case((DealRecord.escalation_level > 0, 1), else_=0)),
        )
        .outerjoin(UserRecord, UserRecord.username == DealRecord.broker_id)
        .where(DealRecord.stage.in_(OPEN), *_in_centre(DealRecord.centre_id, centre_id))
        .group_by(DealRecord.broker_id, UserRecord.display_name)
        .order_by(func.count().desc(), DealRecord.broker_id)
    )
    return [BrokerLoad(b, name, n, int(o), int(e)) for b, name, n, o, e in session.execute(query)]


def signed_deals(session: Session, centre_id: str | None = None) -> list[tuple[datetime, int]]:
    """(when the deal reached 已签约, contract value in fen) of every signed deal; the page buckets them by month."""
    query = select(DealRecord.stage_entered_at, DealRecord.contract_value_fen).where(
        DealRecord.stage == Stage.SIGNED.value,
        DealRecord.contract_value_fen.is_not(None),
        *_in_centre(DealRecord.centre_id, centre_id),
    )
    return [(at, fen or 0) for at, fen in session.execute(query)]


def demand_cells(session: Session, centre_id: str | None = None) -> list[tuple[str, str, int]]:
    """(industry code, region code, deals) for the demand map."""
    query = (
        select(DealRecord.industry_code, DealRecord.region_code, func.count())
        .where(*_in_centre(DealRecord.centre_id, centre_id))
        .group_by(DealRecord.industry_code, DealRecord.region_code)
    )
    return [(i, r, n) for i, r, n in session.execute(query)]


def read_model_updated_at(session: Session) -> datetime | None:
    """When the `deals` read model last changed (the newest archived append), for "数据更新于 … 前"."""
    return session.scalar(select(func.max(DealRecord.updated_at)))
