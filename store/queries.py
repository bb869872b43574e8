"""Read functions over the archive and the read models, answering in domain types."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.events import Event
from domain.projection import DealSummary, Notification
from domain.stages import Stage
from store.models import Base, DealRecord, EventRecord, NotificationRecord, PartnerAnswerRecord, PartnerRequestRecord

ModelT = TypeVar("ModelT", bound=BaseModel)


class StoredNotification(Notification):
    """A notification as the outbox holds it: its row id and when it was created and read."""

    id: int
    created_at: datetime
    read_at: datetime | None = Field(default=None, description="None while unread")


def events_of(session: Session, deal_id: str, since_seq: int = 0) -> list[Event]:
    """The deal's archived events after `since_seq`, in order, parsed from the hashed payload text."""
    payloads = session.scalars(
        select(EventRecord.payload).where(EventRecord.deal_id == deal_id, EventRecord.seq > since_seq).order_by(EventRecord.seq)
    )
    return [Event.model_validate_json(payload) for payload in payloads]


def deal_row(session: Session, deal_id: str) -> DealSummary | None:
    """The deal's read-model row, or None when the deal is unknown."""
    record = session.get(DealRecord, deal_id)
    return None if record is None else _as(DealSummary, record)


def list_deals(
    session: Session,
    *,
    stage: Stage | None = None,
    broker_id: str | None = None,
    centre_id: str | None = None,
    limit: int = 100,
) -> list[DealSummary]:
    """Deals matching every given filter, the soonest stage deadline first (deals without one last)."""
    query = select(DealRecord)
    if stage is not None:
        query = query.where(DealRecord.stage == stage.value)
    if broker_id is not None:
        query = query.where(DealRecord.broker_id == broker_id)
    if centre_id is not None:
        query = query.where(DealRecord.centre_id == centre_id)
    query = query.order_by(DealRecord.stage_due_at.asc().nulls_last(), DealRecord.deal_id).limit(limit)
    return [_as(DealSummary, record) for record in session.scalars(query)]


def notifications_for(
    session: Session, recipient_id: str, *, unread_only: bool = False, limit: int = 100
) -> list[StoredNotification]:
    """A person's or a centre's notifications, newest first."""
    query = select(NotificationRecord).where(NotificationRecord.recipient_id == recipient_id)
    if unread_only:
        query = query.where(NotificationRecord.read_at.is_(None))
    query = query.order_by(NotificationRecord.id.desc()).limit(limit)
    return [_as(StoredNotification, record) for record in session.scalars(query)]


def _as(model: type[ModelT], record: Base) -> ModelT:
    """A row as a domain model whose fields are named like the row's columns (extra columns are left out)."""
    return model.model_validate({name: getattr(record, name) for name in model.model_fields})


def partner_request(session: Session, deal_id: str, request_id: str) -> PartnerRequestRecord | None:
    """A deal's request to a partner, as the read model has it (None: no such request in that deal)."""
    return session.get(PartnerRequestRecord, (deal_id, request_id))


def answer_recorded(session: Session, deal_id: str, partner_id: str, answer_id: str) -> bool:
    """Whether the deal has already recorded this partner's answer id."""
    return session.get(PartnerAnswerRecord, (deal_id, partner_id, answer_id)) is not None
