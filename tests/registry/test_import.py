"""Importing and exporting registry files on SQLite and PostgreSQL: the report, idempotence, updates, round trips."""

from __future__ import annotations

import csv
import getpass
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.events import DeclineReason
from kuayue.cli import main
from registry import records
from registry.declines import Decline, decline_reasons, record_decline
from registry.importer import import_file
from registry.matcher import Matcher
from registry.tables import Kind, write_records
from store.db import make_engine, make_session_factory
from store.models import AchievementRecord, RegistryImportRecord
from store.testing import migrated_database

from .conftest import SAMPLES

Factory = sessionmaker[Session]


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def _count(factory: Factory) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(AchievementRecord)) or 0


def test_report_lists_bad_rows_and_imports_the_rest(factory: Factory, tmp_path: Path) -> None:
    rows = _rows(SAMPLES / "achievements.csv")
    header = rows[0]
    col = {name: i for i, name in enumerate(header)}
    rows[1][col["行业代码"]] = "C99"  # division 99 is not in section C
    rows[2][col["技术就绪度"]] = "10"
    rows[3][col["专利号"]] = "ZL202310123456.7"
    rows[4][col["报价（万元）"]] = "三百"
    rows[5][col["转化方式"]] = "买断"
    rows[6][col["成果名称"]] = ""
    rows.append(rows[10][:])  # the same registration number twice
    report = import_file(factory, _write(tmp_path / "bad.csv", rows))

    assert report.rejected_rows == [2, 3, 4, 5, 6, 7, 32]
    assert (len(report.inserted), len(report.updated), len(report.unchanged)) == (24, 0, 0)
    by_row = {p.row: p for p in report.problems}
    assert by_row[2].column == "行业代码" and by_row[2].value == "C99" and "门类 C 的大类为 13-43" in by_row[2].message
    assert by_row[3].column == "技术就绪度" and by_row[3].message == "应不大于 9"
    assert by_row[4].column == "专利号" and "校验位应为「6」" in by_row[4].message
    assert by_row[5].column == "报价（万元）" and by_row[5].value == "三百" and "面议" in by_row[5].message
    assert by_row[6].column == "转化方式" and "转让、许可、作价入股、合作开发、技术服务" in by_row[6].message
    assert by_row[7].column == "成果名称" and by_row[7].message == "必填，不能为空"
    assert by_row[32].column == "登记号" and "与第 11 行重复" in by_row[32].message
    assert str(by_row[2]).startswith("第 2 行 · 行业代码 · 「C99」：")
    assert _count(factory) == 24


def test_nothing_is_half_written(factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import_file(factory, SAMPLES / "achievements.csv")
    changed = [a.model_copy(update={"title": a.title + "（修订）"}) for a in _load(factory)]
    original_write = records.write

    def write_then_fail(*args: object, **kwargs: object) -> None:
        original_write(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("database went away")

    changed_file = tmp_path / "changed.json"
    write_records(changed_file, Kind.ACHIEVEMENTS, changed)
    new_file = tmp_path / "new.json"
    write_records(
        new_file, Kind.ACHIEVEMENTS, [a.model_copy(update={"achievement_id": "NEW-" + a.achievement_id}) for a in changed]
    )
    monkeypatch.setattr(records, "write", write_then_fail)
    for path in (changed_file, new_file):
        with pytest.raises(RuntimeError):
            import_file(factory, path)
    assert _count(factory) == 30
    assert not any(a.title.endswith("（修订）") for a in _load(factory))


def test_reimport_changes_nothing_and_a_changed_row_is_updated(factory: Factory, tmp_path: Path) -> None:
    first = import_file(factory, SAMPLES / "achievements.csv", clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    assert len(first.inserted) == 30
    again = import_file(factory, SAMPLES / "achievements.csv", clock=lambda: datetime(2026, 2, 1, tzinfo=UTC))
    assert (len(again.inserted), len(again.updated), len(again.unchanged)) == (0, 0, 30)
    with factory() as session:
        assert {r.updated_at for r in session.scalars(select(AchievementRecord))} == {datetime(2026, 1, 1, tzinfo=UTC)}

    rows = _rows(SAMPLES / "achievements.csv")
    price = rows[0].index("报价（万元）")
    rows[5][price] = "95.5"
    report = import_file(factory, _write(tmp_path / "changed.csv", rows), clock=lambda: datetime(2026, 3, 1, tzinfo=UTC))
    assert report.updated == ["JXCG-2026-0005"]
    assert len(report.unchanged) == 29
    assert "更新 1" in report.summary()
    with factory() as session:
        row = session.get(AchievementRecord, "JXCG-2026-0005")
        assert row is not None and row.asking_price_fen == 95_500_000
        assert row.updated_at == datetime(2026, 3, 1, tzinfo=UTC) and row.created_at == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".json"])
def test_export_round_trip(factory: Factory, tmp_path: Path, suffix: str) -> None:
    for kind in Kind:
        import_file(factory, SAMPLES / f"{kind.value}.xlsx")
        with factory() as session:
            before = records.load(session, kind)
        exported = tmp_path / f"{kind.value}{suffix}"
        write_records(exported, kind, before)
        report = import_file(factory, exported)
        assert (len(report.unchanged), report.rejected_rows) == (len(before), [])
        with factory() as session:
            assert records.load(session, kind) == before


def test_xlsx_and_gbk_csv_import(factory: Factory, tmp_path: Path) -> None:
    report = import_file(factory, SAMPLES / "demands.xlsx")
    assert len(report.inserted) == 10
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes((SAMPLES / "achievements.csv").read_text(encoding="utf-8-sig").encode("gb18030"))
    assert len(import_file(factory, gbk).inserted) == 30
    with factory() as session:
        demand = records.get(session, Kind.DEMANDS, "D-JJ-2026-003")
    assert demand is not None and demand.open_call and demand.solver_qualifications.startswith("国内高校")


def test_matcher_on_the_database_and_its_index_version(factory: Factory, tmp_path: Path) -> None:
    import_file(factory, SAMPLES / "achievements.csv")
    import_file(factory, SAMPLES / "demands.csv")
    matcher = Matcher(factory)
    shortlist = matcher.for_demand("D-JA-2026-001", limit=3)
    assert shortlist.candidates[0].achievement.achievement_id == "JXCG-2026-0001"
    assert matcher.for_demand("D-JA-2026-001", limit=3) == shortlist
    assert matcher.for_achievement("JXCG-2026-0005", limit=1).demands[0].demand_id == "D-FZ-2026-002"
    assert matcher.segmented[Kind.ACHIEVEMENTS] == 30
    rows = _rows(SAMPLES / "achievements.csv")
    rows[1][rows[0].index("技术就绪度")] = "7"
    rows[2][rows[0].index("成果名称")] = "畜禽粪污高温堆肥菌剂"
    import_file(factory, _write(tmp_path / "changed.csv", rows))
    changed = matcher.for_demand("D-JA-2026-001", limit=10)
    assert changed.index_version != shortlist.index_version
    # Only the two changed records were segmented again, and the result is what a fresh matcher computes.
    assert matcher.segmented[Kind.ACHIEVEMENTS] == 2
    assert Matcher(factory).for_demand("D-JA-2026-001", limit=10) == changed
    assert any("高温堆肥" in c.achievement.title for c in changed.candidates)
    # Within `fresh_seconds` the index is used without asking the database; after that the change is seen.
    patient = Matcher(factory, fresh_seconds=3600)
    before = patient.for_demand("D-JA-2026-001", limit=3).index_version
    rows[1][rows[0].index("技术就绪度")] = "8"
    import_file(factory, _write(tmp_path / "changed-again.csv", rows))
    assert patient.for_demand("D-JA-2026-001", limit=3).index_version == before
    assert Matcher(factory).for_demand("D-JA-2026-001", limit=3).index_version != before


def test_decline_reasons_per_centre(factory: Factory) -> None:
    import_file(factory, SAMPLES / "achievements.csv")
    when = datetime(2026, 5, 1, tzinfo=UTC)
    declines = [
        ("JXCG-2026-0005", "FZ-1", 4, DeclineReason.PRICE),
        ("JXCG-2026-0012", "FZ-1", 5, DeclineReason.PRICE),
        ("JXCG-2026-0022", "JJ-1", 6, DeclineReason.TOO_EARLY_STAGE),
        ("JXCG-2026-0009", "JJ-1", 7, DeclineReason.IP_UNCLEAR),  # 南昌大学, not nchu
    ]
    with factory.begin() as session:
        for achievement_id, deal_id, seq, reason in declines:
            assert record_decline(session, Decline(achievement_id, deal_id, seq, reason, "", when))
        # A retried write of the same deal event adds nothing.
        assert not record_decline(session, Decline("JXCG-2026-0005", "FZ-1", 4, DeclineReason.PRICE, "", when))
    with factory() as session:
        nchu = decline_reasons(session, centre_id="nchu")
        assert [(r.reason, r.count, r.label) for r in nchu] == [
            (DeclineReason.PRICE, 2, "价格不合适"),
            (DeclineReason.TOO_EARLY_STAGE, 1, "技术成熟度不够"),
        ]
        assert [(r.reason, r.count) for r in decline_reasons(session, achievement_id="JXCG-2026-0009")] == [
            (DeclineReason.IP_UNCLEAR, 1)
        ]


def _load(factory: Factory) -> list[records.RegistryRecord]:
    with factory() as session:
        return records.load(session, Kind.ACHIEVEMENTS)


def test_the_cli_logs_each_import_with_the_account_that_ran_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with migrated_database("sqlite") as url:
        monkeypatch.setenv("KUAYUE_DATABASE_URL", url)
        assert main(["registry", "import", str(SAMPLES / "demands.csv")]) == 0
        assert main(["registry", "import", str(SAMPLES / "demands.csv")]) == 0  # unchanged, logged again
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            logged = session.scalars(select(RegistryImportRecord).order_by(RegistryImportRecord.id)).all()
        engine.dispose()
    assert [(r.imported_by, r.kind, r.file_name) for r in logged] == [(f"cli:{getpass.getuser()}", "demands", "demands.csv")] * 2
    assert logged[0].file_sha256 == hashlib.sha256((SAMPLES / "demands.csv").read_bytes()).hexdigest()
    assert [len(json.loads(r.report)["inserted"]) for r in logged] == [10, 0]
