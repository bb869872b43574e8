"""Matching on the sample registries: the right achievement first for each example deal, reasons, synonyms, filters,
determinism, index versions. Pure: no database (the registry records are built in memory)."""

from __future__ import annotations

import random

import pytest

from domain.matching import (
    Filters,
    MatchIndex,
    MatchWeights,
    build_achievement_index,
    build_demand_index,
    price_fit,
    rank_achievements,
    rank_demands,
    search_achievements,
)
from domain.parties import TransferMode
from domain.registry import Achievement, RegisteredDemand
from examples.registry.build import achievements, demands
from registry.analyzer import Analyzer


def _index(analyzer: Analyzer, records: list[Achievement] | None = None, **config: object) -> MatchIndex:
    records = records if records is not None else achievements()
    cfg = analyzer.config.model_copy(update=config) if config else analyzer.config
    return build_achievement_index([(a, analyzer.achievement_tokens(a)) for a in records], cfg, analyzer.fingerprint)


def _demand(demand_id: str) -> RegisteredDemand:
    return next(d for d in demands() if d.demand_id == demand_id)


@pytest.mark.parametrize(
    ("demand_id", "expected_id", "expected_reasons"),
    [
        (
            "D-JA-2026-001",
            "JXCG-2026-0001",
            [
                "行业相同 (C2625 有机肥料及微生物肥料制造)",
                "技术就绪度 6 ≥ 要求 5",
                "报价 50 万元，在预算 30–80 万元之内",
                "同城 (吉安市)",
            ],
        ),
        (
            "D-FZ-2026-002",
            "JXCG-2026-0005",
            ["行业相同 (C3425 机床功能部件及附件制造)", "技术就绪度 7 ≥ 要求 6", "转化方式相符：许可、作价入股", "同省 (江西省)"],
        ),
        (
            "D-JJ-2026-003",
            "JXCG-2026-0009",
            ["行业相同 (C3562 半导体器件专用设备制造)", "转化方式相符：合作开发", "报价 1,500 万元，在预算 1,000–3,000 万元之内"],
        ),
    ],
)
def test_example_deals_get_their_achievement_first_with_reasons(
    analyzer: Analyzer, demand_id: str, expected_id: str, expected_reasons: list[str]
) -> None:
    demand = _demand(demand_id)
    candidates = rank_achievements(demand, analyzer.demand_tokens(demand), _index(analyzer), limit=5)
    best = candidates[0]
    assert best.achievement.achievement_id == expected_id
    assert best.score > candidates[1].score + 20  # a clear winner, not a coin toss
    assert best.reasons[0].startswith("文本相关度 1.00：命中")
    for expected in expected_reasons:
        assert any(reason.startswith(expected) for reason in best.reasons), (expected, best.reasons)


def test_near_misses_explain_what_does_not_fit(analyzer: Analyzer) -> None:
    demand = _demand("D-JA-2026-001")
    candidates = rank_achievements(demand, analyzer.demand_tokens(demand), _index(analyzer), limit=10)
    compost = next(c for c in candidates if c.achievement.achievement_id == "JXCG-2026-0002")
    assert "转化方式不符：需求 合作开发，成果提供 转让、许可（0.0/10 分）" in compost.reasons
    assert any(r.startswith("报价 120 万元，在预算 30–80 万元之外") for r in compost.reasons)


def test_price_reason_outside_budget() -> None:
    part = price_fit(300 * 1_000_000, 200 * 1_000_000, 250 * 1_000_000)
    assert part.reason == "报价 300 万元，在预算 200–250 万元之外"
    assert part.fraction == pytest.approx(0.8)
    assert price_fit(None, 0, 1).reason.startswith("报价面议")


def test_synonyms_find_achievements_worded_differently(analyzer: Analyzer) -> None:
    index = _index(analyzer)
    found = search_achievements(analyzer.query_tokens("钕铁硼"), index)
    assert [c.achievement.achievement_id for c in found] == ["JXCG-2026-0013"]
    assert found[0].reasons == ("文本相关度 1.00：命中 稀土永磁（同义：钕铁硼）",)
    # Without the synonym file the same query finds nothing.
    assert search_achievements(analyzer.query_tokens("钕铁硼"), _index(analyzer, synonyms=())) == []
    # The Ganzhou motor demand says 钕铁硼; its achievement says 稀土永磁.
    demand = _demand("D-GZ-2026-004")
    best = rank_achievements(demand, analyzer.demand_tokens(demand), index, limit=1)[0]
    assert best.achievement.achievement_id == "JXCG-2026-0013"
    assert "稀土永磁（同义：钕铁硼）" in best.reasons[0]


def test_filters(analyzer: Analyzer) -> None:
    index = _index(analyzer)
    demand = _demand("D-FZ-2026-002")
    tokens = analyzer.demand_tokens(demand)

    def ids(filters: Filters) -> list[str]:
        return [c.achievement.achievement_id for c in rank_achievements(demand, tokens, index, filters, limit=50)]

    by_id = {a.achievement_id: a for a in achievements()}
    assert all(by_id[i].industry_code.startswith("C34") for i in ids(Filters(industry="C34")))
    assert all(by_id[i].region_code == "360800" for i in ids(Filters(region="360800")))
    assert all(by_id[i].region_code.startswith("36") for i in ids(Filters(region="360000")))
    assert all(by_id[i].trl >= 8 for i in ids(Filters(min_trl=8)))
    assert all(TransferMode.EQUITY in by_id[i].transfer_modes for i in ids(Filters(mode=TransferMode.EQUITY)))
    cheap = ids(Filters(max_price_fen=100 * 1_000_000))
    assert "JXCG-2026-0005" not in cheap
    assert all(by_id[i].asking_price_fen is None or by_id[i].asking_price_fen <= 100 * 1_000_000 for i in cheap)
    assert "JXCG-2026-0004" in cheap  # negotiable passes a price filter
    assert len(ids(Filters())) == 30


def test_ranking_is_deterministic_and_ties_go_by_id(analyzer: Analyzer) -> None:
    records = achievements()
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    demand = _demand("D-JJ-2026-003")
    tokens = analyzer.demand_tokens(demand)
    first, second = _index(analyzer, records), _index(analyzer, shuffled)
    assert first.version == second.version
    assert rank_achievements(demand, tokens, first, limit=30) == rank_achievements(demand, tokens, second, limit=30)
    # With only structured parts that every achievement meets equally, the order is the ids' order.
    flat = _index(analyzer, weights=MatchWeights(text=0, industry=0, readiness=0, mode=0, price=0, region=0))
    ranked = rank_achievements(demand, tokens, flat, limit=30)
    assert [c.achievement.achievement_id for c in ranked] == sorted(a.achievement_id for a in records)


def test_index_version_names_records_weights_and_synonyms(analyzer: Analyzer) -> None:
    base = _index(analyzer).version
    assert base.startswith("ach-")
    assert _index(analyzer, weights=MatchWeights(text=50)).version != base
    assert _index(analyzer, synonyms=()).version != base
    changed = [a.model_copy(update={"trl": 9}) if a.achievement_id == "JXCG-2026-0001" else a for a in achievements()]
    assert _index(analyzer, changed).version != base


def test_demands_for_an_achievement(analyzer: Analyzer) -> None:
    index = build_demand_index([(d, analyzer.demand_tokens(d)) for d in demands()], analyzer.config, analyzer.fingerprint)
    achievement = next(a for a in achievements() if a.achievement_id == "JXCG-2026-0009")
    ranked = rank_demands(achievement, analyzer.achievement_tokens(achievement), index, limit=3)
    assert ranked[0].demand_id == "D-JJ-2026-003"
    assert ranked[0].enterprise_name == "江西汉可泛半导体技术有限公司"
    assert "行业相同 (C3562 半导体器件专用设备制造)（20.0/20 分）" in ranked[0].reasons
    assert index.version.startswith("dem-")


def test_empty_and_huge_queries(analyzer: Analyzer) -> None:
    with pytest.raises(ValueError, match="查询内容为空"):
        analyzer.query_tokens("   ")
    huge = "超声主轴" * 25_000
    found = search_achievements(analyzer.query_tokens(huge), _index(analyzer), limit=3)
    assert found[0].achievement.achievement_id == "JXCG-2026-0005"
