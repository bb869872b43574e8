"""A deal's full state as of a seq or a moment, folded from the archive ("what did the broker know then?")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.decider import fold
from domain.events import Event
from domain.state import DealState
from store.models import EventRecord


def events_until(session: Session, deal_id: str, *, seq: int | None = None, at: datetime | None = None) -> list[Event]:
    """The deal's archived events up to and including `seq` and/or the moment `at` (aware), in order."""
    if at is not None and at.tzinfo is None:
        raise ValueError(f"moment {at.isoformat()} has no time zone; give one, e.g. 2026-03-05T18:00+08:00")
    query = select(EventRecord.payload).where(EventRecord.deal_id == deal_id)
    if seq is not None:
        query = query.where(EventRecord.seq <= seq)
    if at is not None:
        query = query.where(EventRecord.occurred_at <= at)
    return [Event.model_validate_json(payload) for payload in session.scalars(query.order_by(EventRecord.seq))]


def state_at(session: Session, deal_id: str, *, seq: int | None = None, at: datetime | None = None) -> DealState:
    """The fold of the deal's events up to `seq` and/or `at`; the initial state when there are none."""
    return fold(events_until(session, deal_id, seq=seq, at=at))
