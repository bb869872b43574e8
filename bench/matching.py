"""Matching speed, memory and quality over the seeded demo corpus (registry/demo.py).

    .venv/bin/python -m bench.matching [--sizes 3500,100000] [--queries 300] [--tracemalloc]

For each registry size: jieba segmentation and index build times, resident memory, and top-10 for one demand
(segment the demand + rank + reasons for the ten) p50/p95 with the engine (registry/engine.py) — and, at the
smallest size, with the pure reference scan (domain/matching.py) that the engine is tested against. Then the
ranking quality on the labelled evaluation set (registry/data/evaluation.json: 740 demands over 3,500
achievements), recall@10 and nDCG@10 next to a plain BM25 baseline (same words, no synonyms, no structured fit),
and the import rate of a CSV into SQLite.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

from domain.matching import build_achievement_index, rank_achievements, record_hash
from domain.registry import Achievement, RegisteredDemand
from registry.analyzer import default_analyzer
from registry.demo import generate_corpus, load_demo
from registry.engine import SegmentationCache, achievement_engine, build_achievement_engine
from registry.evaluation import evaluate, plain_bm25, read_labels
from registry.importer import import_file
from registry.matcher import Matcher
from registry.tables import Kind, write_records
from store.db import make_engine, make_session_factory, migrate


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[min(len(timings) - 1, int(0.95 * len(timings)))]


def _time_queries(
    rank: Callable[[RegisteredDemand], object], demands: Sequence[RegisteredDemand], count: int
) -> tuple[float, float]:
    timings = []
    for n in range(count):
        demand = demands[n % len(demands)]
        started = time.perf_counter()
        rank(demand)
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


def measure_size(size: int, queries: int, with_reference: bool, trace: bool) -> None:
    analyzer = default_analyzer()
    gc.collect()
    start = _rss_mib()
    corpus = generate_corpus(achievements=size, demands=740, seed=2026)
    gc.collect()
    before = _rss_mib()
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    # As the matcher builds it: each record segmented while it is indexed, its words kept (interned) by content hash.
    cache = SegmentationCache()
    hashes = {a.achievement_id: record_hash(a) for a in corpus.achievements}
    segmenter = cache.segmenter(hashes, analyzer.achievement_tokens, lambda a: a.achievement_id)
    engine = achievement_engine(corpus.achievements, segmenter, analyzer.config, analyzer.fingerprint, hashes)
    cache.keep(segmenter.used)
    built, cpu = time.perf_counter() - started, time.process_time() - cpu
    traced = ""
    if trace:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        traced = f"; tracemalloc during the build: peak {peak / 2**20:.0f} MiB, index kept {current / 2**20:.0f} MiB"
    gc.collect()
    after = _rss_mib()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{size:,} achievements  (index {engine.version})")
    print(f"  build (jieba segmentation + index): {built:.1f} s wall, {cpu:.1f} s CPU of this process")
    print(
        f"  memory: RSS {after:.0f} MiB = process {start:.0f} + records in memory {before - start:.0f} "
        f"+ index with cached words {after - before:.0f}; peak RSS so far {peak:.0f} MiB{traced}"
    )

    def fast(demand: RegisteredDemand) -> object:
        return engine.rank_achievements(demand, analyzer.demand_tokens(demand), limit=10)

    p50, p95 = _time_queries(fast, corpus.demands, queries)
    print(f"  top-10 for one demand, engine: p50 {p50:.2f} ms, p95 {p95:.2f} ms ({queries} queries)")
    # Ten records edited: the rebuild segments those ten and reuses the words of the rest.
    edited = [
        a.model_copy(update={"title": f"{a.title}（修订）"}) if n % (size // 10) == 0 else a
        for n, a in enumerate(corpus.achievements)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    hashes = {a.achievement_id: record_hash(a) for a in edited}
    segmenter = cache.segmenter(hashes, analyzer.achievement_tokens, lambda a: a.achievement_id)
    rebuilt = achievement_engine(edited, segmenter, analyzer.config, analyzer.fingerprint, hashes)
    cache.keep(segmenter.used)
    print(
        f"  rebuild after 10 records changed: {time.perf_counter() - started:.1f} s wall, "
        f"{time.process_time() - cpu:.1f} s CPU ({segmenter.segmented} segmented again, index {rebuilt.version}); "
        f"peak RSS with both indexes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    del edited, rebuilt
    if with_reference:
        reference = build_achievement_index(
            [(a, analyzer.achievement_tokens(a)) for a in corpus.achievements], analyzer.config, analyzer.fingerprint
        )

        def pure(demand: RegisteredDemand) -> object:
            return rank_achievements(demand, analyzer.demand_tokens(demand), reference, limit=10)

        p50, p95 = _time_queries(pure, corpus.demands, min(queries, 100))
        print(f"  top-10 for one demand, pure reference scan: p50 {p50:.2f} ms, p95 {p95:.2f} ms")


def measure_quality() -> None:
    analyzer = default_analyzer()
    labelled = read_labels()
    corpus = generate_corpus(labelled.achievements, labelled.demands, labelled.seed)
    pairs = [(a, analyzer.achievement_tokens(a)) for a in corpus.achievements]
    kuayue = build_achievement_engine(pairs, analyzer.config, analyzer.fingerprint)
    baseline = build_achievement_engine(pairs, plain_bm25(analyzer.config), analyzer.fingerprint)

    def ids(engine_rank: Callable[..., list[object]]) -> Callable[[RegisteredDemand], list[str]]:
        def rank(demand: RegisteredDemand) -> list[str]:
            return [c.achievement.achievement_id for c in engine_rank(demand, analyzer.demand_tokens(demand), limit=10)]  # type: ignore[attr-defined]

        return rank

    print(f"\nranking quality, {labelled.demands} labelled demands over {labelled.achievements:,} achievements:")
    ours = evaluate(ids(kuayue.rank_achievements), corpus.demands, labelled.labels)
    plain = evaluate(ids(baseline.rank_achievements), corpus.demands, labelled.labels)
    print(f"  Kuayue (BM25 + synonyms + structured fit): {ours}")
    print(f"  plain BM25 (text only, no synonyms):       {plain}")


def measure_import(records: list[Achievement]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        csv_file = Path(directory) / "achievements.csv"
        write_records(csv_file, Kind.ACHIEVEMENTS, records)
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        migrate(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        report = import_file(factory, csv_file)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        import_file(factory, csv_file)
        again = time.perf_counter() - started
        engine.dispose()
    print(
        f"\nimport CSV into SQLite: {len(report.inserted)} rows in {seconds:.2f} s "
        f"({len(report.inserted) / seconds:,.0f} rows/s); "
        f"re-import (unchanged): {again:.2f} s"
    )


def measure_matcher(size: int, queries: int) -> None:
    """The matcher as the worker and the API use it: records in SQLite, streamed into the index, queries via the matcher."""
    corpus = generate_corpus(achievements=size, demands=740, seed=2026)
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        migrate(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        load_demo(factory, corpus)
        loaded = time.perf_counter() - started
        demands = corpus.demands
        del corpus
        gc.collect()
        before = _rss_mib()
        matcher = Matcher(factory)
        started, cpu = time.perf_counter(), time.process_time()
        index = matcher.index(Kind.ACHIEVEMENTS)
        built, cpu = time.perf_counter() - started, time.process_time() - cpu
        gc.collect()
        after = _rss_mib()
        print(f"\nmatcher on SQLite, {size:,} achievements (written in {loaded:.1f} s; index {index.version})")
        print(
            f"  build from the database: {built:.1f} s wall, {cpu:.1f} s CPU; RSS {after:.0f} MiB "
            f"({after - before:+.0f} MiB for the index and cached words), peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        p50, p95 = _time_queries(lambda d: matcher.for_demand_record(d, limit=10), demands, queries)
        print(f"  top-10 for one demand through the matcher (change check included): p50 {p50:.2f} ms, p95 {p95:.2f} ms")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="3500,100000", help="registry sizes, comma-separated")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations during the index build")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--matcher", type=int, default=0, help="also measure the matcher on SQLite with this many achievements")
    args = parser.parse_args()

    default_analyzer().tokens("预热")  # loads jieba's dictionary outside the timings
    sizes = sorted(int(s) for s in args.sizes.split(","))
    measure_size(sizes[0], args.queries, with_reference=True, trace=args.tracemalloc)
    if not args.skip_quality:
        measure_quality()
        measure_import(generate_corpus(3500, 0).achievements)
    for size in sizes[1:]:
        measure_size(size, args.queries, with_reference=False, trace=args.tracemalloc)
    if args.matcher:
        measure_matcher(args.matcher, args.queries)


if __name__ == "__main__":
    main()
