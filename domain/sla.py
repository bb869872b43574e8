"""Stage time budgets and the reminder/escalation ladder (DESIGN.md, "Deadlines and escalation").

The policy is data (a versioned file read by an activity); the plan of a stage is computed by an
activity with the working-day calendar and recorded in the StageEntered event, so replays never
consult the calendar again. Only pure types and arithmetic live here.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from domain.parties import Model
from domain.stages import Stage


class LadderStep(StrEnum):
    REMINDER_50 = "reminder_50"
    REMINDER_80 = "reminder_80"
    ESCALATE_MANAGER = "escalate_manager"  # 100 %: level 1, the centre manager
    ESCALATE_HUB = "escalate_hub"  # 150 %: level 2, the provincial hub


LADDER_PERCENT: dict[LadderStep, int] = {
    LadderStep.REMINDER_50: 50,
    LadderStep.REMINDER_80: 80,
    LadderStep.ESCALATE_MANAGER: 100,
    LadderStep.ESCALATE_HUB: 150,
}

ESCALATION_LEVEL: dict[LadderStep, int] = {
    LadderStep.REMINDER_50: 0,
    LadderStep.REMINDER_80: 0,
    LadderStep.ESCALATE_MANAGER: 1,
    LadderStep.ESCALATE_HUB: 2,
}


def step_working_days(budget_working_days: int, step: LadderStep) -> int:
    """Working days after the stage start at which a step falls (at least one)."""
    return max(1, math.ceil(budget_working_days * LADDER_PERCENT[step] / 100))


class StagePolicy(Model):
    budget_working_days: int = Field(gt=0)


class SlaPolicy(Model):
    """One version of the policy file: budgets per open stage, the hour steps fire, inactivity lapse."""

    version: str = Field(min_length=1)
    timezone: str = "Asia/Shanghai"
    fire_hour: int = Field(default=9, ge=0, le=23)
    inactivity_lapse_days: int = Field(default=180, gt=0)
    stages: dict[Stage, StagePolicy]


class PlanRequest(Model):
    """What the workflow asks the deadline activity for when a stage starts or is extended."""

    deal_id: str
    stage: Stage
    started_at: datetime
    extra_working_days: int = Field(default=0, ge=0)


class PlannedStep(Model):
    step: LadderStep
    working_days: int
    due_at: datetime
    provisional: bool = Field(description="computed Monday-Friday because the year's official schedule is unknown")


class DeadlinePlan(Model):
    """The due moments of one stage, as computed once and recorded in an event."""

    stage: Stage
    started_at: datetime
    budget_working_days: int
    extra_working_days: int = 0
    steps: tuple[PlannedStep, ...]
    policy_version: str
    calendar_version: str
    inactivity_lapse_days: int

    @property
    def provisional(self) -> bool:
        return any(s.provisional for s in self.steps)

    def due_at(self, step: LadderStep) -> datetime:
        return next(s.due_at for s in self.steps if s.step == step)
