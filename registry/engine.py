"""The fast matching engine: the rankings of `domain.matching`, computed over numpy columns.

`domain.matching` is the definition (pure, plain Python, one record at a time); this module gives the same rankings,
scores and reasons — bit for bit, `tests/registry/test_engine.py` compares them on seeded corpora — fast enough for
100,000 records:
- postings live in flat arrays (term → slice of document positions and counts), not in Python lists of tuples;
- BM25 adds each query term's contribution to a score array with the same operations in the same order as the
  reference, so every float is identical;
- structured fit looks each record's industry, region, readiness and modes up in a small table computed with the
  reference's own functions for each distinct value, and computes the price part element-wise;
- the top k are chosen on the unrounded totals, then the few records within rounding distance of the k-th are
  rounded exactly as the reference rounds and ordered by (score, id); reasons are written for those k only.
"""

from __future__ import annotations

import math
import sys
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from domain.events import Candidate
from domain.matching import (
    NO_FILTERS,
    DemandSide,
    Filters,
    MatchConfig,
    Query,
    RankedDemand,
    SupplySide,
    describe_text_hits,
    expand_query,
    explain,
    index_version,
    industry_fraction,
    mode_fraction,
    readiness_fraction,
    record_hash,
    region_fraction,
    region_prefix,
)
from domain.parties import AchievementRef
from domain.registry import Achievement, RegisteredDemand

Floats = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
# Rounding to 4 decimals moves a score by at most 5e-5: anything further than this below the k-th total cannot
# round into the top k.
_ROUNDING_MARGIN = 1e-3

K = TypeVar("K", bound=Hashable)
R = TypeVar("R", Achievement, RegisteredDemand)


class _Column(Generic[K]):
    """A per-record value stored as an index into its distinct values, so a function of it is one table lookup."""

    def __init__(self, values: Sequence[K]) -> None:
        self.distinct: list[K] = list(dict.fromkeys(values))
        lookup = {value: n for n, value in enumerate(self.distinct)}
        self.codes = np.fromiter((lookup[v] for v in values), dtype=np.int32, count=len(values))

    def map(self, function: Callable[[K], float]) -> Floats:
        table = np.array([function(value) for value in self.distinct], dtype=np.float64)
        return table[self.codes] if len(table) else np.zeros(len(self.codes))

    def test(self, predicate: Callable[[K], bool]) -> Mask:
        table = np.array([predicate(value) for value in self.distinct], dtype=np.bool_)
        return table[self.codes] if len(table) else np.zeros(len(self.codes), dtype=np.bool_)


class _Postings:
    """BM25 over pre-segmented documents, as `domain.matching.TextIndex`, in flat arrays."""

    def __init__(self, documents: Iterable[Sequence[str]], k1: float, b: float) -> None:
        self._k1 = k1
        vocabulary: dict[str, int] = {}
        terms, positions, counts, lengths = array("i"), array("i"), array("i"), array("q")
        # One document's words at a time: a registry of 100,000 never holds all its words as Python lists.
        for position, doc in enumerate(documents):
            lengths.append(len(doc))
            for token, count in Counter(doc).items():
                terms.append(vocabulary.setdefault(token, len(vocabulary)))
                positions.append(position)
                counts.append(count)
        size = len(lengths)
        term_of = np.frombuffer(terms, dtype=np.int32)
        # A stable sort keeps each term's documents in position order, as the reference's postings are.
        order = np.argsort(term_of, kind="stable")
        self._positions = np.frombuffer(positions, dtype=np.int32)[order]
        self._counts = np.frombuffer(counts, dtype=np.int32)[order].astype(np.float64)
        self._offsets = np.concatenate(([0], np.cumsum(np.bincount(term_of, minlength=len(vocabulary))))).astype(np.int64)
        self._vocabulary = vocabulary
        length = np.frombuffer(lengths, dtype=np.int64)
        average = int(length.sum()) / size if size else 0.0
        # Same operations, same order as the reference, so the floats are identical.
        self._norm = k1 * (1 - b + b * (length / average if average else np.zeros(size)))
        hits = np.diff(self._offsets)
        self._idf = [math.log(1 + (size - n + 0.5) / (n + 0.5)) for n in hits.tolist()]
        self.size = size

    def scores(self, terms: dict[str, float]) -> Floats:
        result = np.zeros(self.size)
        k1_plus_1 = self._k1 + 1
        for term, weight in terms.items():
            slot = self._vocabulary.get(term)
            if slot is None:
                continue
            start, end = self._offsets[slot], self._offsets[slot + 1]
            where, count = self._positions[start:end], self._counts[start:end]
            idf = self._idf[slot] * weight
            result[where] += idf * count * k1_plus_1 / (count + self._norm[where])
        return result

    def idf(self, term: str) -> float:
        slot = self._vocabulary.get(term)
        return 0.0 if slot is None else self._idf[slot]

    def contains(self, position: int, term: str) -> bool:
        slot = self._vocabulary.get(term)
        if slot is None:
            return False
        hits = self._positions[self._offsets[slot] : self._offsets[slot + 1]]
        at = int(np.searchsorted(hits, position))
        return at < len(hits) and int(hits[at]) == position


@dataclass(frozen=True)
class _Ranked:
    position: int
    score: float
    fraction: float


class Engine:
    """Records of one kind (achievements or demands), sorted by id, with their text index and structured columns."""

    def __init__(
        self,
        kind: str,
        entries: Iterable[tuple[SupplySide | DemandSide, AchievementRef | RankedDemand, Sequence[str]]],
        config: MatchConfig,
        version: Callable[[], str],
    ) -> None:
        """`entries` sorted by id, consumed once (records can stream in); `version` is asked once they are all in."""
        self.kind = kind
        self.config = config
        self._sides: list[SupplySide | DemandSide] = []
        self._labels: list[AchievementRef | RankedDemand] = []

        def documents() -> Iterator[Sequence[str]]:
            for side, label, tokens in entries:
                self._sides.append(side)
                self._labels.append(label)
                yield tokens

        self._text = _Postings(documents(), config.bm25_k1, config.bm25_b)
        self.version = version()
        sides = self._sides
        self._industry = _Column([s.industry_code for s in sides])
        self._region = _Column([s.region_code for s in sides])
        self._modes = _Column([s.modes for s in sides])
        if kind == "achievements":
            supplies = [s for s in sides if isinstance(s, SupplySide)]
            self._readiness = _Column([s.trl for s in supplies])
            self._priced = np.fromiter((s.price_fen is not None for s in supplies), dtype=np.bool_, count=len(sides))
            self._money = np.fromiter((s.price_fen or 0 for s in supplies), dtype=np.int64, count=len(sides))
        else:
            demands = [s for s in sides if isinstance(s, DemandSide)]
            self._readiness = _Column([d.min_trl for d in demands])
            self._priced = np.ones(len(sides), dtype=np.bool_)
            self._money = np.fromiter((d.budget_max_fen for d in demands), dtype=np.int64, count=len(sides))

    def __len__(self) -> int:
        return len(self._sides)

    # ------------------------------------------------------------ rankings

    def rank_achievements(
        self, demand: RegisteredDemand, query_tokens: Sequence[str], filters: Filters = NO_FILTERS, limit: int = 10
    ) -> list[Candidate]:
        """As `domain.matching.rank_achievements`."""
        self._expect("achievements")
        wanted = DemandSide.of(demand)
        parts = [
            self._industry.map(lambda code: industry_fraction(wanted.industry_code, code)),
            self._readiness.map(lambda trl: readiness_fraction(trl, wanted.min_trl)),
            self._modes.map(lambda modes: mode_fraction(modes, wanted.modes)),
            self._supply_price(wanted.budget_max_fen),
            self._region.map(lambda code: region_fraction(wanted.region_code, code)),
        ]
        query = expand_query(query_tokens, self.config)
        result = []
        for ranked in self._rank(query, parts, filters, limit):
            side = self._sides[ranked.position]
            label = self._labels[ranked.position]
            assert isinstance(side, SupplySide) and isinstance(label, AchievementRef)
            reasons = explain(
                wanted, side, ranked.fraction, self._text_reason(ranked.position, query, ranked.fraction), self.config
            )
            result.append(Candidate(achievement=label, score=ranked.score, reasons=tuple(reasons)))
        return result

    def rank_demands(
        self, achievement: Achievement, query_tokens: Sequence[str], filters: Filters = NO_FILTERS, limit: int = 10
    ) -> list[RankedDemand]:
        """As `domain.matching.rank_demands`."""
        self._expect("demands")
        offered = SupplySide.of(achievement)
        parts = [
            self._industry.map(lambda code: industry_fraction(code, offered.industry_code)),
            self._readiness.map(lambda min_trl: readiness_fraction(offered.trl, min_trl)),
            self._modes.map(lambda modes: mode_fraction(offered.modes, modes)),
            self._demand_price(offered.price_fen),
            self._region.map(lambda code: region_fraction(code, offered.region_code)),
        ]
        query = expand_query(query_tokens, self.config)
        result = []
        for ranked in self._rank(query, parts, filters, limit):
            side = self._sides[ranked.position]
            label = self._labels[ranked.position]
            assert isinstance(side, DemandSide) and isinstance(label, RankedDemand)
            reasons = explain(
                side, offered, ranked.fraction, self._text_reason(ranked.position, query, ranked.fraction), self.config
            )
            result.append(label.model_copy(update={"score": ranked.score, "reasons": tuple(reasons)}))
        return result

    def search_achievements(self, query_tokens: Sequence[str], filters: Filters = NO_FILTERS, limit: int = 10) -> list[Candidate]:
        """As `domain.matching.search_achievements`: words only, best text match 100, records without a hit left out."""
        self._expect("achievements")
        result = []
        for label, score, reason in self._search(query_tokens, filters, limit):
            assert isinstance(label, AchievementRef)
            result.append(Candidate(achievement=label, score=score, reasons=(reason,)))
        return result

    def search_demands(self, query_tokens: Sequence[str], filters: Filters = NO_FILTERS, limit: int = 10) -> list[RankedDemand]:
        """Demands for free text, scored as `search_achievements` scores achievements."""
        self._expect("demands")
        result = []
        for label, score, reason in self._search(query_tokens, filters, limit):
            assert isinstance(label, RankedDemand)
            result.append(label.model_copy(update={"score": score, "reasons": (reason,)}))
        return result

    def _search(
        self, query_tokens: Sequence[str], filters: Filters, limit: int
    ) -> list[tuple[AchievementRef | RankedDemand, float, str]]:
        query = expand_query(query_tokens, self.config)
        text = self._text.scores(query.terms)
        eligible = (text > 0) & self._passes(filters)
        best = float(text[eligible].max()) if eligible.any() else 0.0
        scores = 100 * text / best if best > 0 else np.zeros(len(text))
        return [
            (self._labels[position], score, self._text_reason(position, query, score / 100))
            for position, score in self._top(scores, eligible, limit)
        ]

    # ------------------------------------------------------------ internals

    def _expect(self, kind: str) -> None:
        if self.kind != kind:
            raise ValueError(f"index of {self.kind} given; this ranking needs an index of {kind}")

    def _rank(self, query: Query, parts: list[Floats], filters: Filters, limit: int) -> list[_Ranked]:
        w = self.config.weights
        text = self._text.scores(query.terms)
        eligible = self._passes(filters)
        best = float(text[eligible].max()) if eligible.any() else 0.0
        fraction = text / best if best > 0 else np.zeros(len(text))
        industry, readiness, mode, price, region = parts
        # Left to right, as `domain.matching.total_score` adds them: the same floats before rounding.
        totals = w.text * fraction + w.industry * industry + w.readiness * readiness + w.mode * mode + w.price * price
        totals = totals + w.region * region
        return [_Ranked(position, score, float(fraction[position])) for position, score in self._top(totals, eligible, limit)]

    def _top(self, totals: Floats, eligible: Mask, limit: int) -> list[tuple[int, float]]:
        """The best `limit` eligible positions by (score rounded to 4 places, descending; id ascending)."""
        if limit <= 0:
            return []
        positions = np.flatnonzero(eligible)
        if len(positions) == 0:
            return []
        values = totals[positions]
        if len(positions) > limit:
            kth = float(np.partition(values, len(values) - limit)[len(values) - limit])
            near = values >= kth - _ROUNDING_MARGIN
            positions, values = positions[near], values[near]
        # Positions follow the ids' order, so ordering by position breaks ties by id.
        ranked = sorted((-round(float(v), 4), int(p)) for p, v in zip(positions.tolist(), values.tolist(), strict=True))
        return [(p, -negative) for negative, p in ranked[:limit]]

    def _passes(self, filters: Filters) -> Mask:
        """Which records pass the filters: `domain.matching.supply_passes` / `demand_passes`, column-wise."""
        mask = np.ones(len(self._sides), dtype=np.bool_)
        if filters == NO_FILTERS:
            return mask
        if filters.industry:
            industry = filters.industry
            mask &= self._industry.test(lambda code: code.startswith(industry))
        if filters.region:
            prefix = region_prefix(filters.region)
            mask &= self._region.test(lambda code: code.startswith(prefix))
        codes = np.array(self._readiness.distinct, dtype=np.int64)[self._readiness.codes] if len(self) else np.zeros(0, np.int64)
        if self.kind == "achievements":
            if filters.min_trl is not None:
                mask &= codes >= filters.min_trl
            if filters.mode is not None:
                mode = filters.mode.value
                mask &= self._modes.test(lambda modes: mode in modes)
            if filters.max_price_fen is not None:
                mask &= ~self._priced | (self._money <= filters.max_price_fen)
        else:
            if filters.min_trl is not None:
                mask &= codes <= filters.min_trl
            if filters.mode is not None:
                mode = filters.mode.value
                mask &= self._modes.test(lambda modes: not modes or mode in modes)
            if filters.max_price_fen is not None:
                mask &= self._money >= filters.max_price_fen
        return mask

    def _supply_price(self, budget_max_fen: int) -> Floats:
        """`price_fraction(price, budget_max)` for every achievement; integer differences keep the floats identical."""
        # A budget of 0: any price is 100 % over it, as in the reference.
        over = (self._money - budget_max_fen).astype(np.float64) / budget_max_fen if budget_max_fen else np.ones(len(self._money))
        fraction: Floats = np.where(self._money <= budget_max_fen, 1.0, np.maximum(0.0, 1.0 - over))
        return np.where(self._priced, fraction, 0.7)

    def _demand_price(self, price_fen: int | None) -> Floats:
        """`price_fraction(price, budget_max)` of one achievement's price against every demand's budget."""
        budgets = self._money
        if price_fen is None:
            return np.full(len(budgets), 0.7)
        with np.errstate(divide="ignore", invalid="ignore"):
            over = np.where(budgets > 0, (price_fen - budgets).astype(np.float64) / budgets, 1.0)
        result: Floats = np.where(price_fen <= budgets, 1.0, np.maximum(0.0, 1.0 - over))
        return result

    def _text_reason(self, position: int, query: Query, fraction: float) -> str:
        found = [term for term in query.terms if self._text.contains(position, term)]
        return describe_text_hits(found, query, self._text.idf, fraction)


def build_achievement_engine(
    records: Sequence[tuple[Achievement, Sequence[str]]], config: MatchConfig, analyzer_fingerprint: str = ""
) -> Engine:
    """As `domain.matching.build_achievement_index`, with the same index version."""
    pairs = {a.achievement_id: tokens for a, tokens in records}
    return achievement_engine([a for a, _ in records], lambda a: pairs[a.achievement_id], config, analyzer_fingerprint)


def build_demand_engine(
    records: Sequence[tuple[RegisteredDemand, Sequence[str]]], config: MatchConfig, analyzer_fingerprint: str = ""
) -> Engine:
    """As `domain.matching.build_demand_index`, with the same index version."""
    pairs = {d.demand_id: tokens for d, tokens in records}
    return demand_engine([d for d, _ in records], lambda d: pairs[d.demand_id], config, analyzer_fingerprint)


def achievement_engine(
    records: Iterable[Achievement],
    tokens: Callable[[Achievement], Sequence[str]],
    config: MatchConfig,
    analyzer_fingerprint: str = "",
    hashes: Mapping[str, str] | None = None,
    presorted: bool = False,
) -> Engine:
    """An achievement engine that segments each record (`tokens`) only while indexing it; `hashes` (by id) saves
    recomputing the records' content hashes; `presorted` records (by id) may stream in from an iterator."""
    known = hashes or {}
    ordered = records if presorted else sorted(records, key=lambda a: a.achievement_id)
    return _engine(
        "achievements",
        ordered,
        lambda a: (SupplySide.of(a), a.ref()),
        tokens,
        lambda a: known.get(a.achievement_id) or record_hash(a),
        config,
        analyzer_fingerprint,
    )


def demand_engine(
    records: Iterable[RegisteredDemand],
    tokens: Callable[[RegisteredDemand], Sequence[str]],
    config: MatchConfig,
    analyzer_fingerprint: str = "",
    hashes: Mapping[str, str] | None = None,
    presorted: bool = False,
) -> Engine:
    """A demand engine, as `achievement_engine`."""
    known = hashes or {}
    ordered = records if presorted else sorted(records, key=lambda d: d.demand_id)
    return _engine(
        "demands",
        ordered,
        lambda d: (
            DemandSide.of(d),
            RankedDemand(demand_id=d.demand_id, title=d.title, enterprise_name=d.enterprise_name, score=0),
        ),
        tokens,
        lambda d: known.get(d.demand_id) or record_hash(d),
        config,
        analyzer_fingerprint,
    )


def _engine(
    kind: str,
    ordered: Iterable[R],
    entry: Callable[[R], tuple[SupplySide | DemandSide, AchievementRef | RankedDemand]],
    tokens: Callable[[R], Sequence[str]],
    hash_of: Callable[[R], str],
    config: MatchConfig,
    analyzer_fingerprint: str,
) -> Engine:
    hashes: list[str] = []

    def entries() -> Iterator[tuple[SupplySide | DemandSide, AchievementRef | RankedDemand, Sequence[str]]]:
        for record in ordered:
            hashes.append(hash_of(record))
            side, label = entry(record)
            yield side, label, tokens(record)

    return Engine(kind, entries(), config, lambda: index_version(kind, hashes, config, analyzer_fingerprint))


class SegmentationCache:
    """The words of each record by content hash, so rebuilding an index after a few records changed segments only those.

    Segmentation is most of an index build (jieba: ≈ 0.45 ms a record); the words are kept as tuples of interned
    strings, about 1 KB a record. Entries of records no longer in the registry are dropped at each build.
    """

    def __init__(self) -> None:
        self._words: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def segmenter(
        self, hashes: Mapping[str, str], segment: Callable[[R], Sequence[str]], id_of: Callable[[R], str]
    ) -> Segmenter[R]:
        return Segmenter(self, hashes, segment, id_of)

    def keep(self, used: dict[str, tuple[str, ...]]) -> None:
        with self._lock:
            self._words = used

    def get(self, key: str) -> tuple[str, ...] | None:
        return self._words.get(key)


class Segmenter(Generic[R]):
    """One build's view of the cache: known words reused, the rest segmented, what was used kept for the next build."""

    def __init__(
        self,
        cache: SegmentationCache,
        hashes: Mapping[str, str],
        segment: Callable[[R], Sequence[str]],
        id_of: Callable[[R], str],
    ) -> None:
        self._cache = cache
        self._hashes = hashes
        self._segment: Callable[[R], Sequence[str]] = segment
        self._id_of: Callable[[R], str] = id_of
        self.used: dict[str, tuple[str, ...]] = {}
        self.segmented = 0

    def __call__(self, record: R) -> Sequence[str]:
        key = self._hashes[self._id_of(record)]
        words = self._cache.get(key)
        if words is None:
            words = tuple(sys.intern(w) for w in self._segment(record))
            self.segmented += 1
        self.used[key] = words
        return words
