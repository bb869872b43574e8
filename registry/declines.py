"""Structured declines per achievement, so an N centre can see why its achievements are passed over.

The deal workflow will write here (through an activity) when a candidate is rejected or a negotiation fails;
each decline is keyed by the deal event that caused it, so a retried write is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.events import DeclineReason
from store.db import upsert_insert
from store.models import AchievementDeclineRecord, AchievementRecord

REASON_LABELS = {
    DeclineReason.TOO_EARLY_STAGE: "技术成熟度不够",
    DeclineReason.BENEFIT_UNCLEAR: "相对现有方案的效益不明确",
    DeclineReason.COMMERCIAL_ROUTE_UNCLEAR: "商业化路径不清",
    DeclineReason.PRICE: "价格不合适",
    DeclineReason.IP_UNCLEAR: "知识产权状况不清",
    DeclineReason.TOO_VAGUE: "描述过于笼统",
    DeclineReason.OTHER: "其他",
}


@dataclass(frozen=True)
class Decline:
    achievement_id: str
    deal_id: str
    seq: int
    reason: DeclineReason
    note: str
    declined_at: datetime


@dataclass(frozen=True)
class ReasonCount:
    reason: DeclineReason
    count: int

    @property
    def label(self) -> str:
        return REASON_LABELS[self.reason]


def record_decline(session: Session, decline: Decline) -> bool:
    """Keep a decline in the caller's transaction; False when that deal event was already recorded."""
    statement = (
        upsert_insert(session, AchievementDeclineRecord)
        .values(
            achievement_id=decline.achievement_id,
            deal_id=decline.deal_id,
            seq=decline.seq,
            reason=decline.reason.value,
            note=decline.note,
            declined_at=decline.declined_at,
        )
        .on_conflict_do_nothing(index_elements=["deal_id", "seq"])
    )
    return session.execute(statement).rowcount == 1


def decline_reasons(session: Session, *, centre_id: str | None = None, achievement_id: str | None = None) -> list[ReasonCount]:
    """Why achievements are passed over: declines counted by reason, most frequent first (ties by reason).

    `centre_id` counts the declines of every achievement that centre owns; `achievement_id` those of one.
    """
    count = func.count(AchievementDeclineRecord.id)
    query = select(AchievementDeclineRecord.reason, count).group_by(AchievementDeclineRecord.reason)
    if centre_id is not None:
        query = query.join(AchievementRecord, AchievementRecord.achievement_id == AchievementDeclineRecord.achievement_id)
        query = query.where(AchievementRecord.centre_id == centre_id)
    if achievement_id is not None:
        query = query.where(AchievementDeclineRecord.achievement_id == achievement_id)
    rows = [ReasonCount(DeclineReason(reason), n) for reason, n in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.count, r.reason.value))
