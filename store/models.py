"""The schema: the append-only `events` archive, the `deals` read model and the `notifications` outbox.

The archive is the truth; `deals` and `notifications` are derived and could be rebuilt from it, so
nothing in the archive points at them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

from domain.events import Event

# Named constraints, so later Alembic migrations can drop or alter them by name on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend.

    PostgreSQL keeps `timestamptz`; SQLite has no time zone, so the value is stored as UTC wall time
    and UTC is attached again on the way out. A naive value is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused; store aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EventRecord(Base):
    """One archived domain event. Rows are inserted, never updated or deleted.

    `payload` is the event's canonical JSON exactly as hashed; the other columns repeat parts of it
    for queries and are checked against it by `store.chain.verify_chain`. See `store.chain` for
    how `prev_hash` and `hash` are computed.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("deal_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    # A global append position, so a projector can follow every deal with one cursor.
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str] = mapped_column(String)
    actor_role: Mapped[str] = mapped_column(String(32))
    command_id: Mapped[str | None] = mapped_column(String)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


def event_columns(event: Event) -> dict[str, Any]:
    """The columns an archived event repeats from its payload, by column name."""
    return {
        "deal_id": event.deal_id,
        "seq": event.seq,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor.id,
        "actor_role": event.actor.role.value,
        "command_id": event.command_id,
    }


class DealRecord(Base):
    """One row per deal: the fields of `domain.projection.DealSummary`, plus when the row last changed."""

    __tablename__ = "deals"
    __table_args__ = (
        Index(None, "broker_id", "stage"),
        Index(None, "centre_id", "stage"),
        Index(None, "stage_due_at"),
    )

    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    title: Mapped[str] = mapped_column(String)
    enterprise_name: Mapped[str] = mapped_column(String)
    stage: Mapped[str] = mapped_column(String(32))
    broker_id: Mapped[str] = mapped_column(String)
    centre_id: Mapped[str] = mapped_column(String)
    industry_code: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(String(6))
    stage_entered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stage_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_provisional: Mapped[bool]
    escalation_level: Mapped[int] = mapped_column(Integer)
    # Fen can pass 2**31 (about 2,147 万元), so money is 64-bit.
    financing_need_fen: Mapped[int] = mapped_column(BigInteger)
    committed_fen: Mapped[int] = mapped_column(BigInteger)
    contract_value_fen: Mapped[int | None] = mapped_column(BigInteger)
    technical_value_fen: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_event_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationRecord(Base):
    """A reminder or escalation waiting to be read. Unique per cause and recipient, so a retried append adds nothing."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("deal_id", "seq", "kind", "recipient_id"),
        # Every notification is caused by an archived event.
        ForeignKeyConstraint(["deal_id", "seq"], ["events.deal_id", "events.seq"]),
        Index(None, "recipient_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    recipient_role: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[str] = mapped_column(String)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StageVisitRecord(Base):
    """One stay of a deal in a stage, from its `StageEntered` event to the next one (the stage-timing read model).

    Written by the archive activity in the same transaction as the events, and backfilled from the archive by
    migration 0005, so the dashboard's median and p90 days per stage are one SQL query, not a scan of payloads.
    `days` (calendar days, fractional) is set when the deal leaves the stage; terminal stages are never left.
    """

    __tablename__ = "stage_visits"
    __table_args__ = (
        Index(None, "centre_id", "stage"),
        Index(None, "stage", "days"),
    )

    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # the StageEntered event's seq
    stage: Mapped[str] = mapped_column(String(32))
    centre_id: Mapped[str] = mapped_column(String)
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    days: Mapped[float | None] = mapped_column(Float)


class DealAchievementCentreRecord(Base):
    """An achievement proposed in a deal and the N centre of its institution: who else may see the deal (web.scope).

    Written by the archive activity from `CandidatesProposed` (the only event that names institutions) and
    backfilled by migration 0005; kept when a candidate is later rejected, since the centre took part in the deal.
    """

    __tablename__ = "deal_achievement_centres"
    __table_args__ = (Index(None, "centre_id", "deal_id"),)

    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    achievement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    centre_id: Mapped[str] = mapped_column(String(64))


class NotificationReadRecord(Base):
    """That one user has read one notification. Per user, because a centre's escalation reaches every manager."""

    __tablename__ = "notification_reads"
    __table_args__ = (ForeignKeyConstraint(["notification_id"], ["notifications.id"]),)

    notification_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DealHistoryRecord(Base):
    """One run of a closed deal's Temporal workflow history, kept beyond the namespace's retention.

    `history_zlib` is the history, zlib-compressed, in its `encoding`: 'proto' (the `History` protobuf
    serialisation, since migration 0009_audit) or 'json' (as `WorkflowHistory.to_json()` writes it, rows kept
    before); `history_sha256` covers the uncompressed bytes, so a load proves it got back what was stored.
    """

    __tablename__ = "deal_histories"
    __table_args__ = (
        UniqueConstraint("workflow_id", "run_id"),
        Index(None, "deal_id", "run_index"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String)
    workflow_id: Mapped[str] = mapped_column(String)
    run_id: Mapped[str] = mapped_column(String)
    run_index: Mapped[int] = mapped_column(Integer)  # 1 for the first run, +1 per continue-as-new
    status: Mapped[str] = mapped_column(String(32))  # how the run closed: COMPLETED, CONTINUED_AS_NEW, TERMINATED, …
    history_zlib: Mapped[bytes] = mapped_column(LargeBinary)
    encoding: Mapped[str] = mapped_column(String(16), server_default="json")  # 'proto' or 'json'
    history_sha256: Mapped[str] = mapped_column(String(64))
    event_count: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuditJobRecord(Base):
    """An audit job started from the web UI (issue 6): verifying the hash chains of a centre's deals or the whole archive.

    A row, not a web process's memory, so a job outlives the process that ran it and every web process shows it.
    `owner_*` name the process that runs it and `heartbeat_at` says it is still alive; a running job whose process is
    gone is marked 'interrupted' (`store.audit_jobs.reap`). `report` is the verification report as JSON.
    """

    __tablename__ = "audit_jobs"
    __table_args__ = (
        Index(None, "started_at"),
        # At most one running job per scope, whichever process starts it: a second request is shown the first.
        Index(
            "uq_audit_jobs_running_scope",
            "kind",
            "scope",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # 'verify'
    scope: Mapped[str] = mapped_column(String(128))  # 'all' or 'centre:<id>'
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, done, failed, interrupted
    events_total: Mapped[int | None] = mapped_column(Integer)
    events_done: Mapped[int] = mapped_column(Integer)
    deals_done: Mapped[int] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    owner_host: Mapped[str] = mapped_column(String(255))
    owner_pid: Mapped[int] = mapped_column(Integer)
    owner_instance: Mapped[str] = mapped_column(String(32))
    report: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class AchievementRecord(Base):
    """One registered achievement (科技成果). `record` is the canonical JSON of `domain.registry.Achievement`;
    the other columns repeat parts of it for filters and joins. `content_hash` tells a re-import what changed."""

    __tablename__ = "achievements"
    __table_args__ = (
        Index(None, "centre_id"),
        Index(None, "industry_code"),
        Index(None, "region_code"),
        Index(None, "updated_at"),  # the matcher's "has the registry changed?" (migration 0005)
        CheckConstraint("trl BETWEEN 1 AND 9", name="trl_range"),
    )

    achievement_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String)
    institution_name: Mapped[str] = mapped_column(String)
    centre_id: Mapped[str | None] = mapped_column(String(64))
    industry_code: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(String(6))
    trl: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    # None: negotiable (面议).
    asking_price_fen: Mapped[int | None] = mapped_column(BigInteger)
    record: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DemandRegistryRecord(Base):
    """One registered enterprise demand (企业技术需求); `record` is the canonical JSON of `domain.registry.RegisteredDemand`."""

    __tablename__ = "demands"
    __table_args__ = (
        Index(None, "enterprise_credit_code"),
        Index(None, "industry_code"),
        Index(None, "region_code"),
        Index(None, "updated_at"),
        CheckConstraint("min_trl BETWEEN 1 AND 9", name="min_trl_range"),
        CheckConstraint("budget_min_fen <= budget_max_fen", name="budget_ordered"),
    )

    demand_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String)
    enterprise_name: Mapped[str] = mapped_column(String)
    enterprise_credit_code: Mapped[str] = mapped_column(String(18))
    industry_code: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(String(6))
    min_trl: Mapped[int] = mapped_column(Integer)
    budget_min_fen: Mapped[int] = mapped_column(BigInteger)
    budget_max_fen: Mapped[int] = mapped_column(BigInteger)
    # ISO date (YYYY-MM-DD), which sorts and compares as a date on every backend.
    deadline: Mapped[str | None] = mapped_column(String(10))
    open_call: Mapped[bool]
    record: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AchievementDeclineRecord(Base):
    """A structured decline of an achievement in a deal (`domain.events.DeclineReason`), for its N centre to see.

    Unique on the deal event that caused it, so a retried write adds nothing.
    """

    __tablename__ = "achievement_declines"
    __table_args__ = (
        UniqueConstraint("deal_id", "seq"),
        ForeignKeyConstraint(["achievement_id"], ["achievements.achievement_id"]),
        Index(None, "achievement_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    achievement_id: Mapped[str] = mapped_column(String(64))
    deal_id: Mapped[str] = mapped_column(String)
    seq: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    declined_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RegistryImportRecord(Base):
    """One registry file written from the web (who, when, which file by its SHA-256, what changed), so a registry
    record's changes can be traced to a person. Previews write nothing; only a confirmed import is logged."""

    __tablename__ = "registry_imports"
    __table_args__ = (Index(None, "imported_at"), Index(None, "imported_by"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    imported_by: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # JSON: the ids inserted, updated and unchanged, and the rejected rows with their problems.
    report: Mapped[str] = mapped_column(Text)


class UserRecord(Base):
    """A person who signs in to the web UI (issue 5). `username` is also the actor id recorded in events,
    so a broker's username is their broker id. Only an argon2 hash of the password is kept."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String(32))
    centre_id: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String)
    active: Mapped[bool]
    # Lock-out after repeated failed sign-ins: counted here so it holds across processes and restarts.
    failed_logins: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiTokenRecord(Base):
    """A bearer token for the JSON API. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        ForeignKeyConstraint(["username"], ["users.username"]),
        Index(None, "username"),
    )

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OpenCallEventRecord(Base):
    """One archived event of an open call (揭榜挂帅). Inserted, never updated; unique on (open_call_id, seq).

    Kept apart from the deal archive: bids come from institutions and never enter a deal's hash chain.
    `payload` is the event's canonical JSON. Each call's events form a hash chain of their own, by the rule of
    `store.chain` (`prev_hash`, `hash`; migration 0013_open_call_chain chained the rows archived before it).
    """

    __tablename__ = "open_call_events"
    __table_args__ = (
        UniqueConstraint("open_call_id", "seq"),
        Index(None, "deal_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    open_call_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    deal_id: Mapped[str] = mapped_column(String)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str] = mapped_column(String)
    actor_role: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OpenCallRecord(Base):
    """One row per open call, for lists: derived from `open_call_events` in the same transaction."""

    __tablename__ = "open_calls"
    __table_args__ = (
        Index(None, "deal_id"),
        Index(None, "status", "deadline"),
    )

    open_call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deal_id: Mapped[str] = mapped_column(String)
    centre_id: Mapped[str] = mapped_column(String)
    broker_id: Mapped[str] = mapped_column(String)
    title: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String(16))
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    bids: Mapped[int] = mapped_column(Integer)
    winner_bid_id: Mapped[str | None] = mapped_column(String(16))
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PartnerNonceRecord(Base):
    """A nonce a partner's signed callback used (issue 4): the primary key refuses a replay of the same nonce.

    Rows older than the timestamp window can be deleted: a callback that old is refused by its timestamp anyway.
    """

    __tablename__ = "partner_nonces"
    __table_args__ = (Index(None, "seen_at"),)

    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PartnerRequestRecord(Base):
    """Read model of the deals' requests to partners (issue 4): the callback endpoint checks answers against it,
    so it needs neither a worker nor a query to the deal's workflow."""

    __tablename__ = "partner_requests"

    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PartnerAnswerRecord(Base):
    """Partner answer ids a deal has recorded (issue 4): a repeat is answered "duplicate" and not signalled again.
    Per deal, as the deal itself deduplicates: two deals may receive answers a partner numbered alike."""

    __tablename__ = "partner_answers"

    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RoadshowEventRecord(Base):
    """One archived event of a roadshow (路演). Inserted, never updated; unique on (roadshow_id, seq).

    Hash-chained per roadshow exactly like the deal archive (`store.chain`): `payload` is the event's canonical JSON,
    `hash = sha256(prev_hash + payload)`, and the head returned to the workflow is kept in its Temporal history.
    Kept apart from the deal archive: one roadshow carries several deals, and a deal's chain holds only its own events.
    """

    __tablename__ = "roadshow_events"
    __table_args__ = (
        UniqueConstraint("roadshow_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    roadshow_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor_id: Mapped[str] = mapped_column(String)
    actor_role: Mapped[str] = mapped_column(String(32))
    command_id: Mapped[str] = mapped_column(String)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RoadshowRecord(Base):
    """One row per roadshow, for lists and scopes: derived from `roadshow_events` in the same transaction."""

    __tablename__ = "roadshows"
    __table_args__ = (
        Index(None, "centre_id"),
        Index(None, "status", "held_on"),
    )

    roadshow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String)
    held_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))
    venue: Mapped[str] = mapped_column(String)
    centre_id: Mapped[str] = mapped_column(String(64))  # the organising centre
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    scheduled_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RoadshowDealRecord(Base):
    """A deal presented at a roadshow (from `DealPresented`): the link from a deal to its roadshows, and who sees one."""

    __tablename__ = "roadshow_deals"
    __table_args__ = (Index(None, "deal_id"),)

    roadshow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    presented_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RoadshowInvestorRecord(Base):
    """An investor invited to a roadshow (from `InvestorInvited`)."""

    __tablename__ = "roadshow_investors"

    roadshow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)


class RoadshowInterestRecord(Base):
    """An investor's interest in one deal at a roadshow, and what the deal made of it: `pending` until the roadshow
    forwards it, then `forwarded` (a financing application in the deal, `application_id`) or `refused` (the deal's
    words in `refusal`). The commitment itself is the deal's (its events, `partner_requests`)."""

    __tablename__ = "roadshow_interests"
    __table_args__ = (Index(None, "deal_id"),)

    roadshow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    deal_id: Mapped[str] = mapped_column(String, primary_key=True)
    investor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(String)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    instrument: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    refusal: Mapped[str | None] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(Integer)  # the InterestRegistered event
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime)
