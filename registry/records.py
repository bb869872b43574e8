"""Registry rows in the database: write records (insert, update or leave alone), read them back as domain models."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.events import canonical_json
from domain.matching import record_hash
from domain.registry import Achievement, RegisteredDemand
from registry.tables import Kind
from store.models import AchievementRecord, DemandRegistryRecord

RegistryRecord = Achievement | RegisteredDemand
_TABLES: dict[Kind, type[AchievementRecord] | type[DemandRegistryRecord]] = {
    Kind.ACHIEVEMENTS: AchievementRecord,
    Kind.DEMANDS: DemandRegistryRecord,
}
# Keeps IN (...) lists well under every backend's limit on bound parameters.
_CHUNK = 500


def _key(kind: Kind) -> Any:
    return AchievementRecord.achievement_id if kind is Kind.ACHIEVEMENTS else DemandRegistryRecord.demand_id


def record_id(record: RegistryRecord) -> str:
    return record.achievement_id if isinstance(record, Achievement) else record.demand_id


def _columns(record: RegistryRecord) -> dict[str, Any]:
    """The row for a record: its canonical JSON, its hash, and the columns filters and joins need."""
    common = {
        "title": record.title,
        "industry_code": record.industry_code,
        "region_code": record.region_code,
        "record": canonical_json(record.model_dump(mode="json")),
        "content_hash": record_hash(record),
    }
    if isinstance(record, Achievement):
        return common | {
            "achievement_id": record.achievement_id,
            "institution_name": record.institution.name,
            "centre_id": record.institution.centre_id,
            "trl": record.trl,
            "stage": record.stage.value,
            "asking_price_fen": record.asking_price_fen,
        }
    return common | {
        "demand_id": record.demand_id,
        "enterprise_name": record.enterprise_name,
        "enterprise_credit_code": record.enterprise_credit_code,
        "min_trl": record.min_trl,
        "budget_min_fen": record.budget.min_fen,
        "budget_max_fen": record.budget.max_fen,
        "deadline": record.deadline.isoformat() if record.deadline else None,
        "open_call": record.open_call,
    }


def existing_hashes(session: Session, kind: Kind, ids: Sequence[str]) -> dict[str, str]:
    """The stored content hash of each of `ids` that is in the registry."""
    table = _TABLES[kind]
    key = _key(kind)
    found: dict[str, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(select(key, table.content_hash).where(key.in_(ids[start : start + _CHUNK])))
        found.update({row[0]: row[1] for row in rows})
    return found


def write(
    session: Session, kind: Kind, inserts: Iterable[RegistryRecord], updates: Iterable[RegistryRecord], now: datetime
) -> None:
    """Insert new records and overwrite changed ones, in the caller's transaction."""
    table = _TABLES[kind]
    new_rows = [_columns(r) | {"created_at": now, "updated_at": now} for r in inserts]
    changed_rows = [_columns(r) | {"updated_at": now} for r in updates]
    if new_rows:
        session.execute(table.__table__.insert(), new_rows)
    if changed_rows:
        # ORM bulk UPDATE by primary key: one executemany for all changed rows.
        session.execute(update(table), changed_rows)


def load(session: Session, kind: Kind) -> list[RegistryRecord]:
    """Every record of a registry, by id."""
    table = _TABLES[kind]
    key = _key(kind)
    model = Achievement if kind is Kind.ACHIEVEMENTS else RegisteredDemand
    return [model.model_validate(json.loads(text)) for text in session.scalars(select(table.record).order_by(key))]


def get(session: Session, kind: Kind, id_: str) -> RegistryRecord | None:
    table = _TABLES[kind]
    row = session.get(table, id_)
    if row is None:
        return None
    model = Achievement if kind is Kind.ACHIEVEMENTS else RegisteredDemand
    return model.model_validate(json.loads(row.record))


def stored_hashes(session: Session, kind: Kind) -> dict[str, str]:
    """The stored content hash of every record of a registry, by id."""
    table = _TABLES[kind]
    return {id_: digest for id_, digest in session.execute(select(_key(kind), table.content_hash))}


def stream(session: Session, kind: Kind, ids: Sequence[str]) -> Iterator[RegistryRecord]:
    """The records of `ids`, in that order, read a chunk at a time (a large registry is never all in memory)."""
    table = _TABLES[kind]
    key = _key(kind)
    model = Achievement if kind is Kind.ACHIEVEMENTS else RegisteredDemand
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found: dict[str, str] = {id_: text for id_, text in session.execute(select(key, table.record).where(key.in_(chunk)))}
        for id_ in chunk:
            yield model.model_validate(json.loads(found[id_]))


def generation(session: Session, kind: Kind) -> tuple[int, str]:
    """How many records and when the newest was written: a cheap sign that a registry changed (inserts, updates)."""
    table = _TABLES[kind]
    # Two queries on purpose: each is answered from the updated_at index (migration 0005) without reading records.
    count = session.scalar(select(func.count()).select_from(table))
    newest = session.scalar(select(func.max(table.updated_at)))
    return int(count or 0), str(newest)
