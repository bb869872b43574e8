"""The event archive activity: a deal's new events, its read-model row and its outbox rows, in one transaction.

DESIGN.md, "Event sourcing": the archive is append-only and hash-chained (see `store.chain`); a retried
append of the same events is a no-op, and different content at an archived seq stops the deal loudly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import Field
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.events import CandidateRejected, CandidatesProposed, Event, NegotiationFailed, StageEntered
from domain.parties import Model
from domain.projection import AppendRequest, DealSummary, Notification
from registry.declines import Decline, record_decline
from store.chain import GENESIS_HASH, chain_hash
from store.db import upsert_insert
from store.models import (
    AchievementRecord,
    DealAchievementCentreRecord,
    DealRecord,
    EventRecord,
    NotificationRecord,
    PartnerAnswerRecord,
    PartnerRequestRecord,
    StageVisitRecord,
    event_columns,
)

# Error types a workflow's retry policy can name; each is raised with non_retryable=True as well.
ARCHIVE_CONFLICT = "ArchiveConflict"  # different content at an archived seq
ARCHIVE_GAP = "ArchiveGap"  # the event before the first new one is not archived
ARCHIVE_INVALID_REQUEST = "ArchiveInvalidRequest"  # the request contradicts itself or the archive
NON_RETRYABLE_ERRORS = (ARCHIVE_CONFLICT, ARCHIVE_GAP, ARCHIVE_INVALID_REQUEST)

# How often to re-run after losing a unique-key race to a concurrent append of the same deal.
_RACE_RETRIES = 2


class AppendResult(Model):
    deal_id: str
    appended: int = Field(description="events inserted by this call")
    already_present: int = Field(description="events found archived with identical content")
    last_seq: int = Field(description="the deal's newest archived seq after the call; 0 when it has none")
    last_hash: str = Field(description="that event's chain hash: the head to keep outside the database")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class EventArchive:
    """Writes deals to the archive and read models; register the bound method `append` on a worker."""

    def __init__(self, session_factory: sessionmaker[Session], *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._session_factory = session_factory
        self._clock = clock

    @activity.defn(name="archive.append")
    async def append(self, request: AppendRequest) -> AppendResult:
        """Archive `request.events`, upsert the deal row and add the notifications, all or nothing."""
        # Database calls block; a thread keeps the worker's event loop free without a sync-activity executor.
        result = await asyncio.to_thread(self._append_blocking, request)
        activity.logger.info(
            "archived deal %s: %d appended, %d already present, head seq %d",
            result.deal_id,
            result.appended,
            result.already_present,
            result.last_seq,
        )
        return result

    def _append_blocking(self, request: AppendRequest) -> AppendResult:
        _check_request(request)
        for _ in range(_RACE_RETRIES):
            try:
                return self._append_once(request)
            except IntegrityError:
                # A concurrent append committed one of these seqs first; the next pass compares against it.
                continue
        return self._append_once(request)

    def _append_once(self, request: AppendRequest) -> AppendResult:
        now = self._clock()
        with self._session_factory.begin() as session:
            appended, already_present = _archive_events(session, request.deal_id, request.events, now)
            _record_declines(session, request.events)
            last_seq, last_hash = _head(session, request.deal_id)
            _check_against_head(request, last_seq)
            _upsert_summary(session, request.summary, now)
            _add_notifications(session, request.notifications, now)
            _record_stage_visits(session, request.events, request.summary.centre_id)
            _record_achievement_centres(session, request.events)
            _write_partner_rows(session, request, now)
        return AppendResult(
            deal_id=request.deal_id,
            appended=appended,
            already_present=already_present,
            last_seq=last_seq,
            last_hash=last_hash,
        )


def _archive_events(session: Session, deal_id: str, events: tuple[Event, ...], now: datetime) -> tuple[int, int]:
    """Insert the events not yet archived, chained to their predecessors; (appended, already present)."""
    if not events:
        return 0, 0
    first_seq = events[0].seq
    stored = {
        row.seq: row
        for row in session.execute(_STORED_EVENTS, {"deal_id": deal_id, "first": first_seq - 1, "last": events[-1].seq})
    }
    if first_seq == 1:
        prev_hash = GENESIS_HASH
    elif (before := stored.get(first_seq - 1)) is not None:
        prev_hash = before.hash
    else:
        head_seq, _ = _head(session, deal_id)
        raise ApplicationError(
            f"deal {deal_id}: cannot archive seq {first_seq} because seq {first_seq - 1} is missing; "
            f"the archive holds seqs 1..{head_seq}",
            deal_id,
            first_seq,
            head_seq,
            type=ARCHIVE_GAP,
            non_retryable=True,
        )

    appended = already_present = 0
    rows: list[dict[str, object]] = []
    for event in events:
        canonical = event.canonical_json()
        existing = stored.get(event.seq)
        if existing is not None:
            if existing.payload != canonical:
                raise ApplicationError(
                    f"deal {deal_id} seq {event.seq}: the archive holds a {existing.type} event and this append "
                    f"brings a {event.type} event with different content; archived events are never overwritten",
                    deal_id,
                    event.seq,
                    existing.type,
                    event.type,
                    type=ARCHIVE_CONFLICT,
                    non_retryable=True,
                )
            already_present += 1
            prev_hash = existing.hash
            continue
        record_hash = chain_hash(prev_hash, canonical)
        rows.append(
            {**event_columns(event), "payload": canonical, "prev_hash": prev_hash, "hash": record_hash, "recorded_at": now}
        )
        prev_hash = record_hash
        appended += 1
    if rows:
        # Insert now, so a lost race surfaces here and the outbox rows find their events.
        session.execute(_INSERT_EVENTS, rows)
    return appended, already_present


def _record_declines(session: Session, events: tuple[Event, ...]) -> None:
    """Keep the structured decline of each rejected candidate or failed negotiation for the achievement's N centre.

    In the archive's transaction, so a decline exists exactly when its event does; keyed by (deal, seq), so a
    retried append adds nothing. Achievements not in the registry (proposed by hand) have no centre to tell.
    """
    declines = [(e, e.payload) for e in events if isinstance(e.payload, CandidateRejected | NegotiationFailed)]
    if not declines:
        return
    wanted = {payload.achievement_id for _, payload in declines}
    registered = set(
        session.scalars(select(AchievementRecord.achievement_id).where(AchievementRecord.achievement_id.in_(wanted)))
    )
    for event, payload in declines:
        if payload.achievement_id in registered:
            decline = Decline(
                achievement_id=payload.achievement_id,
                deal_id=event.deal_id,
                seq=event.seq,
                reason=payload.reason,
                note=payload.note,
                declined_at=event.occurred_at,
            )
            record_decline(session, decline)


def _head(session: Session, deal_id: str) -> tuple[int, str]:
    """The deal's newest archived (seq, hash), or (0, GENESIS_HASH) when nothing is archived."""
    head = session.execute(_HEAD, {"deal_id": deal_id}).first()
    return (0, GENESIS_HASH) if head is None else (head.seq, head.hash)


def _check_request(request: AppendRequest) -> None:
    """Refuse a request that contradicts itself: rows of another deal, or seqs out of order."""
    deal_id = request.deal_id
    problems = [f"event seq {e.seq} belongs to deal {e.deal_id}" for e in request.events if e.deal_id != deal_id]
    if request.summary.deal_id != deal_id:
        problems.append(f"the summary belongs to deal {request.summary.deal_id}")
    problems += [
        f"notification for seq {n.seq} belongs to deal {n.deal_id}" for n in request.notifications if n.deal_id != deal_id
    ]
    seqs = [e.seq for e in request.events]
    if seqs and seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        problems.append(f"event seqs {seqs} are not consecutive and ascending")
    _refuse(deal_id, problems)


def _check_against_head(request: AppendRequest, head_seq: int) -> None:
    """Refuse a summary or notification that refers to events the archive does not hold."""
    problems = [f"the summary's last_seq is {request.summary.last_seq}"] if request.summary.last_seq > head_seq else []
    problems += [
        f"notification {n.kind} for {n.recipient_id} refers to seq {n.seq}"
        for n in request.notifications
        if not 1 <= n.seq <= head_seq
    ]
    _refuse(request.deal_id, problems, f"; the archive ends at seq {head_seq}")


def _refuse(deal_id: str, problems: list[str], context: str = "") -> None:
    if problems:
        raise ApplicationError(
            f"deal {deal_id}: append refused: {'; '.join(problems)}{context}",
            type=ARCHIVE_INVALID_REQUEST,
            non_retryable=True,
        )


def _upsert_summary(session: Session, summary: DealSummary, now: datetime) -> None:
    """Write the deal row unless the stored one is newer, so a late retry never moves it backwards."""
    session.execute(_statements(session).upsert_deal, {**summary.model_dump(), "updated_at": now})


def _add_notifications(session: Session, notifications: tuple[Notification, ...], now: datetime) -> None:
    """Add the outbox rows; one already there (same deal, seq, kind, recipient) is left as it is."""
    if notifications:
        rows = [{**n.model_dump(), "created_at": now} for n in notifications]
        session.execute(_statements(session).insert_notifications, rows)


def _record_stage_visits(session: Session, events: tuple[Event, ...], centre_id: str) -> None:
    """The stage-timing read model: each StageEntered opens a visit and closes the deal's open one.

    Idempotent, so a retried append changes nothing: the insert skips a visit already there, and the close
    only touches a visit still open from an earlier seq.
    """
    statements = _statements(session)
    for event in events:
        if not isinstance(event.payload, StageEntered):
            continue
        open_visit = session.execute(_OPEN_VISIT, {"deal_id": event.deal_id, "seq": event.seq}).first()
        if open_visit is not None:
            days = (event.occurred_at - open_visit.entered_at).total_seconds() / 86400
            session.execute(
                _CLOSE_VISIT,
                {"visit_deal": event.deal_id, "visit_seq": open_visit.seq, "left": event.occurred_at, "stay_days": days},
            )
        visit = {"deal_id": event.deal_id, "seq": event.seq, "stage": event.payload.stage.value, "centre_id": centre_id}
        session.execute(statements.insert_visit, {**visit, "entered_at": event.occurred_at, "left_at": None, "days": None})


def _record_achievement_centres(session: Session, events: tuple[Event, ...]) -> None:
    """Which N centres' achievements the deal involves (the web's read scope for N centres); idempotent."""
    rows = [
        {"deal_id": e.deal_id, "achievement_id": c.achievement.achievement_id, "centre_id": c.achievement.institution.centre_id}
        for e in events
        if isinstance(e.payload, CandidatesProposed)
        for c in e.payload.candidates
        if c.achievement.institution.centre_id
    ]
    if rows:
        session.execute(_statements(session).insert_achievement_centre, rows)


def _write_partner_rows(session: Session, request: AppendRequest, now: datetime) -> None:
    """Partner requests (never moved backwards by a late retry) and the answer ids recorded."""
    statements = _statements(session)
    if request.partner_requests:
        rows = [{**r.model_dump(mode="json"), "updated_at": now} for r in request.partner_requests]
        session.execute(statements.upsert_partner_request, rows)
    if request.partner_answers:
        rows = [{**a.model_dump(), "recorded_at": now} for a in request.partner_answers]
        session.execute(statements.insert_partner_answers, rows)


# Statements are built once: building an ON CONFLICT statement costs more than executing it.
_STORED_EVENTS = select(EventRecord.seq, EventRecord.type, EventRecord.payload, EventRecord.hash).where(
    EventRecord.deal_id == bindparam("deal_id"),
    EventRecord.seq >= bindparam("first"),
    EventRecord.seq <= bindparam("last"),
)
_HEAD = (
    select(EventRecord.seq, EventRecord.hash)
    .where(EventRecord.deal_id == bindparam("deal_id"))
    .order_by(EventRecord.seq.desc())
    .limit(1)
)
_INSERT_EVENTS = insert(EventRecord)
_OPEN_VISIT = select(StageVisitRecord.seq, StageVisitRecord.entered_at).where(
    StageVisitRecord.deal_id == bindparam("deal_id"),
    StageVisitRecord.seq < bindparam("seq"),
    StageVisitRecord.left_at.is_(None),
)
_CLOSE_VISIT = (
    update(StageVisitRecord)
    .where(StageVisitRecord.deal_id == bindparam("visit_deal"), StageVisitRecord.seq == bindparam("visit_seq"))
    .values(left_at=bindparam("left"), days=bindparam("stay_days"))
)


class _DialectStatements:
    def __init__(self, session: Session) -> None:
        deal = upsert_insert(session, DealRecord)
        self.upsert_deal = deal.on_conflict_do_update(
            index_elements=[DealRecord.deal_id],
            set_={name: deal.excluded[name] for name in (*DealSummary.model_fields, "updated_at") if name != "deal_id"},
            where=DealRecord.last_seq <= deal.excluded.last_seq,
        )
        self.insert_notifications = upsert_insert(session, NotificationRecord).on_conflict_do_nothing(
            index_elements=["deal_id", "seq", "kind", "recipient_id"]
        )
        self.insert_achievement_centre = upsert_insert(session, DealAchievementCentreRecord).on_conflict_do_nothing(
            index_elements=["deal_id", "achievement_id"]
        )
        self.insert_visit = upsert_insert(session, StageVisitRecord).on_conflict_do_nothing(index_elements=["deal_id", "seq"])
        request = upsert_insert(session, PartnerRequestRecord)
        self.upsert_partner_request = request.on_conflict_do_update(
            index_elements=[PartnerRequestRecord.deal_id, PartnerRequestRecord.request_id],
            set_={name: request.excluded[name] for name in ("status", "last_seq", "updated_at")},
            where=PartnerRequestRecord.last_seq <= request.excluded.last_seq,
        )
        self.insert_partner_answers = upsert_insert(session, PartnerAnswerRecord).on_conflict_do_nothing(
            index_elements=["deal_id", "partner_id", "answer_id"]
        )


_BY_DIALECT: dict[str, _DialectStatements] = {}


def _statements(session: Session) -> _DialectStatements:
    dialect = session.get_bind().dialect.name
    if dialect not in _BY_DIALECT:
        _BY_DIALECT[dialect] = _DialectStatements(session)
    return _BY_DIALECT[dialect]
