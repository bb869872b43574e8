"""The demo corpus: its size and spread over Jiangxi's industries and cities, valid codes, wording that needs the
synonyms, determinism, and `kuayue demo-data` files that the importer accepts row by row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kuayue.cli import main
from registry.analyzer import Analyzer
from registry.demo import CITIES, INDUSTRIES, TOPICS, generate_corpus, load_demo
from registry.importer import import_file


def test_the_default_corpus_covers_jiangxi(analyzer: Analyzer) -> None:
    corpus = generate_corpus()
    assert len(corpus.achievements) >= 3500 and len(corpus.demands) >= 740
    assert set(INDUSTRIES) == {
        "有色金属",
        "装备制造",
        "新能源",
        "电子信息",
        "生物医药",
        "新材料",
        "航空",
        "现代农业",
        "陶瓷",
        "节能环保",
        "食品",
    }
    assert {a.region_code for a in corpus.achievements} <= set(CITIES)
    assert {d.region_code for d in corpus.demands} == set(CITIES)  # all 11 cities, real GB/T 2260 codes
    assert {d.industry_code for d in corpus.demands} == {t.code for t in TOPICS}
    # Records were validated on creation (credit codes and patent numbers with their check characters).
    assert sum(len(a.patents) for a in corpus.achievements) > 2000
    assert len({d.enterprise_credit_code for d in corpus.demands}) == len(corpus.demands)
    # Many demands name their technology with a word none of their best achievements uses: only synonyms bridge it.
    by_id = {a.achievement_id: a for a in corpus.achievements}
    bridged = 0
    for demand in corpus.demands[:200]:
        best = [by_id[i] for i, grade in corpus.relevance[demand.demand_id].items() if grade == 2]
        if best and all(demand.keywords[0] not in f"{a.title}{a.abstract}" for a in best):
            bridged += 1
    assert bridged > 25


def test_the_corpus_is_the_same_for_a_seed() -> None:
    first, again, other = generate_corpus(200, 20, seed=1), generate_corpus(200, 20, seed=1), generate_corpus(200, 20, seed=2)
    assert first == again
    assert first.achievements != other.achievements


def test_demo_data_files_import_cleanly_and_loading_is_idempotent(tmp_path: Path, factory: sessionmaker[Session]) -> None:
    assert main(["demo-data", "--out", str(tmp_path), "--format", "csv", "--achievements", "120", "--demands", "30"]) == 0
    for name, count in (("achievements.csv", 120), ("demands.csv", 30)):
        report = import_file(factory, tmp_path / name)
        assert (len(report.inserted), report.problems) == (count, [])
    corpus = generate_corpus(120, 30)
    assert load_demo(factory, corpus).unchanged == 150  # the files held exactly the generated records


def test_demo_data_needs_a_destination(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-data", "--seed", "3"]) == 2  # nothing asked for: a message, not a crash
    assert "请至少指定 --out 目录、--load 或 --labels 之一" in capsys.readouterr().err
