"""Hash-chain verification of the archive, streamed: one deal, a centre's deals, or every deal; and
the chains kept beside them, one per roadshow and one per open call.

The rules are `store.chain`'s (seqs 1, 2, 3 … without gaps, `prev_hash` = the previous `hash`,
`hash` = chain_hash(prev_hash, payload), the columns repeat the payload); `ChainChecker` applies
them to rows in (deal, seq) order from any source, so the database and an evidence bundle are
checked by the same code. Rows are streamed (`yield_per`, a server-side cursor on PostgreSQL), so
memory does not grow with the archive.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal, Protocol, TypeAlias

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from store.chain import GENESIS_HASH, chain_hash
from store.models import DealRecord, EventRecord, OpenCallEventRecord, RoadshowEventRecord
from store.open_calls import verify_open_call_chain
from store.roadshows import verify_roadshow_chain

ProblemKind: TypeAlias = Literal["gap", "prev_hash", "hash", "payload", "column"]
# Told how far a verification has got, every PROGRESS_EVERY events; may raise to stop it (a stopping web process).
Progress: TypeAlias = "Callable[[VerificationReport], None]"
PROGRESS_EVERY = 1_000

_ROW_COLUMNS = (
    EventRecord.deal_id,
    EventRecord.seq,
    EventRecord.type,
    EventRecord.occurred_at,
    EventRecord.actor_id,
    EventRecord.actor_role,
    EventRecord.command_id,
    EventRecord.payload,
    EventRecord.prev_hash,
    EventRecord.hash,
)


class ArchivedRow(Protocol):
    """The columns of an archived event the chain covers (a database row or a bundle line)."""

    @property
    def deal_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def actor_id(self) -> str: ...
    @property
    def actor_role(self) -> str: ...
    @property
    def command_id(self) -> str | None: ...
    @property
    def payload(self) -> str: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


class ChainProblem(BaseModel):
    """One thing wrong in the archive, named by deal and seq."""

    deal_id: str
    seq: int
    kind: ProblemKind
    message: str

    def describe(self) -> str:
        return f"deal {self.deal_id} seq {self.seq} [{self.kind}]: {self.message}"


class VerificationReport(BaseModel):
    scope: str
    deals: int = 0
    events: int = 0
    problems: list[ChainProblem] = []

    @property
    def intact(self) -> bool:
        return not self.problems


class ChainChecker:
    """Feeds rows in (deal_id, seq) order and collects the problems of each deal's chain."""

    def __init__(self, scope: str) -> None:
        self.report = VerificationReport(scope=scope)
        self._deal: str | None = None
        self._prev = GENESIS_HASH
        self._next_seq = 1

    def check_all(self, rows: Iterable[ArchivedRow], progress: Progress | None = None) -> VerificationReport:
        for row in rows:
            self.check(row)
            if progress is not None and self.report.events % PROGRESS_EVERY == 0:
                progress(self.report)
        return self.report

    def check(self, row: ArchivedRow) -> None:
        report = self.report
        deal_id, seq, prev = row.deal_id, row.seq, self._prev
        if deal_id != self._deal:
            self._deal, prev, self._next_seq = deal_id, GENESIS_HASH, 1
            report.deals += 1
        report.events += 1
        found: list[tuple[ProblemKind, str]] = []
        if seq != self._next_seq:
            if seq > self._next_seq:
                gap = f"seq {self._next_seq}" if seq == self._next_seq + 1 else f"seqs {self._next_seq}..{seq - 1}"
                found.append(("gap", f"{gap} missing before it (deleted?) / 缺少事件"))
            else:
                found.append(("gap", f"expected seq {self._next_seq} / 序号重复或倒序"))
        if row.prev_hash != prev:
            found.append(("prev_hash", f"prev_hash {row.prev_hash} is not the previous event's hash {prev}"))
        # Recomputed from the previous row's hash, so a changed row is reported at itself.
        recomputed = chain_hash(prev, row.payload)
        if row.hash != recomputed:
            found.append(
                ("hash", f"stored hash {row.hash} differs from recomputed {recomputed}: this payload or its hash was changed")
            )
        found.extend(_payload_problems(row))
        report.problems.extend(ChainProblem(deal_id=deal_id, seq=seq, kind=kind, message=message) for kind, message in found)
        self._prev, self._next_seq = row.hash, seq + 1


def _payload_problems(row: ArchivedRow) -> list[tuple[ProblemKind, str]]:
    """Whether the payload is an event's JSON that agrees with the row's columns.

    Plain `json`, not pydantic: this runs for every event of the archive. The payload's bytes are covered by
    the hash; this check covers the columns that repeat it (a changed actor_id, seq, time …).
    """
    try:
        data: Any = json.loads(row.payload)
        actor = data["actor"]
        in_payload = (
            ("deal_id", data["deal_id"], row.deal_id),
            ("seq", data["seq"], row.seq),
            ("type", data["payload"]["type"], row.type),
            ("actor_id", actor["id"], row.actor_id),
            ("actor_role", actor["role"], row.actor_role),
            ("command_id", data.get("command_id"), row.command_id),
            ("occurred_at", datetime.fromisoformat(data["occurred_at"]), row.occurred_at),
        )
    except (ValueError, KeyError, TypeError) as exc:
        return [("payload", f"payload is not an event's JSON ({type(exc).__name__}: {exc})")]
    return [
        ("column", f"column {name} is {column!r} but the payload says {value!r}")
        for name, value, column in in_payload
        if column != value
    ]


def verify_deal(session: Session, deal_id: str) -> VerificationReport:
    return _verify(session, f"deal {deal_id}", [EventRecord.deal_id == deal_id])


def verify_centre(session: Session, centre_id: str, progress: Progress | None = None) -> VerificationReport:
    """Every deal whose read-model row names the centre."""
    return _verify(session, f"centre {centre_id}", _of_centre(centre_id), progress)


def verify_archive(session: Session, progress: Progress | None = None) -> VerificationReport:
    return _verify(session, "whole archive", [], progress)


def events_to_verify(session: Session, centre_id: str | None = None) -> int:
    """How many archived events `verify_centre` (or, without a centre, `verify_archive`) reads: a job's 100 %."""
    where = _of_centre(centre_id) if centre_id is not None else []
    return session.scalar(select(func.count()).select_from(EventRecord).where(*where)) or 0


def _of_centre(centre_id: str) -> list[ColumnElement[bool]]:
    return [EventRecord.deal_id.in_(select(DealRecord.deal_id).where(DealRecord.centre_id == centre_id))]


def _verify(
    session: Session, scope: str, where: list[ColumnElement[bool]], progress: Progress | None = None, batch: int = 10_000
) -> VerificationReport:
    ordered = select(*_ROW_COLUMNS).where(*where).order_by(EventRecord.deal_id, EventRecord.seq)
    return ChainChecker(scope).check_all(session.execute(ordered.execution_options(yield_per=batch)), progress)


class ChainsVerification(BaseModel):
    """The chains kept beside the deals': one per roadshow, or one per open call."""

    scope: str
    kind: str  # "roadshows" or "open calls"
    chains: int = 0
    events: int = 0
    problems: list[str] = []

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_roadshows(session: Session, roadshow_id: str | None = None) -> ChainsVerification:
    """Every archived roadshow's chain (`store.roadshows.verify_roadshow_chain`), or one roadshow's."""
    return _verify_chains(session, "roadshows", RoadshowEventRecord.roadshow_id, verify_roadshow_chain, roadshow_id)


def verify_open_calls(session: Session, open_call_id: str | None = None) -> ChainsVerification:
    """Every archived open call's chain (`store.open_calls.verify_open_call_chain`), or one call's."""
    return _verify_chains(session, "open calls", OpenCallEventRecord.open_call_id, verify_open_call_chain, open_call_id)


def _verify_chains(
    session: Session,
    kind: str,
    chain_id: InstrumentedAttribute[str],
    verify_one: Callable[[Session, str], list[str]],
    only: str | None,
) -> ChainsVerification:
    counted = select(chain_id, func.count()).group_by(chain_id)
    if only is not None:
        counted = counted.where(chain_id == only)
    report = ChainsVerification(scope=f"{kind.rstrip('s')} {only}" if only else f"every {kind.rstrip('s')}", kind=kind)
    for found, events in session.execute(counted.order_by(chain_id)).all():
        report.chains += 1
        report.events += events
        report.problems += verify_one(session, found)
    return report
