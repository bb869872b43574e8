"""Who did what: a person's actions over a period, from the archive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.events import Event
from store.models import EventRecord


def actions_of(session: Session, actor_id: str, *, since: datetime | None = None, until: datetime | None = None) -> list[Event]:
    """Every archived event `actor_id` caused with `since <= occurred_at < until`, oldest first, across deals."""
    query = select(EventRecord.payload).where(EventRecord.actor_id == actor_id)
    if since is not None:
        query = query.where(EventRecord.occurred_at >= since)
    if until is not None:
        query = query.where(EventRecord.occurred_at < until)
    query = query.order_by(EventRecord.occurred_at, EventRecord.deal_id, EventRecord.seq)
    return [Event.model_validate_json(payload) for payload in session.scalars(query)]
