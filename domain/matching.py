"""Matching demands and achievements: BM25 over words plus structured fit, with the reasons in words.

Pure and deterministic: the caller segments the text (the registry uses jieba) and passes tokens in; the same
records, tokens and `MatchConfig` always give the same ranking (ties broken by id) and the same index version.

A score is out of 100: each part contributes `weight × fraction`, fraction in [0, 1]:
- text: BM25 of the query (expanded with the brokers' synonyms) over title, abstract and keywords, divided by the
  best BM25 among the candidates that pass the filters, so the best text match gets the full text weight;
- industry: same class (4 digits) 1, same group (3) 0.8, same division (2) 0.6, same section 0.25, else 0;
- readiness: TRL ≥ the demand's minimum 1, one level short 0.4, further short 0;
- mode: an offered transfer mode the demand prefers 1 (no preference 1), none 0;
- price: within or below the budget 1, negotiable 0.7, above the budget falling to 0 at twice its maximum;
- region: same city 1, same province 0.6, elsewhere 0.2 (local transfer is a policy goal).
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pydantic import Field

from domain.events import Candidate, canonical_json
from domain.parties import AchievementRef, Model, TransferMode, format_wan
from domain.registry import Achievement, RegisteredDemand


class MatchWeights(Model):
    """Points each part can contribute; they add up to 100 by default."""

    text: float = Field(default=40, ge=0)
    industry: float = Field(default=20, ge=0)
    readiness: float = Field(default=10, ge=0)
    mode: float = Field(default=10, ge=0)
    price: float = Field(default=10, ge=0)
    region: float = Field(default=10, ge=0)


class MatchConfig(Model):
    """Everything besides the records that decides a ranking; part of the index version."""

    weights: MatchWeights = MatchWeights()
    # Each group lists words brokers use for the same thing; a query word from a group also searches the others.
    synonyms: tuple[tuple[str, ...], ...] = ()
    synonym_weight: float = Field(default=0.8, gt=0, le=1)
    industry_names: Mapping[str, str] = Field(default_factory=dict)
    region_names: Mapping[str, str] = Field(default_factory=dict)
    bm25_k1: float = Field(default=1.2, gt=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)


class Filters(Model):
    """Hard filters on the candidates; None means no filter.

    For achievements: industry and region by code prefix, TRL ≥ `min_trl`, offers `mode`, asking price ≤
    `max_price_fen` (negotiable prices pass). For demands: industry and region by prefix, the demand's minimum
    TRL ≤ `min_trl` (an achievement of that readiness qualifies), prefers `mode` or has no preference, budget
    maximum ≥ `max_price_fen` (the budget can pay that price).
    """

    industry: str | None = Field(default=None, pattern=r"^[A-T](\d{2,4})?$")
    region: str | None = Field(default=None, pattern=r"^\d{2,6}$")
    min_trl: int | None = Field(default=None, ge=1, le=9)
    mode: TransferMode | None = None
    max_price_fen: int | None = Field(default=None, ge=0)


NO_FILTERS = Filters()


@dataclass(frozen=True, slots=True)
class SupplySide:
    """What structured fit needs of an achievement."""

    id: str
    industry_code: str
    region_code: str
    trl: int
    modes: frozenset[str]
    price_fen: int | None

    @classmethod
    def of(cls, achievement: Achievement) -> SupplySide:
        return cls(
            id=achievement.achievement_id,
            industry_code=achievement.industry_code,
            region_code=achievement.region_code,
            trl=achievement.trl,
            modes=frozenset(m.value for m in achievement.transfer_modes),
            price_fen=achievement.asking_price_fen,
        )


@dataclass(frozen=True, slots=True)
class DemandSide:
    """What structured fit needs of a demand."""

    id: str
    industry_code: str
    region_code: str
    min_trl: int
    modes: frozenset[str]
    budget_min_fen: int
    budget_max_fen: int

    @classmethod
    def of(cls, demand: RegisteredDemand) -> DemandSide:
        return cls(
            id=demand.demand_id,
            industry_code=demand.industry_code,
            region_code=demand.region_code,
            min_trl=demand.min_trl,
            modes=frozenset(m.value for m in demand.preferred_modes),
            budget_min_fen=demand.budget.min_fen,
            budget_max_fen=demand.budget.max_fen,
        )


class RankedDemand(Model):
    """A demand proposed for an achievement (supply push), with its score and reasons."""

    demand_id: str
    title: str
    enterprise_name: str
    score: float = Field(ge=0)
    reasons: tuple[str, ...] = ()


# ---------------------------------------------------------------- text


class TextIndex:
    """BM25 (Okapi, Lucene's non-negative idf) over pre-segmented documents, with an inverted index."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float, b: float) -> None:
        self._k1 = k1
        self._b = b
        self.size = len(documents)
        self._lengths = [len(doc) for doc in documents]
        average = sum(self._lengths) / self.size if self.size else 0.0
        self._norm = [k1 * (1 - b + b * (length / average if average else 0.0)) for length in self._lengths]
        postings: dict[str, list[tuple[int, int]]] = {}
        for position, doc in enumerate(documents):
            counts: dict[str, int] = {}
            for token in doc:
                counts[token] = counts.get(token, 0) + 1
            for token, count in counts.items():
                postings.setdefault(token, []).append((position, count))
        self._postings = postings
        self._idf = {token: math.log(1 + (self.size - len(hits) + 0.5) / (len(hits) + 0.5)) for token, hits in postings.items()}

    def scores(self, terms: Mapping[str, float]) -> dict[int, float]:
        """BM25 per document position for weighted query terms; documents without a hit are absent."""
        result: dict[int, float] = {}
        k1_plus_1 = self._k1 + 1
        for term, weight in terms.items():
            hits = self._postings.get(term)
            if not hits:
                continue
            idf = self._idf[term] * weight
            for position, count in hits:
                result[position] = result.get(position, 0.0) + idf * count * k1_plus_1 / (count + self._norm[position])
        return result

    def idf(self, term: str) -> float:
        return self._idf.get(term, 0.0)

    def contains(self, position: int, term: str) -> bool:
        hits = self._postings.get(term)
        if not hits:
            return False
        # Postings are in document order, so a binary search finds the document.
        at = bisect.bisect_left(hits, (position, 0))
        return at < len(hits) and hits[at][0] == position


class Query(NamedTuple):
    """Query terms with their weights, and for each synonym added, the query word it came from."""

    terms: dict[str, float]
    expanded_from: dict[str, str]


def expand_query(tokens: Iterable[str], config: MatchConfig) -> Query:
    """The query's distinct words (weight 1) plus their synonyms (weight `synonym_weight`), in a stable order."""
    groups: dict[str, tuple[str, ...]] = {}
    for group in config.synonyms:
        for word in group:
            groups[word] = group
    terms: dict[str, float] = {}
    expanded_from: dict[str, str] = {}
    originals = list(dict.fromkeys(tokens))
    for token in originals:
        terms[token] = 1.0
    for token in originals:
        for synonym in groups.get(token, ()):
            if synonym not in terms:
                terms[synonym] = config.synonym_weight
                expanded_from[synonym] = token
    return Query(terms, expanded_from)


# ---------------------------------------------------------------- structured fit


class Part(NamedTuple):
    fraction: float
    reason: str


def industry_fit(wanted: str, offered: str, names: Mapping[str, str]) -> Part:
    """Same class > same group > same division > same section, in GB/T 4754's hierarchy."""
    fraction = _industry_fraction(wanted, offered)
    if wanted == offered:
        return Part(fraction, f"行业相同 ({_industry_label(offered, names)})")
    for length, label, value in ((4, "同中类", 0.8), (3, "同大类", 0.6)):
        if fraction == value:
            return Part(fraction, f"行业{label} ({_industry_label(offered[:length], names)})")
    if fraction > 0:
        return Part(fraction, f"行业同门类 ({_industry_label(offered[:1], names)})，大类不同：{wanted} / {offered}")
    return Part(0.0, f"行业不同：需求 {_industry_label(wanted, names)}，成果 {_industry_label(offered, names)}")


def _industry_fraction(wanted: str, offered: str) -> float:
    if wanted == offered or (len(wanted) >= 5 and wanted[:5] == offered[:5]):
        return 1.0
    if len(wanted) >= 4 and wanted[:4] == offered[:4]:
        return 0.8
    if len(wanted) >= 3 and wanted[:3] == offered[:3]:
        return 0.6
    return 0.25 if wanted[:1] == offered[:1] else 0.0


def _industry_label(code: str, names: Mapping[str, str]) -> str:
    for length in range(len(code), 0, -1):
        name = names.get(code[:length])
        if name:
            return f"{code} {name}" if length == len(code) else f"{code} {name}类"
    return code


def readiness_fit(trl: int, min_trl: int) -> Part:
    if trl >= min_trl:
        return Part(1.0, f"技术就绪度 {trl} ≥ 要求 {min_trl}")
    return Part(0.4 if trl == min_trl - 1 else 0.0, f"技术就绪度 {trl} < 要求 {min_trl}")


def mode_fit(offered: frozenset[str], preferred: frozenset[str]) -> Part:
    if not preferred:
        return Part(1.0, f"需求未限定转化方式（成果提供 {_modes(offered)}）")
    common = offered & preferred
    if common:
        return Part(1.0, f"转化方式相符：{_modes(common)}")
    return Part(0.0, f"转化方式不符：需求 {_modes(preferred)}，成果提供 {_modes(offered)}")


def _modes(modes: Iterable[str]) -> str:
    order = [m.value for m in TransferMode]
    return "、".join(sorted(modes, key=order.index))


def price_fit(price_fen: int | None, budget_min_fen: int, budget_max_fen: int) -> Part:
    budget = f"预算 {_wan(budget_min_fen)}–{_wan(budget_max_fen)} 万元"
    if price_fen is None:
        return Part(0.7, f"报价面议（{budget}）")
    if price_fen <= budget_max_fen:
        where = "之内" if price_fen >= budget_min_fen else "之内（低于下限）"
        return Part(1.0, f"报价 {_wan(price_fen)} 万元，在{budget}{where}")
    over = (price_fen - budget_max_fen) / budget_max_fen if budget_max_fen else 1.0
    return Part(max(0.0, 1.0 - over), f"报价 {_wan(price_fen)} 万元，在{budget}之外")


def _wan(fen: int) -> str:
    """Money in 万元 without a trailing '.00': 300, 12.5."""
    text = format_wan(fen).removesuffix(" 万元")
    return text.rstrip("0").rstrip(".") if "." in text else text


def region_fit(wanted: str, offered: str, names: Mapping[str, str]) -> Part:
    if wanted[:4] == offered[:4]:
        return Part(1.0, f"同城 ({_region_name(offered[:4] + '00', names)})")
    if wanted[:2] == offered[:2]:
        return Part(0.6, f"同省 ({_region_name(offered[:2] + '0000', names)})，{_region_name(offered[:4] + '00', names)}")
    return Part(0.2, f"省外 ({_region_name(offered[:2] + '0000', names)})")


def _region_name(code: str, names: Mapping[str, str]) -> str:
    return names.get(code, code)


def industry_fraction(wanted: str, offered: str) -> float:
    """The industry part of a score (see `industry_fit` for its reason)."""
    return _industry_fraction(wanted, offered)


def readiness_fraction(trl: int, min_trl: int) -> float:
    return 1.0 if trl >= min_trl else (0.4 if trl == min_trl - 1 else 0.0)


def mode_fraction(offered: frozenset[str], preferred: frozenset[str]) -> float:
    return 1.0 if not preferred or preferred & offered else 0.0


def price_fraction(price_fen: int | None, budget_max_fen: int) -> float:
    if price_fen is None:
        return 0.7
    if price_fen <= budget_max_fen:
        return 1.0
    over = (price_fen - budget_max_fen) / budget_max_fen if budget_max_fen else 1.0
    return max(0.0, 1.0 - over)


def region_fraction(wanted: str, offered: str) -> float:
    if wanted[:4] == offered[:4]:
        return 1.0
    return 0.6 if wanted[:2] == offered[:2] else 0.2


def _fractions(demand: DemandSide, supply: SupplySide) -> tuple[float, float, float, float, float]:
    """The structured fractions without the reasons' text: the hot path of a ranking."""
    return (
        industry_fraction(demand.industry_code, supply.industry_code),
        readiness_fraction(supply.trl, demand.min_trl),
        mode_fraction(supply.modes, demand.modes),
        price_fraction(supply.price_fen, demand.budget_max_fen),
        region_fraction(demand.region_code, supply.region_code),
    )


def explain(demand: DemandSide, supply: SupplySide, text_fraction: float, text_reason: str, config: MatchConfig) -> list[str]:
    """The reasons, part by part, each with the points it earned."""
    w = config.weights
    parts = [
        (w.text, Part(text_fraction, text_reason)),
        (w.industry, industry_fit(demand.industry_code, supply.industry_code, config.industry_names)),
        (w.readiness, readiness_fit(supply.trl, demand.min_trl)),
        (w.mode, mode_fit(supply.modes, demand.modes)),
        (w.price, price_fit(supply.price_fen, demand.budget_min_fen, demand.budget_max_fen)),
        (w.region, region_fit(demand.region_code, supply.region_code, config.region_names)),
    ]
    return [f"{part.reason}（{weight * part.fraction:.1f}/{weight:g} 分）" for weight, part in parts if weight > 0]


def total_score(config: MatchConfig, text: float, fractions: tuple[float, float, float, float, float]) -> float:
    w = config.weights
    industry, readiness, mode, price, region = fractions
    total = w.text * text + w.industry * industry + w.readiness * readiness + w.mode * mode + w.price * price + w.region * region
    # Rounded so that a ranking never depends on the last bits of a float sum; equal scores go by id.
    return round(total, 4)


# ---------------------------------------------------------------- indexes and rankings


@dataclass(frozen=True, slots=True)
class _Entry:
    side: SupplySide | DemandSide
    label: AchievementRef | RankedDemand


class MatchIndex:
    """Records of one kind (achievements or demands) with their text index, sorted by id."""

    def __init__(
        self,
        kind: str,
        entries: Sequence[tuple[SupplySide | DemandSide, AchievementRef | RankedDemand, Sequence[str]]],
        config: MatchConfig,
        version: str,
    ) -> None:
        ordered = sorted(entries, key=lambda e: e[0].id)
        self.kind = kind
        self.config = config
        self.version = version
        self._entries = [_Entry(side, label) for side, label, _ in ordered]
        self._text = TextIndex([tokens for _, _, tokens in ordered], config.bm25_k1, config.bm25_b)
        self._positions = {entry.side.id: i for i, entry in enumerate(self._entries)}

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, position: int) -> _Entry:
        return self._entries[position]

    def entries(self) -> Sequence[_Entry]:
        return self._entries

    def ids(self) -> list[str]:
        return [entry.side.id for entry in self._entries]

    def text_scores(self, query: Query) -> dict[int, float]:
        return self._text.scores(query.terms)

    def text_reason(self, position: int, query: Query, fraction: float) -> str:
        found = [term for term in query.terms if self._text.contains(position, term)]
        return describe_text_hits(found, query, self._text.idf, fraction)


def describe_text_hits(found: Sequence[str], query: Query, idf: Callable[[str], float], fraction: float) -> str:
    """The text part's reason: the query words a record contains, rarest first, synonyms named."""
    # Search-mode segmentation also yields the parts of long words; the reason names the whole words.
    hits = [t for t in found if not any(t != other and t in other for other in found)]
    # The most telling words first: the rarest in the registry.
    hits.sort(key=lambda t: -idf(t))
    if not hits:
        return "文本无共同词"
    words = "、".join(f"{t}（同义：{query.expanded_from[t]}）" if t in query.expanded_from else t for t in hits[:12])
    return f"文本相关度 {fraction:.2f}：命中 {words}"


def build_achievement_index(
    records: Sequence[tuple[Achievement, Sequence[str]]], config: MatchConfig, analyzer_fingerprint: str = ""
) -> MatchIndex:
    """An index of achievements; `records` pairs each achievement with the tokens of its title, abstract and keywords."""
    entries = [(SupplySide.of(a), a.ref(), tokens) for a, tokens in records]
    version = index_version("achievements", [record_hash(a) for a, _ in records], config, analyzer_fingerprint)
    return MatchIndex("achievements", entries, config, version)


def build_demand_index(
    records: Sequence[tuple[RegisteredDemand, Sequence[str]]], config: MatchConfig, analyzer_fingerprint: str = ""
) -> MatchIndex:
    """An index of demands; `records` pairs each demand with the tokens of its title, problem and keywords."""
    entries = [
        (DemandSide.of(d), RankedDemand(demand_id=d.demand_id, title=d.title, enterprise_name=d.enterprise_name, score=0), tokens)
        for d, tokens in records
    ]
    version = index_version("demands", [record_hash(d) for d, _ in records], config, analyzer_fingerprint)
    return MatchIndex("demands", entries, config, version)


def rank_achievements(
    demand: RegisteredDemand, query_tokens: Sequence[str], index: MatchIndex, filters: Filters = NO_FILTERS, limit: int = 10
) -> list[Candidate]:
    """Achievements for a demand, best first, as the candidates a deal records."""
    if index.kind != "achievements":
        raise ValueError(f"index of {index.kind} given; rank_achievements needs an achievement index")
    wanted = DemandSide.of(demand)
    passes = None if filters == NO_FILTERS else (lambda s: supply_passes(s, filters))
    ranked = _rank(index, query_tokens, limit, passes, _supplies_for(wanted))
    result = []
    for entry, score, reasons in ranked:
        assert isinstance(entry.label, AchievementRef)
        result.append(Candidate(achievement=entry.label, score=score, reasons=tuple(reasons)))
    return result


def rank_demands(
    achievement: Achievement, query_tokens: Sequence[str], index: MatchIndex, filters: Filters = NO_FILTERS, limit: int = 10
) -> list[RankedDemand]:
    """Demands for an achievement (supply push), best first."""
    if index.kind != "demands":
        raise ValueError(f"index of {index.kind} given; rank_demands needs a demand index")
    offered = SupplySide.of(achievement)
    passes = None if filters == NO_FILTERS else (lambda d: demand_passes(d, filters))
    ranked = _rank(index, query_tokens, limit, passes, _demands_for(offered))
    result = []
    for entry, score, reasons in ranked:
        assert isinstance(entry.label, RankedDemand)
        result.append(entry.label.model_copy(update={"score": score, "reasons": tuple(reasons)}))
    return result


def search_achievements(
    query_tokens: Sequence[str], index: MatchIndex, filters: Filters = NO_FILTERS, limit: int = 10
) -> list[Candidate]:
    """Achievements for free text: words only (score 100 for the best text match), filters applied, no-hit records left out."""
    if index.kind != "achievements":
        raise ValueError(f"index of {index.kind} given; search_achievements needs an achievement index")
    query = expand_query(query_tokens, index.config)
    text = index.text_scores(query)
    hits = [i for i in sorted(text) if supply_passes(index.entry(i).side, filters)]
    best = max((text[i] for i in hits), default=0.0)
    ranked = sorted((-round(100 * text[i] / best, 4), index.entry(i).side.id, i) for i in hits)
    result = []
    for negative, _, i in ranked[: max(limit, 0)]:
        label = index.entry(i).label
        assert isinstance(label, AchievementRef)
        reason = index.text_reason(i, query, -negative / 100)
        result.append(Candidate(achievement=label, score=-negative, reasons=(reason,)))
    return result


def _rank(
    index: MatchIndex,
    query_tokens: Sequence[str],
    limit: int,
    passes: Callable[[SupplySide | DemandSide], bool] | None,
    pair: Callable[[SupplySide | DemandSide], tuple[DemandSide, SupplySide]],
) -> list[tuple[_Entry, float, list[str]]]:
    config = index.config
    query = expand_query(query_tokens, config)
    text = index.text_scores(query)
    sides = [entry.side for entry in index.entries()]
    eligible = range(len(sides)) if passes is None else [i for i, side in enumerate(sides) if passes(side)]
    best_text = max((text.get(i, 0.0) for i in eligible), default=0.0)
    scored: list[tuple[float, str, int, float]] = []
    for i in eligible:
        side = sides[i]
        fraction = text.get(i, 0.0) / best_text if best_text > 0 else 0.0
        scored.append((-total_score(config, fraction, _fractions(*pair(side))), side.id, i, fraction))
    result = []
    for negative_total, _, i, fraction in heapq.nsmallest(max(limit, 0), scored):
        entry = index.entry(i)
        demand, supply = pair(entry.side)
        reasons = explain(demand, supply, fraction, index.text_reason(i, query, fraction), config)
        result.append((entry, -negative_total, reasons))
    return result


def _supplies_for(wanted: DemandSide) -> Callable[[SupplySide | DemandSide], tuple[DemandSide, SupplySide]]:
    def pair(side: SupplySide | DemandSide) -> tuple[DemandSide, SupplySide]:
        assert isinstance(side, SupplySide)
        return wanted, side

    return pair


def _demands_for(offered: SupplySide) -> Callable[[SupplySide | DemandSide], tuple[DemandSide, SupplySide]]:
    def pair(side: SupplySide | DemandSide) -> tuple[DemandSide, SupplySide]:
        assert isinstance(side, DemandSide)
        return side, offered

    return pair


def supply_passes(side: SupplySide | DemandSide, filters: Filters) -> bool:
    assert isinstance(side, SupplySide)
    if filters.industry and not side.industry_code.startswith(filters.industry):
        return False
    if filters.region and not side.region_code.startswith(region_prefix(filters.region)):
        return False
    if filters.min_trl is not None and side.trl < filters.min_trl:
        return False
    if filters.mode is not None and filters.mode.value not in side.modes:
        return False
    return not (filters.max_price_fen is not None and side.price_fen is not None and side.price_fen > filters.max_price_fen)


def demand_passes(side: SupplySide | DemandSide, filters: Filters) -> bool:
    assert isinstance(side, DemandSide)
    if filters.industry and not side.industry_code.startswith(filters.industry):
        return False
    if filters.region and not side.region_code.startswith(region_prefix(filters.region)):
        return False
    if filters.min_trl is not None and side.min_trl > filters.min_trl:
        return False
    if filters.mode is not None and side.modes and filters.mode.value not in side.modes:
        return False
    return not (filters.max_price_fen is not None and side.budget_max_fen < filters.max_price_fen)


def region_prefix(code: str) -> str:
    """360000 means Jiangxi (36), 360800 means Ji'an (3608): trailing zero pairs widen the area."""
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


# ---------------------------------------------------------------- versions


def record_hash(record: Achievement | RegisteredDemand) -> str:
    """SHA-256 of a record's canonical JSON: equal exactly when the record's content is equal."""
    return hashlib.sha256(canonical_json(record.model_dump(mode="json")).encode("utf-8")).hexdigest()


def index_version(kind: str, record_hashes: Iterable[str], config: MatchConfig, analyzer_fingerprint: str = "") -> str:
    """A short name for exactly these records, config (weights, synonyms, names) and text analyzer."""
    payload = canonical_json(
        {
            "kind": kind,
            "records": sorted(record_hashes),
            "config": config.model_dump(mode="json"),
            "analyzer": analyzer_fingerprint,
        }
    )
    return f"{kind[:3]}-{hashlib.sha256(payload.encode('utf-8')).hexdigest()[:16]}"
