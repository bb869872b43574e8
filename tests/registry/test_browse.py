"""Browsing a registry without a query: the filters' records by id, a page at a time, agreeing with search's checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from domain.matching import DemandSide, Filters, SupplySide, demand_passes, supply_passes
from domain.parties import TransferMode
from registry import records
from registry.browse import browse_achievements, browse_demands
from registry.importer import import_file
from registry.tables import Kind
from store.db import make_engine, make_session_factory
from store.testing import migrated_database

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry"


@pytest.fixture(scope="module")
def sessions() -> Iterator[sessionmaker[Session]]:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        import_file(factory, REGISTRY / "achievements.csv")
        import_file(factory, REGISTRY / "demands.csv")
        yield factory
        engine.dispose()


ACHIEVEMENT_FILTERS = [
    Filters(),
    Filters(mode=TransferMode.LICENCE),
    Filters(industry="C", min_trl=7, max_price_fen=100 * 1_000_000),
    Filters(region="360100", mode=TransferMode.ASSIGNMENT),
]


@pytest.mark.parametrize("filters", ACHIEVEMENT_FILTERS)
def test_browsing_achievements_page_by_page_lists_exactly_what_the_filters_pass(
    sessions: sessionmaker[Session], filters: Filters
) -> None:
    with sessions() as session:
        everything = records.load(session, Kind.ACHIEVEMENTS)
        expected = [a.achievement_id for a in everything if supply_passes(SupplySide.of(a), filters)]  # type: ignore[arg-type]
        pages = [browse_achievements(session, filters, limit=4, offset=k) for k in range(0, 40, 4)]
    assert [a.achievement_id for p in pages for a in p.records] == expected  # type: ignore[union-attr]
    assert expected, "a filter that passes nothing would prove nothing"
    assert all(p.total >= len(expected) for p in pages)
    if filters.mode is None:
        assert pages[0].total == len(expected)  # every filter is SQL: the count is exact


def test_a_mode_filter_keeps_only_achievements_offering_it(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        ids = [a.achievement_id for a in browse_achievements(session, Filters(mode=TransferMode.LICENCE), limit=50).records]  # type: ignore[union-attr]
    assert "JXCG-2026-0002" in ids  # 转让；许可
    assert "JXCG-2026-0001" not in ids  # 合作开发；技术服务；转让


@pytest.mark.parametrize("filters", [Filters(), Filters(region="360700"), Filters(min_trl=5, max_price_fen=300 * 1_000_000)])
def test_browsing_demands_lists_exactly_what_the_filters_pass(sessions: sessionmaker[Session], filters: Filters) -> None:
    with sessions() as session:
        everything = records.load(session, Kind.DEMANDS)
        expected = [d.demand_id for d in everything if demand_passes(DemandSide.of(d), filters)]  # type: ignore[arg-type]
        pages = [browse_demands(session, filters, limit=3, offset=k) for k in range(0, 12, 3)]
    assert [d.demand_id for p in pages for d in p.records] == expected  # type: ignore[union-attr]
    assert expected, "a filter that passes nothing would prove nothing"
