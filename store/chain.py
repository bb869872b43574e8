"""The per-deal hash chain over the event archive, and its verification.

Each deal's events form a chain in `seq` order:

    hash_0 = "0" * 64                                            (GENESIS_HASH)
    hash_n = sha256_hex(utf8(hash_{n-1} + canonical_json(event_n)))

where `hash_{n-1}` is the 64-character lowercase hex digest of the previous event, `canonical_json`
is `domain.events.Event.canonical_json()` (sorted keys, no spaces, non-ASCII kept), and `+` joins
the two strings. Row n stores `prev_hash = hash_{n-1}`, `hash = hash_n` and the canonical text as
`payload`, so anyone can recompute the chain from the table alone.

A chain proves nothing on its own (whoever can edit a row can recompute every later hash); it
detects edits against a head hash kept elsewhere, such as the `last_hash` the archive returns to the
workflow, which Temporal keeps in the deal's history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.events import Event
from store.models import EventRecord, event_columns

GENESIS_HASH = "0" * 64


def chain_hash(prev_hash: str, canonical_event: str) -> str:
    """The link after `prev_hash` for an event whose canonical JSON is `canonical_event`."""
    return hashlib.sha256((prev_hash + canonical_event).encode("utf-8")).hexdigest()


class ChainRow(Protocol):
    """What any chained row has: its place, its links and the text they cover."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def payload(self) -> str: ...


_Row = TypeVar("_Row", bound=ChainRow)


def chain_problems(label: str, rows: Iterable[_Row], payload_problems: Callable[[_Row], list[str]]) -> list[str]:
    """Problems in one chain's rows (in seq order), one sentence each, named "<label> seq <n>"; empty when intact.

    Used for the chains kept beside the deals' (one per roadshow, one per open call); each names what its payloads
    must agree with.
    """
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS_HASH, 1
    for row in rows:
        where = f"{label} seq {row.seq}"
        if row.seq != expected_seq:
            problems.append(f"{where}: seq {expected_seq}..{row.seq - 1} missing before it")
        if row.prev_hash != expected_prev:
            problems.append(f"{where}: prev_hash {row.prev_hash} does not match the previous event's hash {expected_prev}")
        recomputed = chain_hash(expected_prev, row.payload)
        if row.hash != recomputed:
            problems.append(
                f"{where}: stored hash {row.hash} differs from recomputed {recomputed}; "
                "the payload or an earlier hash was changed"
            )
        problems.extend(f"{where}: {p}" for p in payload_problems(row))
        expected_prev, expected_seq = row.hash, row.seq + 1
    return problems


class _CanonicalEvent(Protocol):
    def canonical_json(self) -> str: ...


_Event = TypeVar("_Event", bound=_CanonicalEvent)


def payload_problems(
    row: Any, parse: Callable[[str], _Event], columns_of: Callable[[_Event], dict[str, object]], what: str
) -> list[str]:
    """Whether a side chain's row holds its event in canonical JSON, agreeing with the columns that repeat it."""
    try:
        event = parse(row.payload)
    except ValidationError as e:
        return [f"payload is not a valid {what} ({e.error_count()} errors)"]
    problems = [] if event.canonical_json() == row.payload else ["payload is not in canonical JSON form"]
    problems += [
        f"column {k} is {getattr(row, k)!r} but the payload says {v!r}"
        for k, v in columns_of(event).items()
        if getattr(row, k) != v
    ]
    return problems


def verify_chain(session: Session, deal_id: str) -> list[str]:
    """Problems in a deal's archived chain, one sentence each; empty when the chain is intact."""
    rows = session.scalars(select(EventRecord).where(EventRecord.deal_id == deal_id).order_by(EventRecord.seq))
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for row in rows:
        where = f"deal {deal_id} seq {row.seq}"
        if row.seq != expected_seq:
            missing = f"seq {expected_seq} is" if row.seq == expected_seq + 1 else f"seqs {expected_seq}..{row.seq - 1} are"
            problems.append(f"{where}: {missing} missing before it")
        if row.prev_hash != expected_prev:
            problems.append(f"{where}: prev_hash {row.prev_hash} does not match the previous event's hash {expected_prev}")
        # Recompute from the previous row's hash, so a changed row is reported once, at itself.
        recomputed = chain_hash(expected_prev, row.payload)
        if row.hash != recomputed:
            problems.append(
                f"{where}: stored hash {row.hash} differs from recomputed {recomputed}; "
                "this payload or an earlier hash was changed"
            )
        problems.extend(f"{where}: {p}" for p in _payload_problems(row))
        expected_prev = row.hash
        expected_seq = row.seq + 1
    return problems


def _payload_problems(row: EventRecord) -> list[str]:
    """Whether the payload is a valid event in canonical form that agrees with the row's columns."""
    try:
        event = Event.model_validate_json(row.payload)
    except ValidationError as exc:
        return [f"payload is not a valid event ({exc.error_count()} errors: {exc.errors()[0]['msg']})"]
    problems: list[str] = []
    if event.canonical_json() != row.payload:
        problems.append("payload is not in canonical JSON form")
    problems.extend(
        f"column {name} is {getattr(row, name)!r} but the payload says {in_payload!r}"
        for name, in_payload in event_columns(event).items()
        if getattr(row, name) != in_payload
    )
    return problems
