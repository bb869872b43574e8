"""The reminder and escalation ladder on simulated time (Temporal's time-skipping test server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.commands import ExtendDeadline, ValidateDemand
from domain.events import Escalated, ReminderSent
from domain.sla import LadderStep
from domain.stages import Stage
from examples.lifecycle import broker_actor
from store.queries import notifications_for
from tests.factories import EXAMPLE_FILES, manager_of
from tests.workflows.conftest import Kuayue, running_kuayue

SHANGHAI = ZoneInfo("Asia/Shanghai")
FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)


@pytest.fixture
async def skipping(time_skipping_env: WorkflowEnvironment, db_url: str) -> AsyncIterator[Kuayue]:
    async with running_kuayue(time_skipping_env.client, db_url) as kuayue:
        yield kuayue


def on_time(fired_at: datetime, due_at: datetime) -> bool:
    """A timer fires at its moment, give or take the server's timer resolution (never early)."""
    return timedelta(0) <= fired_at - due_at < timedelta(seconds=2)


def working_days_between(start, end) -> int:  # type: ignore[no-untyped-def]
    """Working days after `start` up to and including `end`, counted with chinese_calendar directly."""
    days, d = 0, start
    while d < end:
        d += timedelta(days=1)
        days += chinese_calendar.is_workday(d) if d.year <= 2026 else d.weekday() < 5
    return days


async def test_each_step_fires_at_its_planned_moment_and_an_extension_moves_the_rest(
    skipping: Kuayue, time_skipping_env: WorkflowEnvironment
) -> None:
    cmd, _ = await skipping.open(FUZHOU)
    deal = cmd.deal_id
    opened = skipping.archive(deal)[1].payload
    plan = opened.plan  # type: ignore[union-attr]
    assert plan is not None and plan.stage == Stage.DEMAND_MINING and plan.budget_working_days == 10
    start_day = plan.started_at.astimezone(SHANGHAI).date()
    for s in plan.steps:  # the plan is the calendar's: N working days later, at 09:00 in Beijing
        local = s.due_at.astimezone(SHANGHAI)
        assert (local.hour, local.minute) == (9, 0)
        assert working_days_between(start_day, local.date()) == s.working_days

    # Skip to just past the 50 % reminder: it fires once, at its planned moment, to the broker.
    await time_skipping_env.sleep(plan.due_at(LadderStep.REMINDER_50) - plan.started_at + timedelta(minutes=1))
    fired = [e for e in skipping.archive(deal) if isinstance(e.payload, ReminderSent)]
    assert [e.payload.step for e in fired] == [LadderStep.REMINDER_50]  # type: ignore[union-attr]
    assert on_time(fired[0].occurred_at, plan.due_at(LadderStep.REMINDER_50))

    # The manager extends by 5 working days: the remaining steps move, the fired one stays fired.
    answer = await skipping.act(
        deal, ExtendDeadline(command_id="ext", actor=manager_of(cmd), working_days=5, reason="企业补充检测报告")
    )
    moved = answer.events[0].payload.plan  # type: ignore[union-attr]
    assert moved is not None and moved.extra_working_days == 5
    for step in (LadderStep.REMINDER_80, LadderStep.ESCALATE_MANAGER, LadderStep.ESCALATE_HUB):
        assert moved.due_at(step) > plan.due_at(step)

    now = await time_skipping_env.get_current_time()
    await time_skipping_env.sleep(moved.due_at(LadderStep.ESCALATE_HUB) - now + timedelta(minutes=1))
    ladder = [e for e in skipping.archive(deal) if isinstance(e.payload, ReminderSent | Escalated)]
    assert [e.payload.step for e in ladder] == list(LadderStep)  # type: ignore[union-attr]
    for e in ladder[1:]:
        assert on_time(e.occurred_at, moved.due_at(e.payload.step))  # type: ignore[union-attr]
    row = skipping.row(deal)
    assert row is not None and row.escalation_level == 2

    with skipping.sessions() as session:
        manager_inbox = notifications_for(session, cmd.centre.centre_id)
        hub_inbox = notifications_for(session, "hub")
        broker_inbox = notifications_for(session, cmd.broker.broker_id)
    assert any(n.kind == "escalation" and n.deal_id == deal for n in manager_inbox + hub_inbox)
    assert sum(n.kind == "reminder" and n.deal_id == deal for n in broker_inbox) == 2


async def test_a_stage_change_cancels_the_old_ladder(skipping: Kuayue, time_skipping_env: WorkflowEnvironment) -> None:
    cmd, _ = await skipping.open(FUZHOU)
    deal = cmd.deal_id
    first_plan = skipping.archive(deal)[1].payload.plan  # type: ignore[union-attr]
    await skipping.act(deal, ValidateDemand(command_id="v", actor=broker_actor(cmd)))
    # Past every step of the old stage, but before the new stage's first step.
    await time_skipping_env.sleep(first_plan.due_at(LadderStep.ESCALATE_HUB) - first_plan.started_at + timedelta(hours=1))
    archived = skipping.archive(deal)
    late = [e for e in archived if isinstance(e.payload, ReminderSent | Escalated) and e.payload.stage == Stage.DEMAND_MINING]
    assert late == []
    matching_plan = next(e.payload.plan for e in archived if getattr(e.payload, "stage", None) == Stage.MATCHING)  # type: ignore[union-attr]
    fired = [e for e in archived if isinstance(e.payload, ReminderSent)]
    assert all(on_time(e.occurred_at, matching_plan.due_at(e.payload.step)) for e in fired)  # type: ignore[union-attr]
