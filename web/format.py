"""How dates, money, stages and deadlines are written for people here (Jinja filters and the API's labels)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from activities.calendar import WorkingDayCalendar
from domain.parties import format_wan
from domain.projection import DealSummary
from domain.stages import OPEN_STAGES, STAGE_NAMES_ZH, TERMINAL_STAGES, Stage

SHANGHAI = ZoneInfo("Asia/Shanghai")

# What a deal in each open stage usually waits for; the deal page lists the exact commands allowed now.
NEXT_ACTION_ZH: dict[Stage, str] = {
    Stage.DEMAND_MINING: "核实企业需求",
    Stage.MATCHING: "推荐并确认匹配成果",
    Stage.BROKERING: "商定交易条款",
    Stage.FINANCING: "落实融资或说明无需融资",
    Stage.SIGNING: "签订并登记技术合同",
}

COMMAND_NAMES_ZH: dict[str, str] = {
    "ValidateDemand": "确认需求",
    "ProposeCandidates": "推荐候选成果",
    "ShortlistCandidate": "入围候选成果",
    "RejectCandidate": "否决候选成果",
    "AcceptMatch": "确认匹配",
    "AgreeTerms": "商定条款",
    "FailNegotiation": "谈判未成",
    "RecordCommitment": "登记融资承诺",
    "WaiveFinancing": "无需融资",
    "SignContract": "签订合同",
    "RegisterContract": "合同认定登记",
    "WithdrawDeal": "撤回案件",
    "ReassignBroker": "改派经纪人",
    "ExtendDeadline": "延长期限",
    "ApplyForFinancing": "提交融资申请",
    "SignTechnologyContract": "签订技术合同（完整）",
    "SubmitRegistration": "申请合同认定登记",
}


def zh_date(value: datetime | date | None) -> str:
    """2026年3月5日 (a moment is shown on its Beijing date)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def zh_datetime(value: datetime | None) -> str:
    """2026年3月5日 09:30 in Beijing time."""
    if value is None:
        return "—"
    local = value.astimezone(SHANGHAI)
    return f"{zh_date(local)} {local:%H:%M}"


def wan(fen: int | None) -> str:
    return "—" if fen is None else format_wan(fen)


def stage_zh(stage: Stage | str | None) -> str:
    return "—" if stage is None else STAGE_NAMES_ZH[Stage(stage)]


@lru_cache(maxsize=1)
def _calendar() -> WorkingDayCalendar:
    # The deadline planner's own calendar (statutory holidays, make-up days, operator-loaded year files), so the
    # days left that a broker reads are counted exactly as the due dates were planned.
    return WorkingDayCalendar()


def _is_workday(day: date) -> bool:
    return _calendar().is_working_day(day)[0]


def working_days_left(due: datetime, now: datetime) -> int:
    """Working days after today (Beijing) up to and including the due date; negative when overdue."""
    today = now.astimezone(SHANGHAI).date()
    end = due.astimezone(SHANGHAI).date()
    if end < today:
        return -sum(1 for i in range(1, (today - end).days + 1) if _is_workday(end + timedelta(days=i)))
    return sum(1 for i in range(1, (end - today).days + 1) if _is_workday(today + timedelta(days=i)))


def deadline_badge(deal: DealSummary, now: datetime | None = None) -> tuple[str, str] | None:
    """(css class, text) of the badge a deal needs, or None: escalated beats overdue beats nothing."""
    now = now or datetime.now(UTC)
    if deal.stage in TERMINAL_STAGES:
        return None
    if deal.escalation_level > 0:
        return ("escalated", f"已升级（{deal.escalation_level} 级）")
    if deal.stage_due_at is not None and deal.stage_due_at <= now:
        return ("overdue", "已超期")
    return None


def progress(stage: Stage) -> list[tuple[str, str]]:
    """The open stages plus 已签约, each with its state (done / current / todo) for the progress bar."""
    steps = [*OPEN_STAGES, Stage.SIGNED]
    if stage in (Stage.WITHDRAWN, Stage.LAPSED):
        return [(STAGE_NAMES_ZH[s], "todo") for s in steps] + [(STAGE_NAMES_ZH[stage], "ended")]
    current = steps.index(stage)
    return [(STAGE_NAMES_ZH[s], _step_state(i, current, stage)) for i, s in enumerate(steps)]


def _step_state(index: int, current: int, stage: Stage) -> str:
    if index < current or stage == Stage.SIGNED:
        return "done"
    return "current" if index == current else "todo"


def ago_zh(then: datetime, now: datetime) -> tuple[str, int]:
    """How long ago, as a message and its number: ("刚刚", 0), ("%(n)s 分钟前", 5), ("%(n)s 小时前", 3), ("%(n)s 天前", 2)."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return "刚刚", 0
    if seconds < 3600:
        return "%(n)s 分钟前", seconds // 60
    if seconds < 86400:
        return "%(n)s 小时前", seconds // 3600
    return "%(n)s 天前", seconds // 86400


def freshness(updated_at: datetime | None, now: datetime | None = None) -> dict[str, object] | None:
    """The read model's age for "数据更新于 … 前" (None when it holds no deal yet)."""
    if updated_at is None:
        return None
    unit, n = ago_zh(updated_at, now or datetime.now(UTC))
    return {"at": zh_datetime(updated_at), "ago_unit": unit, "n": n}


NAMES = Path(__file__).resolve().parents[1] / "registry" / "data" / "names.json"
# Jiangxi's 11 prefecture-level cities (GB/T 2260): the demand map's rows and the inbox's region choices.
JIANGXI_CITIES = ("360100", "360200", "360300", "360400", "360500", "360600", "360700", "360800", "360900", "361000", "361100")


@lru_cache(maxsize=1)
def code_names() -> dict[str, dict[str, str]]:
    """GB/T 4754 industry and GB/T 2260 region names ({"industries": …, "regions": …}), the registry's own list."""
    names: dict[str, dict[str, str]] = json.loads(NAMES.read_text(encoding="utf-8"))
    return names


def en_date(value: datetime | date | None) -> str:
    """5 Mar 2026 (a moment is shown on its Beijing date)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return f"{value.day} {value:%b} {value.year}"


def en_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    local = value.astimezone(SHANGHAI)
    return f"{en_date(local)} {local:%H:%M}"


def en_money(fen: int | None) -> str:
    """Yuan with two decimals for English readers, who do not count in 万."""
    return "—" if fen is None else f"{fen / 100:,.2f} yuan"
