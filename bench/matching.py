"""Matching speed: top-10 for one demand over N generated achievements (3,500: Nanchang's market), and import rows/s.

    .venv/bin/python -m bench.matching [--achievements 3500] [--queries 200]

Achievements are generated from the samples in examples/registry (seeded, so every run measures the same corpus):
each is a sample with a varied title, shuffled abstract sentences, another centre, TRL, price and region. Prints
the index build time, p50/p95 per query (demand → achievements, with reasons for the top 10), and the import rate
of a CSV of the same achievements into a fresh SQLite database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from domain.matching import build_achievement_index, rank_achievements
from domain.registry import Achievement
from examples.registry.build import achievements, demands
from registry.analyzer import default_analyzer
from registry.importer import import_file
from registry.tables import Kind, write_records
from store.db import make_engine, make_session_factory, migrate

_REGIONS = ("360100", "360200", "360300", "360400", "360500", "360600", "360700", "360800", "360900", "361000", "361100")
_PREFIXES = ("新型", "高效", "低成本", "绿色", "智能", "改进型", "集成式", "轻量化")


def generate(count: int, seed: int = 2026) -> list[Achievement]:
    rng = random.Random(seed)
    samples = achievements()
    result = []
    for n in range(count):
        base = samples[n % len(samples)]
        sentences = [s for s in base.abstract.split("，") if s]
        rng.shuffle(sentences)
        price = None if rng.random() < 0.2 else rng.randrange(10, 3000) * 1_000_000
        result.append(
            base.model_copy(
                update={
                    "achievement_id": f"GEN-{n:06d}",
                    "title": f"{rng.choice(_PREFIXES)}{base.title}（{n}）",
                    "abstract": "，".join(sentences),
                    "trl": rng.randint(3, 9),
                    "asking_price_fen": price,
                    "region_code": rng.choice(_REGIONS),
                }
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--achievements", type=int, default=3500)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    analyzer = default_analyzer()
    analyzer.tokens("预热")  # loads jieba's dictionary outside the timings
    corpus = generate(args.achievements)

    started = time.perf_counter()
    pairs = [(a, analyzer.achievement_tokens(a)) for a in corpus]
    tokenized = time.perf_counter()
    index = build_achievement_index(pairs, analyzer.config, analyzer.fingerprint)
    built = time.perf_counter()

    queries = demands()
    timings = []
    for n in range(args.queries):
        demand = queries[n % len(queries)]
        t0 = time.perf_counter()
        rank_achievements(demand, analyzer.demand_tokens(demand), index, limit=10)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[min(len(timings) - 1, int(0.95 * len(timings)))]

    with tempfile.TemporaryDirectory() as directory:
        csv_file = Path(directory) / "achievements.csv"
        write_records(csv_file, Kind.ACHIEVEMENTS, corpus)
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        migrate(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        t0 = time.perf_counter()
        report = import_file(factory, csv_file)
        import_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        import_file(factory, csv_file)
        reimport_seconds = time.perf_counter() - t0
        engine.dispose()

    print(f"achievements: {len(corpus)}  index {index.version}")
    print(f"segment (jieba): {tokenized - started:.2f} s   build index: {(built - tokenized) * 1000:.0f} ms")
    print(f"top-10 per demand (segment query + rank + reasons), {len(timings)} queries: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(
        f"import CSV into SQLite: {len(report.inserted)} rows in {import_seconds:.2f} s "
        f"({len(report.inserted) / import_seconds:,.0f} rows/s); "
        f"re-import (unchanged): {reimport_seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
