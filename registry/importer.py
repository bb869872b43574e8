"""Importing a registry file: every row checked, a row-by-row report in Chinese, all valid rows written in one transaction.

A row is inserted (new id), updated (same id, different content), unchanged (same content: re-importing a file
changes nothing) or rejected (with one problem per bad cell). Rows that pass are written together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.orm import Session, sessionmaker

from registry import records
from registry.records import RegistryRecord
from registry.tables import (
    ALLOWED_MODES,
    ID_FIELDS,
    KIND_LABELS,
    MODELS,
    Kind,
    RawRow,
    cell_value,
    detect_format,
    detect_kind,
    header_for,
    iter_progress,
    read_rows,
    row_input,
)
from store.models import RegistryImportRecord


@dataclass(frozen=True)
class RowProblem:
    """What is wrong with one cell: row as the person sees it, column header, the value found, what is allowed."""

    row: int
    column: str
    value: str
    message: str

    def __str__(self) -> str:
        value = f"「{self.value}」" if self.value else "（空）"
        return f"第 {self.row} 行 · {self.column} · {value}：{self.message}"


@dataclass
class ImportReport:
    kind: Kind
    file: str
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected_rows: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{KIND_LABELS[self.kind]}「{self.file}」：新增 {len(self.inserted)}，更新 {len(self.updated)}，"
            f"未变 {len(self.unchanged)}，拒绝 {len(self.rejected_rows)} 行"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "file": self.file,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected_rows": self.rejected_rows,
            "problems": [p.__dict__ for p in self.problems],
        }


# The column a refusal by `permit` is about: who owns the record (demands have no owner column).
_OWNER_FIELD = {Kind.ACHIEVEMENTS: ("institution", "centre_id")}

# May this record be written over what is stored under its id (None: new)? None if so, else why not (in Chinese).
Permit = Callable[[RegistryRecord, RegistryRecord | None], str | None]


def import_file(
    factory: sessionmaker[Session],
    path: Path,
    kind: Kind | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    *,
    dry_run: bool = False,
    permit: Permit | None = None,
    imported_by: str | None = None,
    file_name: str | None = None,
) -> ImportReport:
    """Check every row of `path` and write the valid ones in one transaction; the report says what happened to each.

    `dry_run` checks and reports exactly as a real import would, and writes nothing (the web's preview). `permit`
    refuses rows the importing person may not write; `imported_by` logs the import in `registry_imports` with the
    file's SHA-256. `file_name` is the name the person knows the file by (an upload is stored under another).
    """
    shown = file_name or path.name
    json_format = detect_format(path) == ".json"
    rows = read_rows(path)
    kind = kind or detect_kind(rows)
    if kind is None:
        raise ValueError(
            f"无法判断「{shown}」是科技成果还是企业需求（首行应有“登记号”或“需求编号”列）；请选择类型（命令行用 --kind）"
        )
    report = ImportReport(kind=kind, file=shown)
    valid: dict[str, tuple[int, RegistryRecord]] = {}
    for row in iter_progress(rows, f"导入{KIND_LABELS[kind]}"):
        record, problems = check_row(kind, row, json_format)
        if record is not None:
            id_ = records.record_id(record)
            if id_ in valid:
                header = header_for(kind, (ID_FIELDS[kind],))
                problems = [RowProblem(row.number, header, id_, f"与第 {valid[id_][0]} 行重复；同一文件中每个编号只能出现一次")]
                record = None
            else:
                valid[id_] = (row.number, record)
        if problems:
            report.rejected_rows.append(row.number)
            report.problems.extend(problems)
    with factory.begin() as session:
        stored = records.existing_hashes(session, kind, sorted(valid))
        if permit is not None:
            _refuse_unpermitted(session, kind, valid, stored, permit, report)
        inserts, updates = [], []
        for id_, (_, record) in valid.items():
            if id_ not in stored:
                inserts.append(record)
                report.inserted.append(id_)
            elif stored[id_] != records.record_hash(record):
                updates.append(record)
                report.updated.append(id_)
            else:
                report.unchanged.append(id_)
        if dry_run:
            return report
        now = clock()
        records.write(session, kind, inserts, updates, now)
        if imported_by is not None:
            session.add(
                RegistryImportRecord(
                    kind=kind.value,
                    file_name=shown[:255],
                    file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                    imported_by=imported_by,
                    imported_at=now,
                    report=json.dumps(report.as_dict(), ensure_ascii=False),
                )
            )
    return report


def _refuse_unpermitted(
    session: Session,
    kind: Kind,
    valid: dict[str, tuple[int, RegistryRecord]],
    stored: dict[str, str],
    permit: Permit,
    report: ImportReport,
) -> None:
    """Move the rows `permit` refuses from `valid` to the report's rejected rows."""
    for id_, (row_number, record) in sorted(valid.items(), key=lambda item: item[1][0]):
        current = records.get(session, kind, id_) if id_ in stored else None
        refusal = permit(record, current)
        if refusal is not None:
            del valid[id_]
            report.rejected_rows.append(row_number)
            column = header_for(kind, _OWNER_FIELD.get(kind, (ID_FIELDS[kind],)))
            report.problems.append(RowProblem(row_number, column, id_, refusal))
    report.rejected_rows.sort()
    report.problems.sort(key=lambda p: p.row)


def check_row(kind: Kind, row: RawRow, json_format: bool) -> tuple[RegistryRecord | None, list[RowProblem]]:
    """The record a row describes, or the problems that stop it, one per bad cell."""
    data, cell_problems = row_input(kind, row, json_format)
    problems = [RowProblem(row.number, header, value, message) for header, value, message in cell_problems]
    try:
        record = MODELS[kind].model_validate(data)
    except ValidationError as err:
        problems_by_cell: dict[str, RowProblem] = {p.column: p for p in problems}
        for error in err.errors(include_url=False):
            header = header_for(kind, error["loc"])
            # A cell that could not be read is already reported; pydantic would only add "missing".
            if header in problems_by_cell:
                continue
            problem = RowProblem(row.number, header, cell_value(kind, row, error["loc"], json_format), chinese_message(error))
            problems_by_cell[header] = problem
            problems.append(problem)
        return None, problems
    return (None, problems) if problems else (record, [])


def chinese_message(error: ErrorDetails) -> str:
    """A pydantic error as a person keeping the spreadsheet can act on it, in Chinese, with what is allowed."""
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    messages = {
        "missing": "必填，不能为空",
        "string_too_short": f"太短；至少 {ctx.get('min_length')} 个字符",
        "string_too_long": f"太长；最多 {ctx.get('max_length')} 个字符",
        "too_short": f"至少 {ctx.get('min_length')} 项",
        "too_long": f"最多 {ctx.get('max_length')} 项",
        "int_parsing": "应为整数",
        "int_type": "应为整数",
        "greater_than_equal": f"应不小于 {ctx.get('ge')}",
        "less_than_equal": f"应不大于 {ctx.get('le')}",
        "enum": f"不是允许的值；允许：{ALLOWED_MODES}"
        if "转让" in str(ctx.get("expected", ""))
        else f"允许：{ctx.get('expected')}",
        "literal_error": f"允许：{ctx.get('expected')}",
        "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
        "date_parsing": "应为日期，格式 YYYY-MM-DD",
        "bool_parsing": "应为“是”或“否”",
        "string_pattern_mismatch": "格式不对（电子邮箱应形如 name@example.cn）",
        "extra_forbidden": "未知的字段",
        "string_type": "应为文字",
        "model_type": "应为对象",
        "list_type": "应为列表",
    }
    return messages.get(kind, error["msg"])
