"""Ranking quality: recall@10 and nDCG@10 of a ranking against graded relevance labels, and the plain BM25 baseline.

Labels are graded: 2 highly relevant, 1 relevant, absent 0. recall@k counts the highly relevant found in the top k
over all highly relevant (demands without any are left out of the mean); nDCG@k uses gains 2^grade − 1 and the
log2(rank + 1) discount, normalised by the ideal ordering of all labelled achievements.

The labelled set for the demo corpus is `registry/data/evaluation.json` (written by `kuayue demo-data --labels`):
the corpus is regenerated from its seed, the labels are read from the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from domain.matching import MatchConfig, MatchWeights
from domain.registry import RegisteredDemand

LABELS_FILE = Path(__file__).resolve().parent / "data" / "evaluation.json"
_ID_FORMAT = "JXCG-DEMO-{:05d}"

Labels = Mapping[str, Mapping[str, int]]


def recall_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float | None:
    """Share of the highly relevant (grade 2) in the top k; None when there are none to find."""
    wanted = {id_ for id_, grade in grades.items() if grade >= 2}
    if not wanted:
        return None
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def ndcg_at(ranked: Sequence[str], grades: Mapping[str, int], k: int = 10) -> float | None:
    """Normalised discounted cumulative gain of the top k; None when nothing is relevant."""
    ideal = sorted(grades.values(), reverse=True)[:k]
    ideal_dcg = sum((2**g - 1) / math.log2(rank + 2) for rank, g in enumerate(ideal))
    if ideal_dcg == 0:
        return None
    dcg = sum((2 ** grades.get(id_, 0) - 1) / math.log2(rank + 2) for rank, id_ in enumerate(ranked[:k]))
    return float(dcg / ideal_dcg)


@dataclass(frozen=True)
class Quality:
    recall: float
    ndcg: float
    demands: int

    def __str__(self) -> str:
        return f"recall@10 {self.recall:.3f}  nDCG@10 {self.ndcg:.3f}  ({self.demands} demands)"


def evaluate(
    rank: Callable[[RegisteredDemand], Sequence[str]], demands: Sequence[RegisteredDemand], labels: Labels, k: int = 10
) -> Quality:
    """Mean recall@k and nDCG@k of `rank` (achievement ids, best first) over the labelled demands."""
    recalls: list[float] = []
    gains: list[float] = []
    for demand in demands:
        grades = labels.get(demand.demand_id)
        if grades is None:
            continue
        ranked = list(rank(demand))
        recall, ndcg = recall_at(ranked, grades, k), ndcg_at(ranked, grades, k)
        if recall is not None:
            recalls.append(recall)
        if ndcg is not None:
            gains.append(ndcg)
    return Quality(sum(recalls) / len(recalls) if recalls else 0.0, sum(gains) / len(gains) if gains else 0.0, len(gains))


def plain_bm25(config: MatchConfig) -> MatchConfig:
    """The baseline: the same words and BM25 parameters, no synonyms, no structured fit."""
    return config.model_copy(
        update={"synonyms": (), "weights": MatchWeights(text=100, industry=0, readiness=0, mode=0, price=0, region=0)}
    )


def write_labels(path: Path, seed: int, achievements: int, demands: int, labels: Labels) -> None:
    """The labels as a compact file: per demand, the numbers of its grade-2 and grade-1 achievements."""
    compact = {
        demand: {str(g): sorted(int(id_.rsplit("-", 1)[1]) for id_, grade in grades.items() if grade == g) for g in (2, 1)}
        for demand, grades in labels.items()
    }
    body = {"seed": seed, "achievements": achievements, "demands": demands, "id_format": _ID_FORMAT, "labels": compact}
    path.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class LabelledSet:
    seed: int
    achievements: int
    demands: int
    labels: dict[str, dict[str, int]]


def read_labels(path: Path = LABELS_FILE) -> LabelledSet:
    body = json.loads(path.read_text(encoding="utf-8"))
    id_format: str = body["id_format"]
    labels = {
        demand: {id_format.format(n): int(g) for g, numbers in by_grade.items() for n in numbers}
        for demand, by_grade in body["labels"].items()
    }
    return LabelledSet(body["seed"], body["achievements"], body["demands"], labels)
