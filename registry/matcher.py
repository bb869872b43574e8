"""Matching on the database's registries: builds (and caches) the index, ranks, searches.

The rankings are `registry.engine`'s (the same as `domain.matching`'s, computed column-wise). An index is rebuilt
only when the registry's content hashes, the configuration or the dictionary change; its `version` is what a deal
records next to the shortlist it proposes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from domain.events import Candidate
from domain.matching import NO_FILTERS, Filters, RankedDemand, index_version, record_hash
from domain.parties import Demand
from domain.registry import Achievement, RegisteredDemand
from registry import records
from registry.analyzer import Analyzer, default_analyzer
from registry.engine import Engine, SegmentationCache, achievement_engine, demand_engine
from registry.tables import Kind


def as_registered(deal_id: str, demand: Demand) -> RegisteredDemand:
    """The deal's demand in the registry's shape; what a deal does not record (minimum TRL, modes) stays open."""
    return RegisteredDemand(
        demand_id=deal_id,
        title=demand.title,
        problem=demand.description,
        enterprise_name=demand.enterprise.name,
        enterprise_credit_code=demand.enterprise.credit_code,
        region_code=demand.region_code,
        industry_code=demand.industry_code,
        indicators=demand.indicators,
        budget=demand.budget,
        deadline=demand.deadline,
        ip_expectations=demand.ip_expectations[:500],
    )


class NotFound(LookupError):
    """No record with that id; the message says which registry was searched."""


@dataclass(frozen=True)
class Shortlist:
    """Candidates for one demand and the index version they came from."""

    demand_id: str
    index_version: str
    candidates: list[Candidate]


@dataclass(frozen=True)
class DemandList:
    """Demands for one achievement (supply push) and the index version they came from."""

    achievement_id: str
    index_version: str
    demands: list[RankedDemand]


# A registry written to without changing its record count or newest write time (two overlapping imports) is
# noticed at the next full check at the latest.
FULL_CHECK_SECONDS = 30.0


class Matcher:
    """Rankings over the registries of one database, with the last index of each kind kept in memory."""

    def __init__(self, factory: sessionmaker[Session], analyzer: Analyzer | None = None, fresh_seconds: float = 0.0) -> None:
        """`fresh_seconds`: how long an index is used without asking the database whether the registry changed (the
        worker and the API use a few seconds, so a burst of searches costs no query; tests and the CLI use 0)."""
        self._factory = factory
        self._fresh_seconds = fresh_seconds
        self._asked: dict[Kind, float] = {}
        self._analyzer = analyzer or default_analyzer()
        self._indexes: dict[Kind, Engine] = {}
        self._segmentations: dict[Kind, SegmentationCache] = {}
        # How many records the last build of each registry had to segment (the others came from the cache).
        self.segmented: dict[Kind, int] = {}
        self._checked: dict[Kind, tuple[tuple[int, str], float]] = {}
        self._lock = threading.Lock()

    def index(self, kind: Kind) -> Engine:
        """The current index of a registry (rebuilt only if its content changed since the last call).

        Reading every content hash costs ≈ 100 ms at 100,000 records, so between full checks (at most
        `FULL_CHECK_SECONDS` apart) an unchanged count and newest write time stand for an unchanged registry; within
        `fresh_seconds` of the last question the database is not asked at all.
        """
        with self._lock:
            cached = self._indexes.get(kind)
            if cached is not None and time.monotonic() - self._asked.get(kind, -math.inf) < self._fresh_seconds:
                return cached
        with self._factory() as session:
            key = records.generation(session, kind)
            now = time.monotonic()
            with self._lock:
                self._asked[kind] = now
                cached = self._indexes.get(kind)
                checked = self._checked.get(kind)
                if cached is not None and checked is not None and checked[0] == key and now - checked[1] < FULL_CHECK_SECONDS:
                    return cached
            hashes = records.stored_hashes(session, kind)
            version = index_version(kind.value, hashes.values(), self._analyzer.config, self._analyzer.fingerprint)
            if cached is not None and cached.version == version:
                with self._lock:
                    self._checked[kind] = (key, now)
                return cached
            # Records stream in by id while they are indexed, and are dropped once indexed.
            built = self._build(kind, records.stream(session, kind, sorted(hashes)), hashes, presorted=True)
        with self._lock:
            self._indexes[kind] = built
            self._checked[kind] = (key, now)
        return built

    def build(self, kind: Kind, loaded: list[records.RegistryRecord]) -> Engine:
        """An index over records already in memory."""
        return self._build(kind, loaded, {records.record_id(r): record_hash(r) for r in loaded}, presorted=False)

    def _build(self, kind: Kind, loaded: Iterable[records.RegistryRecord], hashes: dict[str, str], presorted: bool) -> Engine:
        analyzer = self._analyzer
        cache = self._segmentations.setdefault(kind, SegmentationCache())
        if kind is Kind.ACHIEVEMENTS:
            achievements = (r for r in loaded if isinstance(r, Achievement))
            segment_a = cache.segmenter(hashes, analyzer.achievement_tokens, lambda a: a.achievement_id)
            built = achievement_engine(achievements, segment_a, analyzer.config, analyzer.fingerprint, hashes, presorted)
            cache.keep(segment_a.used)
            self.segmented[kind] = segment_a.segmented
            return built
        demands = (r for r in loaded if isinstance(r, RegisteredDemand))
        segment_d = cache.segmenter(hashes, analyzer.demand_tokens, lambda d: d.demand_id)
        built = demand_engine(demands, segment_d, analyzer.config, analyzer.fingerprint, hashes, presorted)
        cache.keep(segment_d.used)
        self.segmented[kind] = segment_d.segmented
        return built

    def for_demand(self, demand_id: str, filters: Filters = NO_FILTERS, limit: int = 10) -> Shortlist:
        """Achievements for a registered demand, best first."""
        demand = self._get(Kind.DEMANDS, demand_id)
        assert isinstance(demand, RegisteredDemand)
        return self.for_demand_record(demand, filters, limit)

    def for_demand_record(self, demand: RegisteredDemand, filters: Filters = NO_FILTERS, limit: int = 10) -> Shortlist:
        """Achievements for a demand that need not be registered (e.g. a deal's own demand)."""
        index = self.index(Kind.ACHIEVEMENTS)
        tokens = self._analyzer.demand_tokens(demand)
        return Shortlist(demand.demand_id, index.version, index.rank_achievements(demand, tokens, filters, limit))

    def for_achievement(self, achievement_id: str, filters: Filters = NO_FILTERS, limit: int = 10) -> DemandList:
        """Demands for a registered achievement, best first (supply push to enterprises)."""
        achievement = self._get(Kind.ACHIEVEMENTS, achievement_id)
        assert isinstance(achievement, Achievement)
        index = self.index(Kind.DEMANDS)
        tokens = self._analyzer.achievement_tokens(achievement)
        return DemandList(achievement_id, index.version, index.rank_demands(achievement, tokens, filters, limit))

    def search(self, text: str, filters: Filters = NO_FILTERS, limit: int = 10) -> Shortlist:
        """Achievements for free text: the text part of a match only, structured parts neutral, filters applied."""
        index = self.index(Kind.ACHIEVEMENTS)
        tokens = self._analyzer.query_tokens(text)
        return Shortlist("", index.version, index.search_achievements(tokens, filters, limit))

    def search_demands(self, text: str, filters: Filters = NO_FILTERS, limit: int = 10) -> DemandList:
        """Demands for free text, with the demand filters (`domain.matching.demand_passes`)."""
        index = self.index(Kind.DEMANDS)
        tokens = self._analyzer.query_tokens(text)
        return DemandList("", index.version, index.search_demands(tokens, filters, limit))

    def get(self, kind: Kind, id_: str) -> records.RegistryRecord:
        """One record; NotFound (with a Chinese message) if there is none."""
        return self._get(kind, id_)

    def _get(self, kind: Kind, id_: str) -> records.RegistryRecord:
        with self._factory() as session:
            record = records.get(session, kind, id_)
        if record is None:
            label = "科技成果登记号" if kind is Kind.ACHIEVEMENTS else "需求编号"
            raise NotFound(f"{label}「{id_}」不存在")
        return record
