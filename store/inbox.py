"""The inbox query: deals within a read scope, filtered by stage, industry, region and due date, sorted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from domain.projection import DealSummary
from domain.stages import Stage
from store.models import DealRecord

# Sort keys the inbox offers; each ends with the deal id so equal keys keep a stable order.
SORTS: dict[str, tuple[Any, ...]] = {
    "due": (DealRecord.stage_due_at.asc().nulls_last(), DealRecord.deal_id),
    "due_desc": (DealRecord.stage_due_at.desc().nulls_last(), DealRecord.deal_id),
    "entered": (DealRecord.stage_entered_at.desc(), DealRecord.deal_id),
    "activity": (DealRecord.last_event_at.desc(), DealRecord.deal_id),
    "deal": (DealRecord.deal_id,),
}


@dataclass(frozen=True)
class DealFilter:
    """What the inbox's form narrows to; `None` means any. Codes match as prefixes (C34 matches C3425)."""

    stage: Stage | None = None
    industry: str | None = None
    region: str | None = None
    due_before: datetime | None = None
    sort: str = "due"


def find_deals(session: Session, scope: Sequence[ColumnElement[bool]], wanted: DealFilter, limit: int = 200) -> list[DealSummary]:
    query = select(DealRecord).where(*scope)
    if wanted.stage is not None:
        query = query.where(DealRecord.stage == wanted.stage.value)
    if wanted.industry:
        query = query.where(DealRecord.industry_code.startswith(wanted.industry, autoescape=True))
    if wanted.region:
        query = query.where(DealRecord.region_code.startswith(wanted.region, autoescape=True))
    if wanted.due_before is not None:
        query = query.where(DealRecord.stage_due_at < wanted.due_before)
    query = query.order_by(*SORTS[wanted.sort]).limit(limit)
    return [DealSummary.model_validate(r, from_attributes=True) for r in session.scalars(query)]


def visible_deal(session: Session, scope: Sequence[ColumnElement[bool]], deal_id: str) -> DealSummary | None:
    """The deal's row if it exists and the scope lets it be seen."""
    record = session.scalar(select(DealRecord).where(DealRecord.deal_id == deal_id, *scope))
    return None if record is None else DealSummary.model_validate(record, from_attributes=True)
