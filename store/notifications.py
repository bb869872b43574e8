"""The notification outbox as people read it: per-user read state, unread counts, marking as read.

A centre's escalation is one outbox row that every manager of the centre reads, so "read" is kept per user
(`notification_reads`), never on the outbox row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from store.db import upsert_insert
from store.models import NotificationReadRecord, NotificationRecord
from store.queries import StoredNotification


def _addressed(role: str, recipient_id: str) -> ColumnElement[bool]:
    return and_(NotificationRecord.recipient_role == role, NotificationRecord.recipient_id == recipient_id)


def _read_by(username: str) -> ColumnElement[bool]:
    return exists().where(
        NotificationReadRecord.notification_id == NotificationRecord.id, NotificationReadRecord.username == username
    )


def inbox(
    session: Session, role: str, recipient_id: str, username: str, *, unread_only: bool = False, limit: int = 100
) -> list[StoredNotification]:
    """The notifications addressed to (role, recipient_id), newest first; `read_at` is when `username` read each."""
    query = (
        select(NotificationRecord, NotificationReadRecord.read_at)
        .outerjoin(
            NotificationReadRecord,
            and_(NotificationReadRecord.notification_id == NotificationRecord.id, NotificationReadRecord.username == username),
        )
        .where(_addressed(role, recipient_id))
        .order_by(NotificationRecord.id.desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(NotificationReadRecord.read_at.is_(None))
    out = []
    for record, read_at in session.execute(query):
        fields = {name: getattr(record, name) for name in StoredNotification.model_fields if name != "read_at"}
        out.append(StoredNotification.model_validate({**fields, "read_at": read_at}))
    return out


def unread_count(session: Session, role: str, recipient_id: str, username: str) -> int:
    query = select(func.count()).select_from(NotificationRecord).where(_addressed(role, recipient_id), ~_read_by(username))
    return int(session.scalar(query) or 0)


def mark_read(session: Session, role: str, recipient_id: str, username: str, now: datetime, ids: list[int] | None = None) -> int:
    """Mark notifications addressed to the user as read by them (all when `ids` is None); ids addressed to
    someone else are ignored, so nobody can touch another person's notifications. Returns how many changed."""
    query = select(NotificationRecord.id).where(_addressed(role, recipient_id), ~_read_by(username))
    if ids is not None:
        query = query.where(NotificationRecord.id.in_(ids))
    rows = [{"notification_id": i, "username": username, "read_at": now} for i in session.scalars(query)]
    if rows:
        statement = upsert_insert(session, NotificationReadRecord).on_conflict_do_nothing(
            index_elements=["notification_id", "username"]
        )
        session.execute(statement, rows)
    return len(rows)
