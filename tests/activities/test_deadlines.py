"""The deadline plan of a stage (activity deadlines.plan) and the SLA policy loader."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.calendar import POLICY_DIR, PolicyFileError, WorkingDayCalendar
from activities.deadlines import POLICY_ENV, DeadlinePlanner, load_policy, newest_policy_file
from domain.sla import DeadlinePlan, LadderStep, PlanRequest, SlaPolicy
from domain.stages import Stage

SHANGHAI = timezone(timedelta(hours=8))
# Made-up test data in the official format; NOT the real 2027 schedule.
SCHEDULE_2027 = {"year": 2027, "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"], "workdays": []}


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_policy(POLICY_DIR / "sla-2026.1.json")


@pytest.fixture
def calendar_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "calendar"
    directory.mkdir()
    return directory


@pytest.fixture
def planner(policy: SlaPolicy, calendar_dir: Path) -> DeadlinePlanner:
    return DeadlinePlanner(policy, WorkingDayCalendar(calendar_dir))


async def plan(planner: DeadlinePlanner, stage: Stage, started_at: datetime, extra: int = 0) -> DeadlinePlan:
    request = PlanRequest(deal_id="deal-1", stage=stage, started_at=started_at, extra_working_days=extra)
    return await ActivityEnvironment().run(planner.plan, request)


def at_nine_shanghai(day: date) -> datetime:
    """The moment 09:00 in Shanghai on that day, in UTC (01:00Z)."""
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)


def due_dates(result: DeadlinePlan) -> dict[LadderStep, date]:
    return {s.step: s.due_at.astimezone(SHANGHAI).date() for s in result.steps}


async def test_spring_festival_2026_ladder(planner: DeadlinePlanner) -> None:
    # Wed 2026-02-11, budget 10. Working days after it: 02-12, 02-13, Sat 02-14 (make-up), [02-15..02-23 off],
    # 02-24, 02-25 (5th), 02-26, 02-27, Sat 02-28 (make-up, 8th), [Sun 03-01], 03-02, 03-03 (10th),
    # 03-04, 03-05, 03-06, [weekend], 03-09, 03-10 (15th).
    started = datetime(2026, 2, 11, 10, 30, tzinfo=SHANGHAI)
    result = await plan(planner, Stage.DEMAND_MINING, started)

    assert [(s.step, s.working_days, s.due_at, s.provisional) for s in result.steps] == [
        (LadderStep.REMINDER_50, 5, at_nine_shanghai(date(2026, 2, 25)), False),
        (LadderStep.REMINDER_80, 8, at_nine_shanghai(date(2026, 2, 28)), False),
        (LadderStep.ESCALATE_MANAGER, 10, at_nine_shanghai(date(2026, 3, 3)), False),
        (LadderStep.ESCALATE_HUB, 15, at_nine_shanghai(date(2026, 3, 10)), False),
    ]
    assert all(s.due_at.tzinfo is not None and s.due_at.utcoffset() == timedelta(0) for s in result.steps)
    assert result.due_at(LadderStep.ESCALATE_MANAGER) == datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    assert not result.provisional


async def test_plan_records_what_it_was_computed_from(planner: DeadlinePlanner, calendar_dir: Path) -> None:
    started = datetime(2026, 2, 11, 2, 30, tzinfo=UTC)
    result = await plan(planner, Stage.DEMAND_MINING, started)
    assert result.stage == Stage.DEMAND_MINING
    assert result.started_at == started
    assert result.budget_working_days == 10
    assert result.extra_working_days == 0
    assert result.policy_version == "2026.1"
    assert result.calendar_version == WorkingDayCalendar(calendar_dir).version
    assert result.inactivity_lapse_days == 180


async def test_start_date_is_the_local_date_in_the_policy_zone(planner: DeadlinePlanner) -> None:
    # 2026-02-10 17:30 UTC is already Wednesday 2026-02-11 01:30 in Shanghai.
    late_utc = await plan(planner, Stage.DEMAND_MINING, datetime(2026, 2, 10, 17, 30, tzinfo=UTC))
    local = await plan(planner, Stage.DEMAND_MINING, datetime(2026, 2, 11, 9, 0, tzinfo=SHANGHAI))
    assert late_utc.steps == local.steps
    assert due_dates(late_utc)[LadderStep.REMINDER_50] == date(2026, 2, 25)


async def test_an_extension_moves_the_steps(planner: DeadlinePlanner) -> None:
    # Budget 10 + 4 = 14: steps at 7, 12, 14 and 21 working days after Wed 2026-02-11.
    started = datetime(2026, 2, 11, 10, 30, tzinfo=SHANGHAI)
    result = await plan(planner, Stage.DEMAND_MINING, started, extra=4)
    assert [s.working_days for s in result.steps] == [7, 12, 14, 21]
    assert due_dates(result) == {
        LadderStep.REMINDER_50: date(2026, 2, 27),
        LadderStep.REMINDER_80: date(2026, 3, 5),
        LadderStep.ESCALATE_MANAGER: date(2026, 3, 9),
        LadderStep.ESCALATE_HUB: date(2026, 3, 18),
    }
    assert result.budget_working_days == 10
    assert result.extra_working_days == 4


async def test_budgets_come_from_the_policy(planner: DeadlinePlanner) -> None:
    started = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # Monday, no holidays until April
    result = await plan(planner, Stage.FINANCING, started)
    assert result.budget_working_days == 30
    assert [s.working_days for s in result.steps] == [15, 24, 30, 45]


async def test_steps_running_into_2027_are_provisional(planner: DeadlinePlanner) -> None:
    # Mon 2026-12-21, budget 10: 12-28 (5th) and 12-31 (8th) are in 2026; 2027 is counted Monday–Friday,
    # so Fri 2027-01-01 is the 9th and Mon 01-04 the 10th working day, 01-11 the 15th.
    started = datetime(2026, 12, 21, 9, 0, tzinfo=SHANGHAI)
    result = await plan(planner, Stage.DEMAND_MINING, started)
    assert [(due_dates(result)[s.step], s.provisional) for s in result.steps] == [
        (date(2026, 12, 28), False),
        (date(2026, 12, 31), False),
        (date(2027, 1, 4), True),
        (date(2027, 1, 11), True),
    ]
    assert result.provisional


async def test_a_loaded_2027_schedule_makes_the_plan_final(
    planner: DeadlinePlanner, policy: SlaPolicy, calendar_dir: Path
) -> None:
    started = datetime(2026, 12, 21, 9, 0, tzinfo=SHANGHAI)
    before = await plan(planner, Stage.DEMAND_MINING, started)

    (calendar_dir / "2027.json").write_text(json.dumps(SCHEDULE_2027), encoding="utf-8")
    reloaded = DeadlinePlanner(policy, WorkingDayCalendar(calendar_dir))
    after = await plan(reloaded, Stage.DEMAND_MINING, started)

    # With 2027-01-01..03 off, the 9th working day is Mon 01-04 and the 10th Tue 01-05.
    assert [(due_dates(after)[s.step], s.provisional) for s in after.steps] == [
        (date(2026, 12, 28), False),
        (date(2026, 12, 31), False),
        (date(2027, 1, 5), False),
        (date(2027, 1, 12), False),
    ]
    assert not after.provisional
    assert after.calendar_version != before.calendar_version
    assert "files 2027" in after.calendar_version


async def test_a_terminal_stage_has_no_budget(planner: DeadlinePlanner) -> None:
    with pytest.raises(ApplicationError, match="SIGNED") as raised:
        await plan(planner, Stage.SIGNED, datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    assert raised.value.type == "NoBudget"
    assert raised.value.non_retryable


async def test_a_start_without_timezone_is_refused(planner: DeadlinePlanner) -> None:
    with pytest.raises(ApplicationError, match="no timezone") as raised:
        await plan(planner, Stage.MATCHING, datetime(2026, 3, 2, 9, 0))
    assert raised.value.type == "InvalidPlanRequest"
    assert raised.value.non_retryable


# --- the policy loader ---------------------------------------------------------------------------

POLICY_2026_1 = json.loads((POLICY_DIR / "sla-2026.1.json").read_text(encoding="utf-8"))


def write_policy(directory: Path, version: str, **changes: object) -> Path:
    path = directory / f"sla-{version}.json"
    path.write_text(json.dumps({**POLICY_2026_1, "version": version, **changes}), encoding="utf-8")
    return path


def test_the_repository_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLICY_ENV, raising=False)
    policy = load_policy()
    assert policy.version == "2026.1"
    assert policy.timezone == "Asia/Shanghai"
    assert policy.fire_hour == 9
    assert policy.inactivity_lapse_days == 180
    assert {stage: s.budget_working_days for stage, s in policy.stages.items()} == {
        Stage.DEMAND_MINING: 10,
        Stage.MATCHING: 15,
        Stage.BROKERING: 20,
        Stage.FINANCING: 30,
        Stage.SIGNING: 15,
    }


def test_the_newest_version_is_chosen_numerically(tmp_path: Path) -> None:
    for version in ("2026.1", "2026.2", "2026.10", "2025.9"):
        write_policy(tmp_path, version)
    assert newest_policy_file(tmp_path).name == "sla-2026.10.json"
    assert load_policy(tmp_path).version == "2026.10"


def test_the_environment_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_policy(tmp_path, "2025.3")
    monkeypatch.setenv(POLICY_ENV, str(path))
    assert load_policy().version == "2025.3"


def test_an_explicit_path_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POLICY_ENV, str(write_policy(tmp_path, "2025.3")))
    assert load_policy(POLICY_DIR / "sla-2026.1.json").version == "2026.1"


def test_a_policy_file_that_is_not_json_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "sla-2026.2.json"
    path.write_text('{"version": "2026.2", "stages": {', encoding="utf-8")
    with pytest.raises(PolicyFileError, match="Invalid JSON") as raised:
        load_policy(path)
    assert str(raised.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"stages": {**POLICY_2026_1["stages"], "FINANCING": {"budget_working_days": 0}}},
            r"stages\.FINANCING\.budget_working_days: Input should be greater than 0 \(got 0\)",
        ),
        ({"stages": {**POLICY_2026_1["stages"], "ROADSHOW": {"budget_working_days": 5}}}, r"stages\.ROADSHOW"),
        ({"fire_hour": 25}, r"fire_hour: .*less than or equal to 23 \(got 25\)"),
        ({"budgets": {}}, "budgets: Extra inputs are not permitted"),
        ({"timezone": "China/Beijing"}, "timezone 'China/Beijing' is not an IANA zone"),
        (
            {"stages": {"DEMAND_MINING": {"budget_working_days": 10}}},
            "stages without a budget: MATCHING, BROKERING, FINANCING, SIGNING",
        ),
        (
            {"stages": {**POLICY_2026_1["stages"], "SIGNED": {"budget_working_days": 5}}},
            "terminal stages cannot have a budget: SIGNED",
        ),
        ({"version": "2026.3"}, "version is '2026.3' but the file name says '2026.2'"),
    ],
)
def test_a_malformed_policy_is_refused(tmp_path: Path, changes: dict[str, object], problem: str) -> None:
    path = tmp_path / "sla-2026.2.json"
    path.write_text(json.dumps({**POLICY_2026_1, "version": "2026.2", **changes}), encoding="utf-8")
    with pytest.raises(PolicyFileError, match=problem) as raised:
        load_policy(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_missing_policy_file_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "sla-9.json"
    monkeypatch.setenv(POLICY_ENV, str(missing))
    with pytest.raises(PolicyFileError, match="cannot be read") as raised:
        load_policy()
    assert str(missing) in str(raised.value)


def test_a_policy_file_without_a_numeric_version_is_refused(tmp_path: Path) -> None:
    write_policy(tmp_path, "2026.1")
    (tmp_path / "sla-2026.2-draft.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PolicyFileError, match=r"sla-2026\.2-draft\.json: cannot tell its version"):
        load_policy(tmp_path)


def test_a_directory_without_policy_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="no SLA policy file"):
        load_policy(tmp_path)
