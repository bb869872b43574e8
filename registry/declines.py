"""Structured declines per achievement, so an N centre can see why its achievements are passed over.

The event archive (`activities.archive`) writes here, in the transaction that archives a CandidateRejected or
NegotiationFailed event; each decline is keyed by the deal event that caused it, so a retried write is a no-op.
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
    """One achievement passed over in one deal, keyed by the deal event (deal_id, seq) that says so."""

    achievement_id: str
    deal_id: str
    seq: int
    reason: DeclineReason
    note: str
    declined_at: datetime

    @property
    def label(self) -> str:
        return REASON_LABELS[self.reason]


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


def list_declines(
    session: Session, *, centre_id: str | None = None, achievement_id: str | None = None, limit: int = 200
) -> list[Decline]:
    """The declines themselves, newest first: which deal passed over which achievement, why, and when."""
    query = select(AchievementDeclineRecord).order_by(
        AchievementDeclineRecord.declined_at.desc(), AchievementDeclineRecord.deal_id, AchievementDeclineRecord.seq.desc()
    )
    if centre_id is not None:
        query = query.join(AchievementRecord, AchievementRecord.achievement_id == AchievementDeclineRecord.achievement_id)
        query = query.where(AchievementRecord.centre_id == centre_id)
    if achievement_id is not None:
        query = query.where(AchievementDeclineRecord.achievement_id == achievement_id)
    return [
        Decline(
            achievement_id=row.achievement_id,
            deal_id=row.deal_id,
            seq=row.seq,
            reason=DeclineReason(row.reason),
            note=row.note,
            declined_at=row.declined_at,
        )
        for row in session.scalars(query.limit(limit))
    ]
