"""Sample deals for store and archive tests: real domain events with simple payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.actors import TIMER, Actor, Role
from domain.events import DemandValidated, Event, ReminderSent
from domain.projection import AppendRequest, DealSummary, Notification
from domain.sla import LADDER_PERCENT, LadderStep
from domain.stages import Stage

SAMPLE_START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
SAMPLE_BROKER = Actor(id="broker-zhang", role=Role.BROKER, centre_id="centre-jian")
SAMPLE_LADDER = (LadderStep.REMINDER_50, LadderStep.REMINDER_80)


def sample_event(deal_id: str, seq: int, note: str = "指标与预算已核实") -> Event:
    """Odd seqs: the broker validates the demand; even seqs: the timer reminds the broker."""
    when = SAMPLE_START + timedelta(hours=seq)
    if seq % 2:
        return Event(
            deal_id=deal_id,
            seq=seq,
            occurred_at=when,
            actor=SAMPLE_BROKER,
            command_id=f"cmd-{deal_id}-{seq}",
            payload=DemandValidated(note=note),
        )
    return Event(
        deal_id=deal_id,
        seq=seq,
        occurred_at=when,
        actor=TIMER,
        payload=ReminderSent(stage=Stage.DEMAND_MINING, step=SAMPLE_LADDER[(seq // 2 - 1) % 2], recipient_id=SAMPLE_BROKER.id),
    )


def sample_summary(deal_id: str, last_seq: int, **changes: Any) -> DealSummary:
    """The deals row after `last_seq` sample events; `changes` override any field."""
    fields: dict[str, Any] = {
        "deal_id": deal_id,
        "title": "高速电主轴轴承寿命提升",
        "enterprise_name": "吉安精工机械有限公司",
        "stage": Stage.DEMAND_MINING,
        "broker_id": SAMPLE_BROKER.id,
        "centre_id": "centre-jian",
        "industry_code": "C3483",
        "region_code": "360800",
        "stage_entered_at": SAMPLE_START,
        "stage_due_at": SAMPLE_START + timedelta(days=14),
        "next_due_at": SAMPLE_START + timedelta(days=7),
        "financing_need_fen": 5_000_000_000,  # 5,000 万元: more than 2**31 fen
        "last_seq": last_seq,
        "last_event_at": SAMPLE_START + timedelta(hours=last_seq),
    }
    return DealSummary(**(fields | changes))


def sample_request(deal_id: str, seqs: range, **summary_changes: Any) -> AppendRequest:
    """An append of the sample events `seqs`, with the matching summary and one notification per reminder."""
    events = tuple(sample_event(deal_id, seq) for seq in seqs)
    notifications = tuple(
        Notification(
            deal_id=deal_id,
            seq=e.seq,
            kind="reminder",
            recipient_role=Role.BROKER,
            recipient_id=SAMPLE_BROKER.id,
            message=f"需求挖掘阶段已用去 {LADDER_PERCENT[e.payload.step]}% 的时限",
        )
        for e in events
        if isinstance(e.payload, ReminderSent)
    )
    return AppendRequest(
        deal_id=deal_id,
        events=events,
        summary=sample_summary(deal_id, seqs[-1], **summary_changes),
        notifications=notifications,
    )
