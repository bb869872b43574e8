"""Stage deadlines: the versioned SLA policy file and the activity that plans a stage's ladder.

The rule of `DeadlinePlanner.plan` (DESIGN.md, "Deadlines and escalation"):
- budget B = the policy budget of request.stage + request.extra_working_days (a manager's extension);
- for each ladder step (50 %, 80 %, 100 %, 150 %) N = step_working_days(B, step) = max(1, ceil(B * p / 100));
- local start date = request.started_at converted to policy.timezone; the step's due date is the N-th
  working day of the Chinese statutory calendar after it (the start day itself is not counted);
- due_at = the due date at policy.fire_hour:00 local time, converted to UTC (timezone-aware);
- a step is provisional when its count examined a day of a year whose official schedule is unknown
  (Monday–Friday was assumed there); such steps are re-planned through an event once the year is loaded.
A stage with no budget in the policy (a terminal stage) is a caller's mistake: ApplicationError
"NoBudget", not retried. The plan records the policy and calendar versions so a replay never recomputes it.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.calendar import POLICY_DIR, PolicyFileError, WorkingDayCalendar, read_policy_file
from domain.sla import LADDER_PERCENT, DeadlinePlan, PlannedStep, PlanRequest, SlaPolicy, step_working_days
from domain.stages import OPEN_STAGES, TERMINAL_STAGES, zh

POLICY_ENV = "KUAYUE_SLA_POLICY"

_POLICY_FILE = re.compile(r"^sla-(?P<version>\d+(?:\.\d+)*)\.json$")


def load_policy(path: Path | None = None) -> SlaPolicy:
    """The SLA policy: `path`, else the file named by $KUAYUE_SLA_POLICY, else the newest policy/sla-*.json.

    `path` (or the variable) may also name a directory, to take the newest sla-*.json in it. A relative
    path in the variable is taken relative to the repository root, so it does not depend on the working
    directory of the worker. Raises PolicyFileError naming the file and the problem.
    """
    if path is None:
        named = os.environ.get(POLICY_ENV, "").strip()
        path = (POLICY_DIR.parent / named) if named else POLICY_DIR
    if path.is_dir():
        path = newest_policy_file(path)
    policy = read_policy_file(path, SlaPolicy)
    _check_policy(path, policy)
    return policy


def newest_policy_file(directory: Path) -> Path:
    """The sla-<version>.json with the highest version, compared number by number (2026.10 > 2026.9)."""
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for path in directory.glob("sla-*.json"):
        match = _POLICY_FILE.match(path.name)
        if match is None:
            raise PolicyFileError(
                f"{path}: cannot tell its version; policy files are named sla-<version>.json with a dotted "
                f"numeric version, like sla-2026.1.json"
            )
        candidates.append((tuple(int(part) for part in match["version"].split(".")), path))
    if not candidates:
        raise PolicyFileError(f"{directory}: no SLA policy file (sla-<version>.json) in this directory")
    candidates.sort()
    if len(candidates) > 1 and candidates[-1][0] == candidates[-2][0]:
        raise PolicyFileError(f"{candidates[-1][1]}: same version as {candidates[-2][1].name}; which one is newest?")
    return candidates[-1][1]


def _check_policy(path: Path, policy: SlaPolicy) -> None:
    # What the SlaPolicy type alone does not check, so a bad file stops the worker, not a deal.
    match = _POLICY_FILE.match(path.name)
    if match is not None and match["version"] != policy.version:
        raise PolicyFileError(f"{path}: version is {policy.version!r} but the file name says {match['version']!r}")
    try:
        ZoneInfo(policy.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PolicyFileError(f"{path}: timezone {policy.timezone!r} is not an IANA zone like Asia/Shanghai") from exc
    missing = [stage.value for stage in OPEN_STAGES if stage not in policy.stages]
    if missing:
        raise PolicyFileError(f"{path}: stages without a budget: {', '.join(missing)}; every open stage needs one")
    terminal = sorted(stage.value for stage in policy.stages if stage in TERMINAL_STAGES)
    if terminal:
        raise PolicyFileError(f"{path}: terminal stages cannot have a budget: {', '.join(terminal)}")


class DeadlinePlanner:
    """Plans the reminder/escalation ladder of a stage (activity `deadlines.plan`)."""

    def __init__(self, policy: SlaPolicy, calendar: WorkingDayCalendar) -> None:
        self._policy = policy
        self._calendar = calendar
        self._zone = ZoneInfo(policy.timezone)

    @property
    def policy(self) -> SlaPolicy:
        return self._policy

    @property
    def calendar_version(self) -> str:
        return self._calendar.version

    def ladder(self, started_at: datetime, budget: int) -> tuple[PlannedStep, ...]:
        """The four ladder steps of a budget of `budget` working days from `started_at` (the rule above)."""
        local_start = started_at.astimezone(self._zone).date()
        fire_at = time(hour=self._policy.fire_hour)
        steps = []
        for step in LADDER_PERCENT:
            working_days = step_working_days(budget, step)
            due_date, provisional = self._calendar.add_working_days(local_start, working_days)
            due_at = datetime.combine(due_date, fire_at, tzinfo=self._zone).astimezone(UTC)
            steps.append(PlannedStep(step=step, working_days=working_days, due_at=due_at, provisional=provisional))
        return tuple(steps)

    @activity.defn(name="deadlines.plan")
    async def plan(self, request: PlanRequest) -> DeadlinePlan:
        """The due moments of every ladder step of the stage; the rule is in the module docstring."""
        stage_policy = self._policy.stages.get(request.stage)
        if stage_policy is None:
            budgeted = ", ".join(stage.value for stage in self._policy.stages)
            version = self._policy.version
            raise ApplicationError(
                f"{zh(request.stage)} has no time budget in SLA policy {version} (budgeted: {budgeted})",
                type="NoBudget",
                non_retryable=True,
            )
        started_at = request.started_at
        if started_at.tzinfo is None or started_at.utcoffset() is None:
            raise ApplicationError(
                f"started_at {started_at.isoformat()} of deal {request.deal_id} has no timezone; "
                f"send an aware datetime (workflow time is UTC)",
                type="InvalidPlanRequest",
                non_retryable=True,
            )
        steps = self.ladder(started_at, stage_policy.budget_working_days + request.extra_working_days)
        return DeadlinePlan(
            stage=request.stage,
            started_at=started_at,
            budget_working_days=stage_policy.budget_working_days,
            extra_working_days=request.extra_working_days,
            steps=steps,
            policy_version=self._policy.version,
            calendar_version=self._calendar.version,
            inactivity_lapse_days=self._policy.inactivity_lapse_days,
        )
