"""Browsing a registry without a query: the records that pass the filters, by id, a page at a time.

A search ranks by text (`registry.matcher`); browsing has nothing to rank by, so it reads the database: the
filters with columns of their own (industry, region, readiness, price) narrow the rows in SQL, and the same
`domain.matching` checks a search applies decide each record, so browsing and searching never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from domain.matching import DemandSide, Filters, SupplySide, demand_passes, region_prefix, supply_passes
from domain.registry import Achievement, RegisteredDemand
from store.models import AchievementRecord, DemandRegistryRecord

# Read this many rows per round while skipping records the SQL part could not filter out (transfer modes).
_BATCH = 200


@dataclass(frozen=True)
class Page:
    records: list[Achievement] | list[RegisteredDemand]
    total: int  # rows passing the SQL part of the filters (an upper bound when a mode is asked for)


def browse_achievements(session: Session, filters: Filters, limit: int = 20, offset: int = 0) -> Page:
    t = AchievementRecord
    query: Select[Any] = select(t.record)
    if filters.industry:
        query = query.where(t.industry_code.startswith(filters.industry))
    if filters.region:
        query = query.where(t.region_code.startswith(region_prefix(filters.region)))
    if filters.min_trl is not None:
        query = query.where(t.trl >= filters.min_trl)
    if filters.max_price_fen is not None:
        query = query.where(or_(t.asking_price_fen.is_(None), t.asking_price_fen <= filters.max_price_fen))
    return _page(
        session,
        query.order_by(t.achievement_id),
        Achievement,
        lambda r: supply_passes(SupplySide.of(r), filters),
        filters,
        limit,
        offset,
    )


def browse_demands(session: Session, filters: Filters, limit: int = 20, offset: int = 0) -> Page:
    t = DemandRegistryRecord
    query: Select[Any] = select(t.record)
    if filters.industry:
        query = query.where(t.industry_code.startswith(filters.industry))
    if filters.region:
        query = query.where(t.region_code.startswith(region_prefix(filters.region)))
    if filters.min_trl is not None:
        query = query.where(t.min_trl <= filters.min_trl)
    if filters.max_price_fen is not None:
        query = query.where(t.budget_max_fen >= filters.max_price_fen)
    return _page(
        session,
        query.order_by(t.demand_id),
        RegisteredDemand,
        lambda r: demand_passes(DemandSide.of(r), filters),
        filters,
        limit,
        offset,
    )


def _page(
    session: Session,
    query: Select[Any],
    model: type[Achievement] | type[RegisteredDemand],
    passes: Callable[[Any], bool],
    filters: Filters,
    limit: int,
    offset: int,
) -> Page:
    """One page of `query`'s records that pass the domain's check, with the count of rows the SQL part lets through."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    # Without a mode every filter was SQL, so the page starts at its offset in SQL; a mode is checked here.
    start, offset = (offset, 0) if filters.mode is None else (0, offset)
    found: list[Any] = []
    skipped = 0
    for record in _records(session, query, model, start):
        if not passes(record):
            continue
        if skipped < offset:
            skipped += 1
            continue
        found.append(record)
        if len(found) == limit:
            break
    return Page(found, int(total))


def _records(
    session: Session, query: Select[Any], model: type[Achievement] | type[RegisteredDemand], start: int
) -> Iterator[Achievement | RegisteredDemand]:
    """The query's records from row `start`, read `_BATCH` rows at a time (most pages stop after the first batch)."""
    while True:
        texts = list(session.scalars(query.offset(start).limit(_BATCH)))
        for text in texts:
            yield model.model_validate(json.loads(text))
        if len(texts) < _BATCH:
            return
        start += len(texts)
