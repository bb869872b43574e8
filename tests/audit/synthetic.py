"""A large archive written straight into the tables, for tests that need verification to take a while.

Each event is a `DemandValidated` whose canonical JSON, hash chain and columns are what the archive activity writes,
so verification finds it intact; going through the activity for 100,000 events would take minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.events import canonical_json
from domain.stages import Stage
from store.chain import GENESIS_HASH, chain_hash
from store.models import DealRecord, EventRecord


@dataclass(frozen=True)
class SyntheticEvent:
    deal_id: str
    seq: int
    occurred_at: datetime
    actor_id: str
    actor_role: str
    centre_id: str


@dataclass(frozen=True)
class SyntheticDeal:
    deal_id: str
    centre_id: str
    broker_id: str
    events: int
    start: datetime
    step: timedelta = timedelta(minutes=10)
    # Every `hub_every`-th event is the hub admin's (an action on any centre's deal); the rest the deal's broker's.
    hub_id: str = "hub-li"
    hub_every: int = 10

    def timeline(self) -> Iterator[SyntheticEvent]:
        for seq in range(1, self.events + 1):
            hub = seq % self.hub_every == 0
            actor, role, centre = (self.hub_id, "hub_admin", "hub") if hub else (self.broker_id, "broker", self.centre_id)
            yield SyntheticEvent(self.deal_id, seq, self.start + seq * self.step, actor, role, centre)


def write_archive(sessions: sessionmaker[Session], deals: list[SyntheticDeal]) -> int:
    """Insert the deals' rows and events with a valid hash chain; returns how many events."""
    now = datetime.now(UTC)
    total = 0
    with sessions.begin() as session:
        for deal in deals:
            session.execute(insert(DealRecord), [_deal_row(deal, now)])
            rows, prev = [], GENESIS_HASH
            for e in deal.timeline():
                data = {
                    "actor": {"centre_id": e.centre_id, "id": e.actor_id, "role": e.actor_role},
                    "command_id": f"cmd-{e.deal_id}-{e.seq}",
                    "deal_id": e.deal_id,
                    "occurred_at": e.occurred_at.isoformat().replace("+00:00", "Z"),
                    "payload": {"note": f"第 {e.seq} 次核实", "type": "DemandValidated"},
                    "seq": e.seq,
                }
                payload = canonical_json(data)
                digest = chain_hash(prev, payload)
                rows.append(
                    {
                        "deal_id": e.deal_id,
                        "seq": e.seq,
                        "type": "DemandValidated",
                        "occurred_at": e.occurred_at,
                        "actor_id": e.actor_id,
                        "actor_role": e.actor_role,
                        "command_id": data["command_id"],
                        "payload": payload,
                        "prev_hash": prev,
                        "hash": digest,
                        "recorded_at": now,
                    }
                )
                prev = digest
            session.execute(insert(EventRecord), rows)
            total += len(rows)
    return total


def _deal_row(deal: SyntheticDeal, now: datetime) -> dict[str, object]:
    last = deal.start + deal.events * deal.step
    return {
        "deal_id": deal.deal_id,
        "title": f"合成案件 {deal.deal_id}",
        "enterprise_name": "合成企业有限公司",
        "stage": Stage.DEMAND_MINING.value,
        "broker_id": deal.broker_id,
        "centre_id": deal.centre_id,
        "industry_code": "C3483",
        "region_code": "360800",
        "stage_entered_at": deal.start,
        "stage_due_at": None,
        "next_due_at": None,
        "due_provisional": False,
        "escalation_level": 0,
        "financing_need_fen": 0,
        "committed_fen": 0,
        "contract_value_fen": None,
        "technical_value_fen": None,
        "last_seq": deal.events,
        "last_event_at": last,
        "updated_at": now,
    }
