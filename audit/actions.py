"""Who did what: a person's actions over a period, from the archive."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from domain.events import Event
from store.models import EventRecord

_Row = TypeVar("_Row")


def actions_of(
    session: Session,
    actor_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    limit: int | None = None,
) -> list[Event]:
    """Every archived event `actor_id` caused with `since <= occurred_at < until`, oldest first, across deals.

    `where` narrows the events further (the deals a web user may see); `limit` keeps the first ones.
    """
    query = _actions(select(EventRecord.payload), actor_id, since, until, where)
    query = query.order_by(EventRecord.occurred_at, EventRecord.deal_id, EventRecord.seq).limit(limit)
    return [Event.model_validate_json(payload) for payload in session.scalars(query)]


def iter_actions(
    session: Session,
    actor_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    batch: int = 1_000,
) -> Iterator[Event]:
    """The same events as `actions_of`, read in batches: a list of any length in constant memory."""
    query = _actions(select(EventRecord.payload), actor_id, since, until, where)
    query = query.order_by(EventRecord.occurred_at, EventRecord.deal_id, EventRecord.seq)
    for payload in session.scalars(query.execution_options(yield_per=batch)):
        yield Event.model_validate_json(payload)


def count_actions(
    session: Session,
    actor_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> int:
    return session.scalar(_actions(select(func.count()).select_from(EventRecord), actor_id, since, until, where)) or 0


def _actions(
    query: Select[_Row], actor_id: str, since: datetime | None, until: datetime | None, where: Sequence[ColumnElement[bool]]
) -> Select[_Row]:
    query = query.where(EventRecord.actor_id == actor_id, *where)
    if since is not None:
        query = query.where(EventRecord.occurred_at >= since)
    if until is not None:
        query = query.where(EventRecord.occurred_at < until)
    return query
