"""The fast engine (registry.engine) gives exactly the reference rankings of domain.matching: same records, same
order, same scores, same reasons, same index version — on a seeded corpus, for many demands, filters and limits."""

from __future__ import annotations

import random

import pytest

from domain.matching import (
    Filters,
    MatchWeights,
    build_achievement_index,
    build_demand_index,
    rank_achievements,
    rank_demands,
    search_achievements,
)
from domain.parties import TransferMode
from domain.registry import Achievement, RegisteredDemand
from examples.registry.build import achievements, demands
from registry.analyzer import Analyzer
from registry.demo import generate_corpus
from registry.engine import build_achievement_engine, build_demand_engine

WAN = 1_000_000


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Achievement], list[RegisteredDemand]]:
    generated = generate_corpus(achievements=1200, demands=60, seed=11)
    # The samples too: they carry the example deals' fits and near misses, and budgets of 0 and negotiable prices.
    return achievements() + generated.achievements, demands() + generated.demands


def _filters(rng: random.Random) -> Filters:
    return Filters(
        industry=rng.choice([None, None, "C", "C34", "C3425", "A01"]),
        region=rng.choice([None, None, "360000", "360800", "3601", "440000"]),
        min_trl=rng.choice([None, None, 4, 7]),
        mode=rng.choice([None, None, *TransferMode]),
        max_price_fen=rng.choice([None, None, 50 * WAN, 800 * WAN, 0]),
    )


def test_engine_ranks_achievements_exactly_as_the_reference(
    analyzer: Analyzer, corpus: tuple[list[Achievement], list[RegisteredDemand]]
) -> None:
    records, wanted = corpus
    pairs = [(a, analyzer.achievement_tokens(a)) for a in records]
    reference = build_achievement_index(pairs, analyzer.config, analyzer.fingerprint)
    engine = build_achievement_engine(list(reversed(pairs)), analyzer.config, analyzer.fingerprint)
    assert engine.version == reference.version
    rng = random.Random(2026)
    compared = 0
    for demand in wanted:
        tokens = analyzer.demand_tokens(demand)
        for _ in range(3):
            filters, limit = _filters(rng), rng.choice([1, 10, 10, 37])
            expected = rank_achievements(demand, tokens, reference, filters, limit)
            assert engine.rank_achievements(demand, tokens, filters, limit) == expected, (demand.demand_id, filters, limit)
            assert engine.search_achievements(tokens, filters, limit) == search_achievements(tokens, reference, filters, limit)
            compared += len(expected)
    assert compared > 1000  # the comparisons were not vacuous


def test_engine_breaks_ties_by_id_as_the_reference(
    analyzer: Analyzer, corpus: tuple[list[Achievement], list[RegisteredDemand]]
) -> None:
    # Structured parts only, coarse weights: thousands of equal scores, so the order is decided by ids and rounding.
    records, wanted = corpus
    config = analyzer.config.model_copy(
        update={"weights": MatchWeights(text=0, industry=3, readiness=1, mode=1, price=0, region=1)}
    )
    pairs = [(a, analyzer.achievement_tokens(a)) for a in records]
    reference = build_achievement_index(pairs, config)
    engine = build_achievement_engine(pairs, config)
    for demand in wanted[:20]:
        tokens = analyzer.demand_tokens(demand)
        expected = rank_achievements(demand, tokens, reference, limit=25)
        assert len({c.score for c in expected}) < len(expected)
        assert engine.rank_achievements(demand, tokens, limit=25) == expected


def test_engine_ranks_demands_exactly_as_the_reference(
    analyzer: Analyzer, corpus: tuple[list[Achievement], list[RegisteredDemand]]
) -> None:
    records, wanted = corpus
    pairs = [(d, analyzer.demand_tokens(d)) for d in wanted]
    reference = build_demand_index(pairs, analyzer.config, analyzer.fingerprint)
    engine = build_demand_engine(pairs, analyzer.config, analyzer.fingerprint)
    assert engine.version == reference.version
    rng = random.Random(7)
    for achievement in rng.sample(records, 40):
        tokens = analyzer.achievement_tokens(achievement)
        filters = _filters(rng)
        assert engine.rank_demands(achievement, tokens, filters, 10) == rank_demands(achievement, tokens, reference, filters, 10)


def test_engine_on_an_empty_registry(analyzer: Analyzer) -> None:
    engine = build_achievement_engine([], analyzer.config)
    demand = demands()[0]
    assert engine.rank_achievements(demand, analyzer.demand_tokens(demand)) == []
    assert engine.search_achievements(analyzer.query_tokens("超声主轴")) == []
