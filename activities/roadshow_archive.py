"""The roadshow archive activity (`roadshows.append`): a roadshow's new events, hash-chained, and its read model, in
one transaction.

The same rules as the deal archive (`activities.archive`): append-only, `hash_n = sha256(hash_{n-1} +
canonical_json(event_n))` per roadshow (`store.chain`), a retried append of the same events is a no-op, and different
content at an archived seq is refused (non-retryable), never overwritten. The read model (`roadshows`,
`roadshow_deals`, `roadshow_investors`, `roadshow_interests`) is derived from the events this call inserts, so a
retry, which inserts nothing, changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.roadshow import (
    ROADSHOW_ARCHIVE_CONFLICT,
    ROADSHOW_ARCHIVE_GAP,
    ApplicationForwarded,
    ApplicationNotForwarded,
    DealPresented,
    InterestRegistered,
    InvestorInvited,
    RoadshowAppend,
    RoadshowAppendResult,
    RoadshowClosed,
    RoadshowEvent,
    RoadshowScheduled,
)
from store.chain import GENESIS_HASH, chain_hash
from store.db import upsert_insert
from store.models import (
    RoadshowDealRecord,
    RoadshowEventRecord,
    RoadshowInterestRecord,
    RoadshowInvestorRecord,
    RoadshowRecord,
)

PENDING, FORWARDED, REFUSED = "pending", "forwarded", "refused"
OPEN, CLOSED = "open", "closed"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RoadshowArchive:
    """Writes roadshows' events and read model; register the bound method `append` on a worker."""

    def __init__(self, session_factory: sessionmaker[Session], *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._session_factory = session_factory
        self._clock = clock

    @activity.defn(name="roadshows.append")
    async def append(self, request: RoadshowAppend) -> RoadshowAppendResult:
        """Archive the roadshow's new events and update its read model, all or nothing; the archive's head after."""
        return await asyncio.to_thread(self.append_blocking, request)

    def append_blocking(self, request: RoadshowAppend) -> RoadshowAppendResult:
        _check(request)
        try:
            return self._append_once(request)
        except IntegrityError:
            # A concurrent retry committed these seqs first; the second pass compares against them.
            return self._append_once(request)

    def _append_once(self, request: RoadshowAppend) -> RoadshowAppendResult:
        now = self._clock()
        with self._session_factory.begin() as session:
            new = _archive(session, request, now)
            for event in new:
                _project(session, event)
            if new:
                session.execute(
                    update(RoadshowRecord)
                    .where(RoadshowRecord.roadshow_id == request.roadshow_id, RoadshowRecord.last_seq < new[-1].seq)
                    .values(last_seq=new[-1].seq, updated_at=now)
                )
            head = session.execute(_HEAD, {"roadshow_id": request.roadshow_id}).one()
        return RoadshowAppendResult(appended=len(new), last_seq=head.seq, last_hash=head.hash)


def _check(request: RoadshowAppend) -> None:
    seqs = [e.seq for e in request.events]
    problems = [
        f"event seq {e.seq} belongs to roadshow {e.roadshow_id}" for e in request.events if e.roadshow_id != request.roadshow_id
    ]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        problems.append(f"event seqs {seqs} are not consecutive and ascending")
    if problems:
        raise ApplicationError(
            f"roadshow {request.roadshow_id}: append refused: {'; '.join(problems)}",
            type=ROADSHOW_ARCHIVE_CONFLICT,
            non_retryable=True,
        )


def _archive(session: Session, request: RoadshowAppend, now: datetime) -> list[RoadshowEvent]:
    """Insert the events not archived yet, chained to their predecessors; the events inserted."""
    roadshow_id, events = request.roadshow_id, request.events
    first = events[0].seq
    stored = {
        row.seq: row for row in session.execute(_STORED, {"roadshow_id": roadshow_id, "first": first - 1, "last": events[-1].seq})
    }
    if first == 1:
        prev_hash = GENESIS_HASH
    elif (before := stored.get(first - 1)) is not None:
        prev_hash = before.hash
    else:
        raise ApplicationError(
            f"roadshow {roadshow_id}: cannot archive seq {first} because seq {first - 1} is missing",
            type=ROADSHOW_ARCHIVE_GAP,
            non_retryable=True,
        )
    rows: list[dict[str, object]] = []
    new: list[RoadshowEvent] = []
    for event in events:
        canonical = event.canonical_json()
        existing = stored.get(event.seq)
        if existing is not None:
            if existing.payload != canonical:
                raise ApplicationError(
                    f"roadshow {roadshow_id} seq {event.seq}: the archive holds a {existing.type} event and this append "
                    f"brings a {event.type} event with different content; archived events are never overwritten",
                    type=ROADSHOW_ARCHIVE_CONFLICT,
                    non_retryable=True,
                )
            prev_hash = existing.hash
            continue
        record_hash = chain_hash(prev_hash, canonical)
        rows.append(
            {
                "roadshow_id": roadshow_id,
                "seq": event.seq,
                "type": event.type,
                "occurred_at": event.occurred_at,
                "actor_id": event.actor.id,
                "actor_role": event.actor.role.value,
                "command_id": event.command_id,
                "payload": canonical,
                "prev_hash": prev_hash,
                "hash": record_hash,
                "recorded_at": now,
            }
        )
        new.append(event)
        prev_hash = record_hash
    if rows:
        session.execute(insert(RoadshowEventRecord), rows)
    return new


def _project(session: Session, event: RoadshowEvent) -> None:
    """The read-model change one newly archived event makes."""
    roadshow_id, p = event.roadshow_id, event.payload
    match p:
        case RoadshowScheduled():
            values = {
                "roadshow_id": roadshow_id,
                "title": p.title,
                "held_on": p.held_on,
                "mode": p.mode.value,
                "venue": p.venue,
                "centre_id": p.centre_id,
                "status": OPEN,
                "scheduled_at": event.occurred_at,
                "closed_at": None,
                "last_seq": event.seq,
                "updated_at": event.occurred_at,
            }
            session.execute(upsert_insert(session, RoadshowRecord).values(values).on_conflict_do_nothing())
        case DealPresented():
            row = {"roadshow_id": roadshow_id, "deal_id": p.deal_id, "seq": event.seq, "presented_at": event.occurred_at}
            session.execute(upsert_insert(session, RoadshowDealRecord).values(row).on_conflict_do_nothing())
        case InvestorInvited():
            investor = p.investor
            row = {
                "roadshow_id": roadshow_id,
                "partner_id": investor.partner_id,
                "name": investor.name,
                "kind": investor.kind.value,
                "seq": event.seq,
            }
            session.execute(upsert_insert(session, RoadshowInvestorRecord).values(row).on_conflict_do_nothing())
        case InterestRegistered():
            row = {
                "roadshow_id": roadshow_id,
                "deal_id": p.deal_id,
                "investor_id": p.investor_id,
                "application_id": p.application_id,
                "amount_fen": p.amount_fen,
                "instrument": p.instrument.value,
                "note": p.note,
                "status": PENDING,
                "refusal": None,
                "seq": event.seq,
                "registered_at": event.occurred_at,
            }
            session.execute(upsert_insert(session, RoadshowInterestRecord).values(row).on_conflict_do_nothing())
        case ApplicationForwarded():
            key = _interest_key(roadshow_id, p.deal_id, p.application_id)
            session.execute(_SET_INTEREST, {**key, "new_status": FORWARDED, "new_refusal": None})
        case ApplicationNotForwarded():
            key = _interest_key(roadshow_id, p.deal_id, p.application_id)
            session.execute(_SET_INTEREST, {**key, "new_status": REFUSED, "new_refusal": p.refusal})
        case RoadshowClosed():
            session.execute(
                update(RoadshowRecord)
                .where(RoadshowRecord.roadshow_id == roadshow_id)
                .values(status=CLOSED, closed_at=event.occurred_at)
            )


def _interest_key(roadshow_id: str, deal_id: str, application_id: str) -> dict[str, str]:
    return {"k_roadshow": roadshow_id, "k_deal": deal_id, "k_application": application_id}


_STORED = select(RoadshowEventRecord.seq, RoadshowEventRecord.type, RoadshowEventRecord.payload, RoadshowEventRecord.hash).where(
    RoadshowEventRecord.roadshow_id == bindparam("roadshow_id"),
    RoadshowEventRecord.seq >= bindparam("first"),
    RoadshowEventRecord.seq <= bindparam("last"),
)
_HEAD = (
    select(RoadshowEventRecord.seq, RoadshowEventRecord.hash)
    .where(RoadshowEventRecord.roadshow_id == bindparam("roadshow_id"))
    .order_by(RoadshowEventRecord.seq.desc())
    .limit(1)
)
_SET_INTEREST = (
    update(RoadshowInterestRecord)
    .where(
        RoadshowInterestRecord.roadshow_id == bindparam("k_roadshow"),
        RoadshowInterestRecord.deal_id == bindparam("k_deal"),
        RoadshowInterestRecord.application_id == bindparam("k_application"),
    )
    .values(status=bindparam("new_status"), refusal=bindparam("new_refusal"))
)
