"""Read functions over the open-call archive (`open_call_events`) and its list rows (`open_calls`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.open_call import OpenCallEvent
from store.chain import chain_problems, payload_problems
from store.models import OpenCallEventRecord, OpenCallRecord


@dataclass(frozen=True)
class OpenCallRow:
    open_call_id: str
    deal_id: str
    centre_id: str
    broker_id: str
    title: str
    status: str
    deadline: datetime
    bids: int
    winner_bid_id: str | None


def open_call_events(session: Session, open_call_id: str) -> list[OpenCallEvent]:
    """The call's archived events, in order."""
    payloads = session.scalars(
        select(OpenCallEventRecord.payload)
        .where(OpenCallEventRecord.open_call_id == open_call_id)
        .order_by(OpenCallEventRecord.seq)
    )
    return [OpenCallEvent.model_validate_json(p) for p in payloads]


def open_call_row(session: Session, open_call_id: str) -> OpenCallRow | None:
    record = session.get(OpenCallRecord, open_call_id)
    return None if record is None else _row(record)


def list_open_calls(
    session: Session, *, status: str | None = None, deal_id: str | None = None, limit: int = 200
) -> list[OpenCallRow]:
    """Open calls, soonest deadline first."""
    query = select(OpenCallRecord).order_by(OpenCallRecord.deadline, OpenCallRecord.open_call_id).limit(limit)
    if status is not None:
        query = query.where(OpenCallRecord.status == status)
    if deal_id is not None:
        query = query.where(OpenCallRecord.deal_id == deal_id)
    return [_row(r) for r in session.scalars(query)]


def _row(r: OpenCallRecord) -> OpenCallRow:
    return OpenCallRow(
        open_call_id=r.open_call_id,
        deal_id=r.deal_id,
        centre_id=r.centre_id,
        broker_id=r.broker_id,
        title=r.title,
        status=r.status,
        deadline=r.deadline,
        bids=r.bids,
        winner_bid_id=r.winner_bid_id,
    )


def verify_open_call_chain(session: Session, open_call_id: str) -> list[str]:
    """Problems in an open call's archived chain, one sentence each; empty when the chain is intact (as `store.chain`)."""
    rows = session.scalars(
        select(OpenCallEventRecord).where(OpenCallEventRecord.open_call_id == open_call_id).order_by(OpenCallEventRecord.seq)
    )
    return chain_problems(f"open call {open_call_id}", rows, _payload_problems)


def _payload_problems(row: OpenCallEventRecord) -> list[str]:
    def columns(event: OpenCallEvent) -> dict[str, object]:
        return {
            "open_call_id": event.open_call_id,
            "seq": event.seq,
            "type": event.type,
            "occurred_at": event.occurred_at,
            "actor_id": event.actor.id,
            "actor_role": event.actor.role.value,
        }

    return payload_problems(row, OpenCallEvent.model_validate_json, columns, "open-call event")
