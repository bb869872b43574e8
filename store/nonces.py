"""The nonce store of partners' signed callbacks: a nonce is accepted once per partner."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.models import PartnerNonceRecord


def remember_nonce(sessions: sessionmaker[Session], partner_id: str, nonce: str, now: datetime, window: timedelta) -> bool:
    """Record `nonce` for `partner_id`; False when it was seen before (a replay). Forgets nonces older than 2 windows."""
    try:
        with sessions.begin() as session:
            # Older nonces cannot come back: their callbacks fail the timestamp window first.
            session.execute(delete(PartnerNonceRecord).where(PartnerNonceRecord.seen_at < now - 2 * window))
            session.add(PartnerNonceRecord(partner_id=partner_id, nonce=nonce, seen_at=now))
    except IntegrityError:
        return False
    return True
