"""Read functions over the roadshow archive (`roadshow_events`) and its read model (`roadshows`, `roadshow_deals`,
`roadshow_investors`, `roadshow_interests`), and the verification of a roadshow's hash chain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from domain.events import Event
from domain.roadshow import RoadshowEvent
from store.chain import chain_problems, payload_problems
from store.models import (
    EventRecord,
    RoadshowDealRecord,
    RoadshowEventRecord,
    RoadshowInterestRecord,
    RoadshowInvestorRecord,
    RoadshowRecord,
)


@dataclass(frozen=True)
class RoadshowRow:
    roadshow_id: str
    title: str
    held_on: date
    mode: str
    venue: str
    centre_id: str
    status: str  # open | closed
    closed_at: datetime | None
    deals: int
    investors: int
    interests: int


@dataclass(frozen=True)
class InterestRow:
    roadshow_id: str
    deal_id: str
    investor_id: str
    application_id: str
    amount_fen: int
    instrument: str
    note: str
    status: str  # pending | forwarded | refused
    refusal: str | None
    registered_at: datetime


def roadshow_events(session: Session, roadshow_id: str) -> list[RoadshowEvent]:
    """The roadshow's archived events, in order, parsed from the hashed payload text."""
    payloads = session.scalars(
        select(RoadshowEventRecord.payload)
        .where(RoadshowEventRecord.roadshow_id == roadshow_id)
        .order_by(RoadshowEventRecord.seq)
    )
    return [RoadshowEvent.model_validate_json(p) for p in payloads]


def _counted() -> list[ColumnElement[int]]:
    def count(model: type[RoadshowDealRecord | RoadshowInvestorRecord | RoadshowInterestRecord]) -> ColumnElement[int]:
        return select(func.count()).select_from(model).where(model.roadshow_id == RoadshowRecord.roadshow_id).scalar_subquery()

    return [count(RoadshowDealRecord), count(RoadshowInvestorRecord), count(RoadshowInterestRecord)]


def list_roadshows(
    session: Session,
    scope: Sequence[ColumnElement[bool]] = (),
    *,
    status: str | None = None,
    deal_id: str | None = None,
    limit: int = 200,
) -> list[RoadshowRow]:
    """Roadshows within `scope` (conditions on `roadshows`), the soonest first, open ones before closed ones."""
    query = (
        select(RoadshowRecord, *_counted())
        .where(*scope)
        .order_by(RoadshowRecord.status.desc(), RoadshowRecord.held_on, RoadshowRecord.roadshow_id)  # 'open' > 'closed'
        .limit(limit)
    )
    if status is not None:
        query = query.where(RoadshowRecord.status == status)
    if deal_id is not None:
        presenting = select(RoadshowDealRecord.roadshow_id).where(RoadshowDealRecord.deal_id == deal_id)
        query = query.where(RoadshowRecord.roadshow_id.in_(presenting))
    return [_row(found) for found in session.execute(query)]


def roadshow_row(session: Session, roadshow_id: str, scope: Sequence[ColumnElement[bool]] = ()) -> RoadshowRow | None:
    """The roadshow's row if it is archived and within `scope`."""
    found = session.execute(select(RoadshowRecord, *_counted()).where(RoadshowRecord.roadshow_id == roadshow_id, *scope)).first()
    return None if found is None else _row(found)


def interests(session: Session, roadshow_id: str | None = None, deal_id: str | None = None) -> list[InterestRow]:
    """Investors' interest at one roadshow and/or in one deal, in the order it was registered."""
    query = select(RoadshowInterestRecord).order_by(RoadshowInterestRecord.roadshow_id, RoadshowInterestRecord.seq)
    if roadshow_id is not None:
        query = query.where(RoadshowInterestRecord.roadshow_id == roadshow_id)
    if deal_id is not None:
        query = query.where(RoadshowInterestRecord.deal_id == deal_id)
    return [
        InterestRow(
            roadshow_id=r.roadshow_id,
            deal_id=r.deal_id,
            investor_id=r.investor_id,
            application_id=r.application_id,
            amount_fen=r.amount_fen,
            instrument=r.instrument,
            note=r.note,
            status=r.status,
            refusal=r.refusal,
            registered_at=r.registered_at,
        )
        for r in session.scalars(query)
    ]


def deals_presented(session: Session, roadshow_id: str) -> list[str]:
    """The deals presented at the roadshow, in the order they were presented."""
    query = (
        select(RoadshowDealRecord.deal_id).where(RoadshowDealRecord.roadshow_id == roadshow_id).order_by(RoadshowDealRecord.seq)
    )
    return list(session.scalars(query))


def verify_roadshow_chain(session: Session, roadshow_id: str) -> list[str]:
    """Problems in a roadshow's archived chain, one sentence each; empty when the chain is intact (as `store.chain`)."""
    rows = session.scalars(
        select(RoadshowEventRecord).where(RoadshowEventRecord.roadshow_id == roadshow_id).order_by(RoadshowEventRecord.seq)
    )
    return chain_problems(f"roadshow {roadshow_id}", rows, _payload_problems)


def _payload_problems(row: RoadshowEventRecord) -> list[str]:
    def columns(event: RoadshowEvent) -> dict[str, object]:
        return {
            "roadshow_id": event.roadshow_id,
            "seq": event.seq,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "actor_id": event.actor.id,
            "command_id": event.command_id,
        }

    return payload_problems(row, RoadshowEvent.model_validate_json, columns, "roadshow event")


def _row(found: Any) -> RoadshowRow:  # a row of list_roadshows's query: the record, then its counts
    r: RoadshowRecord = found[0]
    deals, investors, interests = found[1], found[2], found[3]
    return RoadshowRow(
        roadshow_id=r.roadshow_id,
        title=r.title,
        held_on=r.held_on,
        mode=r.mode,
        venue=r.venue,
        centre_id=r.centre_id,
        status=r.status,
        closed_at=r.closed_at,
        deals=deals,
        investors=investors,
        interests=interests,
    )


# The deal events that say what became of a financing application (keyed by its request id).
APPLICATION_OUTCOMES = (
    "PartnerRequestDelivered",
    "PartnerRequestRefused",
    "CommitmentRecorded",
    "FinancingDeclined",
    "CommitmentWithdrawn",
    "CommitmentExpired",
)


def application_outcomes(session: Session, deal_ids: Sequence[str]) -> list[Event]:
    """The deals' archived events about their partners' answers, in order: one query, without folding each deal."""
    if not deal_ids:
        return []
    payloads = session.scalars(
        select(EventRecord.payload)
        .where(EventRecord.deal_id.in_(deal_ids), EventRecord.type.in_(APPLICATION_OUTCOMES))
        .order_by(EventRecord.deal_id, EventRecord.seq)
    )
    return [Event.model_validate_json(p) for p in payloads]
