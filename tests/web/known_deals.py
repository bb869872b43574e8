"""A known set of deals for the dashboard: read-model rows and stage visits whose figures are worked out by hand.

ja-centre: 5 deals (K1 matching and overdue, K2 brokering and escalated, K3 demand mining, K4 and K5 signed this
month for 300 and 150.5 万元); jj-centre: 1 deal (K6). Finished stays in ja-centre: demand mining 1, 2, 3, 4 and
10 days (median 3, p90 10); matching 5 and 7 days (median 5, p90 7). jj-centre: demand mining 20 days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from store.models import DealRecord, StageVisitRecord

NOW = datetime.now(UTC)


def _deal(deal_id: str, stage: str, broker: str, centre: str, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "deal_id": deal_id,
        "title": f"已知案件 {deal_id}",
        "enterprise_name": f"企业 {deal_id}",
        "stage": stage,
        "broker_id": broker,
        "centre_id": centre,
        "industry_code": "C3425",
        "region_code": "360802",
        "stage_entered_at": NOW - timedelta(days=3),
        "stage_due_at": NOW + timedelta(days=10),
        "next_due_at": None,
        "due_provisional": False,
        "escalation_level": 0,
        "financing_need_fen": 0,
        "committed_fen": 0,
        "contract_value_fen": None,
        "technical_value_fen": None,
        "last_seq": 3,
        "last_event_at": NOW - timedelta(days=3),
        "updated_at": NOW - timedelta(minutes=5),
    }
    return {**row, **extra}


DEALS = [
    _deal("K1", "MATCHING", "ja-broker-liu", "ja-centre", stage_due_at=NOW - timedelta(days=2)),
    _deal("K2", "BROKERING", "ja-broker-liu", "ja-centre", stage_due_at=NOW - timedelta(days=1), escalation_level=1),
    _deal("K3", "DEMAND_MINING", "ja-broker-wang", "ja-centre", industry_code="A0511", region_code="360100"),
    _deal("K4", "SIGNED", "ja-broker-wang", "ja-centre", stage_due_at=None, stage_entered_at=NOW, contract_value_fen=300_0000_00),
    _deal("K5", "SIGNED", "ja-broker-wang", "ja-centre", stage_due_at=None, stage_entered_at=NOW, contract_value_fen=150_5000_00),
    _deal("K6", "MATCHING", "jj-broker-chen", "jj-centre", region_code="360402"),
]
START = NOW - timedelta(days=100)
# (deal, centre, stage, days): one finished stay each, at distinct seqs.
STAYS = [
    *(("K1", "ja-centre", "DEMAND_MINING", d) for d in (4, 1, 10, 3, 2)),
    ("K2", "ja-centre", "MATCHING", 7),
    ("K3", "ja-centre", "MATCHING", 5),
    ("K6", "jj-centre", "DEMAND_MINING", 20),
]


def seed(sessions: sessionmaker[Session]) -> None:
    visits = [
        {
            "deal_id": deal,
            "seq": 10 + i,
            "stage": stage,
            "centre_id": centre,
            "entered_at": START,
            "left_at": START + timedelta(days=days),
            "days": float(days),
        }
        for i, (deal, centre, stage, days) in enumerate(STAYS)
    ]
    with sessions.begin() as session:
        session.execute(insert(DealRecord), DEALS)
        session.execute(insert(StageVisitRecord), visits)
