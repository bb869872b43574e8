from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from activities.archive import EventArchive
from store.chain import GENESIS_HASH, chain_hash, verify_chain
from store.models import EventRecord
from tests.store.samples import sample_request

DEAL = "deal-chain"


def test_a_link_is_the_sha256_of_the_previous_hash_and_the_canonical_json() -> None:
    assert GENESIS_HASH == "0" * 64
    canonical = '{"note":"核实"}'
    expected = hashlib.sha256(("0" * 64 + canonical).encode("utf-8")).hexdigest()
    assert chain_hash(GENESIS_HASH, canonical) == expected


@pytest.fixture
async def archived(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Five events of one deal, archived."""
    await EventArchive(session_factory).append(sample_request(DEAL, range(1, 6)))
    return session_factory


def _tamper(session_factory: sessionmaker[Session], seq: int, **values: str) -> None:
    with session_factory.begin() as session:
        session.execute(update(EventRecord).where(EventRecord.deal_id == DEAL, EventRecord.seq == seq).values(**values))


def _problems(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return verify_chain(session, DEAL)


def test_an_intact_chain_has_no_problems(archived: sessionmaker[Session]) -> None:
    assert _problems(archived) == []


def test_one_changed_payload_byte_is_found_at_its_event(archived: sessionmaker[Session]) -> None:
    with archived() as session:
        payload = session.scalars(select(EventRecord.payload).where(EventRecord.seq == 3)).one()
    raw = bytearray(payload.encode("utf-8"))
    at = raw.index("实".encode()) + 2
    raw[at] ^= 0x01  # 实 (E5 AE 9E) becomes 実 (E5 AE 9F): still valid UTF-8, still a valid event
    _tamper(archived, 3, payload=raw.decode("utf-8"))

    problems = _problems(archived)

    assert len(problems) == 1
    assert problems[0].startswith(f"deal {DEAL} seq 3: stored hash")


def test_a_deleted_event_is_found(archived: sessionmaker[Session]) -> None:
    with archived.begin() as session:
        session.execute(delete(EventRecord).where(EventRecord.seq == 3))

    assert f"deal {DEAL} seq 4: seq 3 is missing before it" in _problems(archived)


def test_a_column_that_disagrees_with_the_payload_is_found(archived: sessionmaker[Session]) -> None:
    _tamper(archived, 1, actor_id="broker-li")

    assert _problems(archived) == [f"deal {DEAL} seq 1: column actor_id is 'broker-li' but the payload says 'broker-zhang'"]


def test_a_payload_that_is_not_canonical_is_found(archived: sessionmaker[Session]) -> None:
    with archived() as session:
        payload = session.scalars(select(EventRecord.payload).where(EventRecord.seq == 5)).one()
    _tamper(archived, 5, payload=json.dumps(json.loads(payload), indent=1))

    assert any("not in canonical JSON form" in p for p in _problems(archived))
