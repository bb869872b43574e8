"""Re-derive a deal's domain events from its workflow history and compare them, seq by seq, with the archive.

Two witnesses are checked against the archive:
- the events: each one the history produces is compared, as canonical JSON (the text the hash covers), with
  the archived payload at its seq — missing, extra or different, with both versions;
- the heads: every `archive.append` answered with the archive's head (`AppendResult.last_seq/last_hash`) and
  Temporal recorded that answer in the history, so each recorded head is compared with the hash the archive
  stores at that seq and with the chain recomputed over the re-derived events. A row rewritten together with
  every later hash (which the chain alone cannot see) disagrees with the history here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHistory

from audit.histories import RunHistory, StoredHistoryCorrupt, stored_runs_of
from audit.replay import DealReplayer, RecordedHead, RunReplay
from domain.events import Event
from store.chain import GENESIS_HASH, chain_hash
from store.models import EventRecord

DifferenceKind = Literal["missing", "extra", "different"]


@dataclass(frozen=True)
class ArchivedEvent:
    """An archived row as the comparison needs it: its seq, its payload text and its stored hash."""

    seq: int
    payload: str
    hash: str | None = None  # None when only the event is known (the caller had no row)

    @staticmethod
    def of(event: Event) -> ArchivedEvent:
        return ArchivedEvent(event.seq, event.canonical_json())


@dataclass(frozen=True)
class Difference:
    """One seq where the archive and the history disagree; `archived`/`rederived` (canonical JSON) is None where absent."""

    seq: int
    kind: DifferenceKind  # missing: in the history, not in the archive; extra: in the archive only
    archived: str | None
    rederived: str | None

    def describe(self) -> str:
        words = {
            "missing": "存档缺少此事件 / missing from the archive",
            "extra": "存档多出此事件 / in the archive but not produced by the history",
            "different": "内容不同 / differs",
        }[self.kind]
        lines = [f"seq {self.seq}: {words}"]
        if self.archived is not None:
            lines.append(f"  archive: {self.archived}")
        if self.rederived is not None:
            lines.append(f"  history: {self.rederived}")
        return "\n".join(lines)


@dataclass(frozen=True)
class HeadCheck:
    """One head the history recorded, against the archive's stored hash and the re-derived chain at that seq."""

    seq: int
    recorded: str
    archived: str | None  # None: no archived row at that seq, or its hash was not given
    rederived: str | None  # None: the history produced no event at that seq

    @property
    def agrees(self) -> bool:
        return self.recorded == self.rederived and (self.archived is None or self.archived == self.recorded)

    def describe(self) -> str:
        return (
            f"seq {self.seq}: 历史记录的链头 / head recorded in the history {self.recorded}; "
            f"archive {self.archived or '—'}; re-derived chain {self.rederived or '—'}"
        )


@dataclass
class Rederivation:
    """A deal's runs replayed, the events they produced, and how those compare with the archive."""

    deal_id: str
    runs: list[RunReplay]
    events: list[Event]
    differences: list[Difference] = field(default_factory=list)
    heads: list[HeadCheck] = field(default_factory=list)

    @property
    def replays(self) -> bool:
        return all(run.replays for run in self.runs)

    @property
    def head_problems(self) -> list[HeadCheck]:
        return [head for head in self.heads if not head.agrees]

    @property
    def agrees(self) -> bool:
        return self.replays and not self.differences and not self.head_problems


async def rederive(replayer: DealReplayer, runs: Sequence[RunHistory], archived: Sequence[Event | ArchivedEvent]) -> Rederivation:
    """Replay the runs (oldest first), collect the events they archive, and compare with `archived`."""
    replays = await replayer.replay([run.history for run in runs])
    deal_id = runs[0].deal_id if runs else ""
    return _compare_deal(deal_id, replays, [a if isinstance(a, ArchivedEvent) else ArchivedEvent.of(a) for a in archived])


async def rederive_stored(
    replayer: DealReplayer, sessions: sessionmaker[Session], deal_ids: Sequence[str], *, batch: int = 50
) -> AsyncIterator[Rederivation]:
    """Re-derive many deals from their kept histories, `batch` deals per database round trip, one replayer for all.

    For a sweep over the archive (bench, `kuayue audit rederive --all-kept`): histories come from the store only.
    """
    for start in range(0, len(deal_ids), batch):
        chunk = deal_ids[start : start + batch]
        with sessions() as session:
            runs = stored_runs_of(session, chunk)
            archived = archived_events_of(session, chunk)
        decoded: dict[str, list[WorkflowHistory]] = {}
        unreadable: dict[str, RunReplay] = {}
        for deal_id in chunk:
            try:
                decoded[deal_id] = [run.history for run in runs.get(deal_id, [])]
            except StoredHistoryCorrupt as exc:  # reported for this deal; the sweep goes on
                run = next(r for r in runs[deal_id] if r.run_id in str(exc))
                unreadable[deal_id] = RunReplay(run.workflow_id, run.run_id, f"{type(exc).__name__}: {exc}")
        histories = [history for deal_id in chunk for history in decoded.get(deal_id, [])]
        replays = [replay async for replay in replayer.replay_stream(histories)]
        position = 0
        for deal_id in chunk:
            if deal_id in unreadable:
                yield Rederivation(deal_id, [unreadable[deal_id]], [])
                continue
            count = len(decoded[deal_id])
            yield _compare_deal(deal_id, replays[position : position + count], archived.get(deal_id, []))
            position += count


def archived_events_of(session: Session, deal_ids: Sequence[str]) -> dict[str, list[ArchivedEvent]]:
    """The deals' archived rows (seq, payload, hash), in seq order, in one query."""
    query = (
        select(EventRecord.deal_id, EventRecord.seq, EventRecord.payload, EventRecord.hash)
        .where(EventRecord.deal_id.in_(deal_ids))
        .order_by(EventRecord.deal_id, EventRecord.seq)
    )
    found: dict[str, list[ArchivedEvent]] = defaultdict(list)
    for deal_id, seq, payload, digest in session.execute(query):
        found[deal_id].append(ArchivedEvent(seq, payload, digest))
    return found


def _compare_deal(deal_id: str, replays: list[RunReplay], archived: Sequence[ArchivedEvent]) -> Rederivation:
    events = [event for replay in replays for event in replay.events]
    texts = {event.seq: event.canonical_json() for event in events}
    heads = [head for replay in replays for head in replay.heads]
    return Rederivation(deal_id, replays, events, compare(archived, texts), check_heads(heads, archived, texts))


def compare(archived: Sequence[ArchivedEvent], rederived: dict[int, str]) -> list[Difference]:
    """Every seq where the archived payloads and the re-derived canonical JSON (by seq) differ, in seq order."""
    by_seq_archived = {row.seq: row.payload for row in archived}
    differences: list[Difference] = []
    for seq in sorted(by_seq_archived.keys() | rederived.keys()):
        a, r = by_seq_archived.get(seq), rederived.get(seq)
        if a is None:
            differences.append(Difference(seq, "missing", None, r))
        elif r is None:
            differences.append(Difference(seq, "extra", a, None))
        elif a != r:
            differences.append(Difference(seq, "different", a, r))
    return differences


def check_heads(heads: Sequence[RecordedHead], archived: Sequence[ArchivedEvent], rederived: dict[int, str]) -> list[HeadCheck]:
    """Each head the history recorded, against the archive's stored hash and the chain over the re-derived events."""
    chain = dict(_chain(rederived))
    stored = {row.seq: row.hash for row in archived}
    return [HeadCheck(head.seq, head.hash, stored.get(head.seq), chain.get(head.seq)) for head in heads]


def _chain(texts: dict[int, str]) -> Iterator[tuple[int, str]]:
    """(seq, hash) over 1, 2, 3 … as long as there is no gap (a gap is a difference already)."""
    digest = GENESIS_HASH
    for seq in range(1, len(texts) + 1):
        if seq not in texts:
            return
        digest = chain_hash(digest, texts[seq])
        yield seq, digest
