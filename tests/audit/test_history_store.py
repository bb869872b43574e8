"""Kept histories (compressed protobuf, streamed) and re-derivation from the store with the head cross-check."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHistory

from audit import history_codec
from audit.histories import RunHistory, store_runs, stored_runs
from audit.rederive import rederive_stored
from audit.replay import DealReplayer
from audit.verify import verify_deal
from store.chain import GENESIS_HASH, chain_hash
from store.models import DealHistoryRecord, EventRecord
from tests.audit.conftest import archive_events

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


def _recorded(deal: str) -> list[WorkflowHistory]:
    paths = sorted(HISTORIES.glob(f"v3-{deal}-run*.json"))
    parsed = [WorkflowHistory.from_json(p.stem, p.read_text(encoding="utf-8")) for p in paths]
    return [WorkflowHistory(f"deal-v3-{deal}", history.events) for history in parsed]


def test_a_kept_history_is_compressed_and_read_back_whole_or_event_by_event() -> None:
    (history,) = _recorded("jian-biofertilizer")
    encoded = history_codec.encode(history.events)
    assert encoded.event_count == len(history.events)
    assert len(encoded.blob) < len(history.to_json().encode()) / 8  # compressed protobuf, not JSON
    where = "deal x run 1"
    assert list(history_codec.decode(history.workflow_id, encoded.blob, "proto", encoded.sha256, where=where).events) == list(
        history.events
    )
    assert list(history_codec.iter_events(encoded.blob, "proto", encoded.sha256, where=where)) == list(history.events)
    as_json = b"".join(history_codec.json_chunks(history.events)).decode()
    assert list(WorkflowHistory.from_json(history.workflow_id, as_json).events) == list(history.events)

    # One changed byte, anywhere, is refused by both readers.
    for position in (10, len(encoded.blob) // 2, len(encoded.blob) - 6):
        changed = bytearray(encoded.blob)
        changed[position] ^= 0x01
        with pytest.raises(history_codec.StoredHistoryCorrupt, match="deal x run 1"):
            history_codec.decode(history.workflow_id, bytes(changed), "proto", encoded.sha256, where=where)
        with pytest.raises(history_codec.StoredHistoryCorrupt, match="deal x run 1"):
            list(history_codec.iter_events(bytes(changed), "proto", encoded.sha256, where=where))


async def test_kept_deals_rederive_from_the_store_and_a_rewritten_chain_is_caught_by_the_recorded_heads(
    sessions: sessionmaker[Session],
) -> None:
    deals = {"v3-continue-as-new": _recorded("continue-as-new"), "v3-jian-biofertilizer": _recorded("jian-biofertilizer")}
    replayer = DealReplayer()
    for deal_id, histories in deals.items():
        store_runs(sessions, [RunHistory(deal_id, i, h, "store") for i, h in enumerate(histories, start=1)])
        replays = await replayer.replay(histories)
        await archive_events(sessions, [event for replay in replays for event in replay.events])
    with sessions() as session:
        encodings = session.scalars(select(DealHistoryRecord.encoding).where(DealHistoryRecord.deal_id.in_(deals))).all()
    assert encodings == ["proto"] * 5
    assert [r.run_index for r in stored_runs(sessions, "v3-continue-as-new")] == [1, 2, 3, 4]

    results = [result async for result in rederive_stored(replayer, sessions, sorted(deals), batch=1)]
    assert [(r.deal_id, r.agrees, len(r.events)) for r in results] == [
        ("v3-continue-as-new", True, 17),
        ("v3-jian-biofertilizer", True, 16),
    ]
    assert all(len(r.heads) >= 5 and not r.head_problems for r in results)

    # Rewrite seq 3 and every later hash: the chain alone is then intact, the history is not fooled.
    _rewrite_with_a_consistent_chain(sessions, "v3-continue-as-new", seq=3, old="已与企业确认", new="已与企业确定")
    with sessions() as session:
        assert verify_deal(session, "v3-continue-as-new").intact
    (result,) = [r async for r in rederive_stored(replayer, sessions, ["v3-continue-as-new"])]
    assert not result.agrees and result.replays
    assert [(d.seq, d.kind) for d in result.differences] == [(3, "different")]
    assert "已与企业确定" in result.differences[0].describe() and "已与企业确认" in result.differences[0].describe()
    assert result.head_problems and all(head.seq >= 3 for head in result.head_problems)
    assert all(head.rederived == head.recorded != head.archived for head in result.head_problems)


def _rewrite_with_a_consistent_chain(sessions: sessionmaker[Session], deal_id: str, *, seq: int, old: str, new: str) -> None:
    with sessions.begin() as session:
        rows = session.scalars(select(EventRecord).where(EventRecord.deal_id == deal_id).order_by(EventRecord.seq)).all()
        prev = GENESIS_HASH
        for row in rows:
            if row.seq == seq:
                assert old in row.payload
                row.payload = row.payload.replace(old, new)
            row.prev_hash, row.hash = prev, chain_hash(prev, row.payload)
            prev = row.hash


def test_histories_kept_as_json_before_migration_0005_still_load(sessions: sessionmaker[Session]) -> None:
    (history,) = _recorded("ladder")
    text = history.to_json().encode()
    with sessions.begin() as session:
        session.add(
            DealHistoryRecord(
                deal_id="v3-ladder-json",
                workflow_id="deal-v3-ladder-json",
                run_id=history.run_id,
                run_index=1,
                status="COMPLETED",
                history_zlib=zlib.compress(text),
                encoding="json",
                history_sha256=hashlib.sha256(text).hexdigest(),
                event_count=len(history.events),
                stored_at=datetime.now(UTC),
            )
        )
    (run,) = stored_runs(sessions, "v3-ladder-json")
    assert list(run.history.events) == list(history.events)
