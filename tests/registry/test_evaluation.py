"""The evaluation: recall@k and nDCG@k on a hand-checked example, Kuayue against plain BM25 on a small seeded
corpus, and the labelled set in the repository is the demo generator's ground truth."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from domain.registry import RegisteredDemand
from registry.analyzer import Analyzer
from registry.demo import generate_corpus
from registry.engine import Engine, build_achievement_engine
from registry.evaluation import LABELS_FILE, evaluate, ndcg_at, plain_bm25, read_labels, recall_at, write_labels


def test_metrics_on_a_hand_checked_example() -> None:
    grades = {"a": 2, "b": 1, "c": 2}
    ranked = ["b", "a", "x"]
    # Two highly relevant (a, c), one of them in the top 3.
    assert recall_at(ranked, grades, k=3) == 0.5
    assert recall_at(ranked, grades, k=1) == 0.0
    # DCG: b (gain 2^1-1 = 1) at rank 1, a (gain 3) at rank 2, x nothing; ideal: 2, 2, 1.
    dcg = 1 / math.log2(2) + 3 / math.log2(3)
    ideal = 3 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at(ranked, grades, k=3) == pytest.approx(dcg / ideal)
    assert ndcg_at(ranked, grades, k=3) == pytest.approx(0.5364, abs=1e-4)
    assert ndcg_at(["a", "c", "b"], grades, k=3) == pytest.approx(1.0)
    # Nothing to find: left out of the means rather than counted as 0 or 1.
    assert recall_at(ranked, {"b": 1}) is None
    assert ndcg_at(ranked, {}) is None


def test_evaluate_means_over_labelled_demands(analyzer: Analyzer) -> None:
    demands = generate_corpus(achievements=0, demands=3, seed=1).demands
    answers = {demands[0].demand_id: ["a", "b"], demands[1].demand_id: ["c"], demands[2].demand_id: ["z"]}
    labels = {demands[0].demand_id: {"a": 2, "b": 2}, demands[1].demand_id: {"c": 1, "d": 2}}
    quality = evaluate(lambda d: answers[d.demand_id], demands, labels, k=10)
    assert quality.demands == 2  # the unlabelled third demand is not counted
    assert quality.recall == pytest.approx((1.0 + 0.0) / 2)
    second = (1 / math.log2(2)) / (3 / math.log2(2) + 1 / math.log2(3))
    assert quality.ndcg == pytest.approx((1.0 + second) / 2)


def test_kuayue_beats_plain_bm25_on_a_small_corpus(analyzer: Analyzer) -> None:
    corpus = generate_corpus(achievements=1000, demands=60, seed=4)
    pairs = [(a, analyzer.achievement_tokens(a)) for a in corpus.achievements]

    def ranking(engine: Engine) -> object:
        def rank(demand: RegisteredDemand) -> list[str]:
            found = engine.rank_achievements(demand, analyzer.demand_tokens(demand), limit=10)
            return [c.achievement.achievement_id for c in found]

        return rank

    kuayue = evaluate(ranking(build_achievement_engine(pairs, analyzer.config)), corpus.demands, corpus.relevance)  # type: ignore[arg-type]
    plain = evaluate(ranking(build_achievement_engine(pairs, plain_bm25(analyzer.config))), corpus.demands, corpus.relevance)  # type: ignore[arg-type]
    assert kuayue.demands == plain.demands > 50
    assert kuayue.recall > plain.recall
    assert kuayue.ndcg > plain.ndcg + 0.1


def test_labels_round_trip_and_the_stored_set_is_the_generators_ground_truth(tmp_path: Path) -> None:
    corpus = generate_corpus(achievements=50, demands=5, seed=9)
    path = tmp_path / "labels.json"
    write_labels(path, 9, 50, 5, corpus.relevance)
    assert read_labels(path).labels == corpus.relevance
    stored = read_labels(LABELS_FILE)
    assert (stored.achievements, stored.demands) == (3500, 740)
    assert stored.labels == generate_corpus(stored.achievements, stored.demands, stored.seed).relevance
