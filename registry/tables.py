"""The registries as files: CSV, Excel (.xlsx) and JSON, in both directions.

CSV and Excel use the Chinese column headers centres keep (`登记号`, `成果名称`, …; the model's field paths such as
`institution.name` are accepted too), money in 万元 with `面议` for a negotiable price, lists separated by `；`.
JSON is a list of records exactly as the models dump them (money in fen). Reading yields raw rows; turning a row
into a record (and saying what is wrong with it) is `registry.importer`'s job.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from domain.parties import FEN_PER_WAN, TransferMode
from domain.registry import MATURITY_LABELS, Achievement, MaturityStage, RegisteredDemand


class Kind(StrEnum):
    ACHIEVEMENTS = "achievements"
    DEMANDS = "demands"


KIND_LABELS = {Kind.ACHIEVEMENTS: "科技成果", Kind.DEMANDS: "企业技术需求"}
FORMATS = (".csv", ".xlsx", ".json")
_LIST_SPLIT = re.compile(r"[;；,，、\n]+")
_PATENT_SPLIT = re.compile(r"[;；,，、\s]+")
_YES = {"是", "y", "yes", "true", "1", "揭榜挂帅"}
_NO = {"否", "n", "no", "false", "0", ""}


class CellError(ValueError):
    """A cell that cannot be read as its column's type; the message says what is allowed."""


@dataclass(frozen=True)
class Column:
    header: str
    path: tuple[str, ...]
    kind: str = "text"  # text, list, patents, int, wan, bool, date, modes, stage, indicators

    def parse(self, cell: Any) -> Any:
        """The model input for a cell; None when the cell is empty."""
        text = _cell_text(cell)
        if text == "":
            return None
        if self.kind == "text":
            return text
        if self.kind in ("list", "modes"):
            return [p.strip() for p in _LIST_SPLIT.split(text) if p.strip()]
        if self.kind == "patents":
            return [p for p in _PATENT_SPLIT.split(text) if p]
        if self.kind == "int":
            if not re.fullmatch(r"\d+", text):
                raise CellError("应为整数")
            return int(text)
        if self.kind == "wan":
            return _wan_to_fen(text)
        if self.kind == "bool":
            if text.lower() in _YES:
                return True
            if text.lower() in _NO:
                return False
            raise CellError("应为“是”或“否”")
        if self.kind == "date":
            try:
                return date.fromisoformat(text[:10].replace("/", "-")).isoformat()
            except ValueError:
                raise CellError("应为日期，格式 YYYY-MM-DD，如 2027-06-30") from None
        if self.kind == "stage":
            by_label = {label: stage.value for stage, label in MATURITY_LABELS.items()}
            value = by_label.get(text, text.lower())
            if value not in {s.value for s in MaturityStage}:
                raise CellError("允许：实验室、中试、成熟（或 lab、pilot、mature）")
            return value
        if self.kind == "indicators":
            indicators = []
            for part in _LIST_SPLIT.split(text):
                if not part.strip():
                    continue
                match = re.fullmatch(r"\s*([^:：]+?)\s*[:：]\s*(.+?)\s*", part)
                if match is None:
                    raise CellError("每项应为“指标名：目标值”，多项用“；”分隔，如 转速：≥ 40000 rpm；寿命：≥ 2000 h")
                indicators.append({"name": match.group(1), "target": match.group(2)})
            return indicators
        raise AssertionError(self.kind)

    def format(self, value: Any) -> Any:
        """The cell for a model's JSON value at this column's path."""
        if value is None or value == [] or value == "":
            return ""
        if self.kind in ("list", "modes", "patents"):
            return "；".join(value)
        if self.kind == "wan":
            return _fen_to_wan(value)
        if self.kind == "bool":
            return "是" if value else "否"
        if self.kind == "stage":
            return MATURITY_LABELS[MaturityStage(value)]
        if self.kind == "indicators":
            return "；".join(f"{i['name']}：{i['target']}" for i in value)
        return value


ACHIEVEMENT_COLUMNS = (
    Column("登记号", ("achievement_id",)),
    Column("成果名称", ("title",)),
    Column("成果简介", ("abstract",)),
    Column("关键词", ("keywords",), "list"),
    Column("完成单位", ("institution", "name")),
    Column("单位统一社会信用代码", ("institution", "credit_code")),
    Column("所属N中心", ("institution", "centre_id")),
    Column("行业代码", ("industry_code",)),
    Column("技术就绪度", ("trl",), "int"),
    Column("成熟度阶段", ("stage",), "stage"),
    Column("专利号", ("patents",), "patents"),
    Column("转化方式", ("transfer_modes",), "modes"),
    Column("报价（万元）", ("asking_price_fen",), "wan"),
    Column("所在地区代码", ("region_code",)),
    Column("联系人", ("contact", "name")),
    Column("联系电话", ("contact", "phone")),
    Column("电子邮箱", ("contact", "email")),
)

DEMAND_COLUMNS = (
    Column("需求编号", ("demand_id",)),
    Column("需求名称", ("title",)),
    Column("技术难题", ("problem",)),
    Column("关键词", ("keywords",), "list"),
    Column("企业名称", ("enterprise_name",)),
    Column("统一社会信用代码", ("enterprise_credit_code",)),
    Column("所在地区代码", ("region_code",)),
    Column("行业代码", ("industry_code",)),
    Column("目标指标", ("indicators",), "indicators"),
    Column("预算下限（万元）", ("budget", "min_fen"), "wan"),
    Column("预算上限（万元）", ("budget", "max_fen"), "wan"),
    Column("截止日期", ("deadline",), "date"),
    Column("最低技术就绪度", ("min_trl",), "int"),
    Column("意向转化方式", ("preferred_modes",), "modes"),
    Column("知识产权要求", ("ip_expectations",)),
    Column("揭榜挂帅", ("open_call",), "bool"),
    Column("揭榜方资格", ("solver_qualifications",)),
    Column("联系人", ("contact", "name")),
    Column("联系电话", ("contact", "phone")),
    Column("电子邮箱", ("contact", "email")),
)

COLUMNS = {Kind.ACHIEVEMENTS: ACHIEVEMENT_COLUMNS, Kind.DEMANDS: DEMAND_COLUMNS}
MODELS: dict[Kind, type[Achievement] | type[RegisteredDemand]] = {Kind.ACHIEVEMENTS: Achievement, Kind.DEMANDS: RegisteredDemand}
ID_FIELDS = {Kind.ACHIEVEMENTS: "achievement_id", Kind.DEMANDS: "demand_id"}
ALLOWED_MODES = "、".join(m.value for m in TransferMode)


def header_for(kind: Kind, path: Sequence[str | int]) -> str:
    """The column a pydantic error location belongs to (the longest matching path), or '整行' for the whole record."""
    names = tuple(str(p) for p in path)
    best: Column | None = None
    for column in COLUMNS[kind]:
        if names[: len(column.path)] == column.path and (best is None or len(column.path) > len(best.path)):
            best = column
    if best is None and names:
        # An error on a nested object as a whole (e.g. the budget range) belongs to its first column.
        best = next((c for c in COLUMNS[kind] if c.path[: len(names)] == names), None)
    return best.header if best else "整行"


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class RawRow:
    """One row as read: its number as the person sees it (spreadsheet row, or position in a JSON list) and cells."""

    number: int
    cells: dict[str, Any]


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"文件「{path.name}」的类型「{suffix or '无扩展名'}」不支持；允许 .csv、.xlsx、.json")
    return suffix


def read_rows(path: Path) -> list[RawRow]:
    """Rows of a CSV, XLSX or JSON file; blank rows are skipped."""
    suffix = detect_format(path)
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [])
        if not isinstance(data, list):
            raise ValueError(f"JSON 文件「{path.name}」应为记录的列表（[{{...}}, ...]）")
        return [RawRow(i, item if isinstance(item, dict) else {"": item}) for i, item in enumerate(data, start=1)]
    table = _read_xlsx(path) if suffix == ".xlsx" else _read_csv(path)
    if not table:
        return []
    headers = [_cell_text(h) for h in table[0]]
    rows = []
    for number, values in enumerate(table[1:], start=2):
        if all(_cell_text(v) == "" for v in values):
            continue
        rows.append(RawRow(number, {h: v for h, v in zip(headers, values, strict=False) if h}))
    return rows


def _read_csv(path: Path) -> list[list[Any]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves CSV in GBK unless told otherwise.
        text = raw.decode("gb18030")
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]


def _read_xlsx(path: Path) -> list[list[Any]]:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def detect_kind(rows: Sequence[RawRow]) -> Kind | None:
    """Achievements or demands, from the id column's header in the first row."""
    for row in rows[:1]:
        if "登记号" in row.cells or "achievement_id" in row.cells:
            return Kind.ACHIEVEMENTS
        if "需求编号" in row.cells or "demand_id" in row.cells:
            return Kind.DEMANDS
    return None


def row_input(kind: Kind, row: RawRow, json_format: bool) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """The model input of a row and the cells that could not be read: (header, value, message) each."""
    if json_format:
        return dict(row.cells), []
    data: dict[str, Any] = {}
    problems: list[tuple[str, str, str]] = []
    known = set()
    for column in COLUMNS[kind]:
        dotted = ".".join(column.path)
        known.update({column.header, dotted})
        key = column.header if column.header in row.cells else dotted
        if key not in row.cells:
            continue
        try:
            value = column.parse(row.cells[key])
        except CellError as err:
            problems.append((column.header, _cell_text(row.cells[key]), str(err)))
            continue
        if value is not None:
            _put(data, column.path, value)
    for header, cell in row.cells.items():
        if header not in known and _cell_text(cell):
            problems.append(
                (header, _cell_text(cell), f"未知的列；{KIND_LABELS[kind]}的列为：" + "、".join(c.header for c in COLUMNS[kind]))
            )
    return data, problems


def cell_value(kind: Kind, row: RawRow, path: Sequence[str | int], json_format: bool) -> str:
    """The raw value at an error's location, for the report."""
    if json_format:
        value: Any = row.cells
        for key in path:
            found = isinstance(value, dict) and key in value
            if found or (isinstance(value, list) and isinstance(key, int) and key < len(value)):
                value = value[key]
            else:
                return ""
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    header = header_for(kind, path)
    column = next((c for c in COLUMNS[kind] if c.header == header), None)
    if column is None:
        return ""
    return _cell_text(row.cells.get(header, row.cells.get(".".join(column.path), "")))


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "是" if cell else "否"
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float):
        return format(Decimal(repr(cell)).normalize(), "f") if cell != int(cell) else str(int(cell))
    return str(cell).strip()


def _wan_to_fen(text: str) -> int | None:
    if text in ("面议", "negotiable"):
        return None
    try:
        wan = Decimal(text.replace(",", "").replace("，", "").removesuffix("万元").removesuffix("万"))
    except InvalidOperation:
        raise CellError("应为万元数（如 300 或 12.5），或“面议”") from None
    fen = wan * FEN_PER_WAN
    if fen != fen.to_integral_value() or fen < 0:
        raise CellError("应为不小于 0 的万元数，最多 6 位小数（精确到分）")
    return int(fen)


def _fen_to_wan(fen: int) -> int | float | str:
    wan = Decimal(fen) / FEN_PER_WAN
    return int(wan) if wan == wan.to_integral_value() else format(wan.normalize(), "f")


# ---------------------------------------------------------------- writing


def record_cells(kind: Kind, record: Achievement | RegisteredDemand) -> list[Any]:
    data = record.model_dump(mode="json")
    cells = []
    for column in COLUMNS[kind]:
        value = _get(data, column.path)
        if column.kind == "wan" and value is None and column.path == ("asking_price_fen",):
            cells.append("面议")
        else:
            cells.append(column.format(value))
    return cells


def write_records(path: Path, kind: Kind, records: Sequence[Achievement | RegisteredDemand]) -> None:
    """Write records in the format the file's extension names."""
    suffix = detect_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        data = [r.model_dump(mode="json", exclude_defaults=False) for r in records]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return
    headers = [c.header for c in COLUMNS[kind]]
    rows = [record_cells(kind, r) for r in records]
    if suffix == ".csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows(rows)
        return
    import openpyxl
    from openpyxl.styles import Font

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = KIND_LABELS[kind]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        # Text cells stay text, so an id such as 0791… or a code keeps its leading zeros.
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            # openpyxl writes a string that starts with "=" as a formula, which a spreadsheet would run: keep it text.
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    workbook.save(path)


def iter_progress(rows: Sequence[RawRow], label: str) -> Iterator[RawRow]:
    """Rows with a progress bar on stderr when it is a terminal and the file is large."""
    import sys

    if len(rows) < 200 or not sys.stderr.isatty():
        yield from rows
        return
    from tqdm import tqdm

    yield from tqdm(rows, desc=label, unit="行", file=sys.stderr)
