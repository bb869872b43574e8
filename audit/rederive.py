"""Re-derive a deal's domain events from its workflow history and compare them, seq by seq, with the archive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from audit.histories import RunHistory
from audit.replay import DealReplayer, RunReplay
from domain.events import Event

DifferenceKind = Literal["missing", "extra", "different"]


@dataclass(frozen=True)
class Difference:
    """One seq where the archive and the history disagree; `archived`/`rederived` is None where absent."""

    seq: int
    kind: DifferenceKind  # missing: in the history, not in the archive; extra: in the archive only
    archived: Event | None
    rederived: Event | None

    def describe(self) -> str:
        words = {
            "missing": "存档缺少此事件 / missing from the archive",
            "extra": "存档多出此事件 / in the archive but not produced by the history",
            "different": "内容不同 / differs",
        }[self.kind]
        lines = [f"seq {self.seq}: {words}"]
        if self.archived is not None:
            lines.append(f"  archive: {self.archived.canonical_json()}")
        if self.rederived is not None:
            lines.append(f"  history: {self.rederived.canonical_json()}")
        return "\n".join(lines)


@dataclass
class Rederivation:
    """A deal's runs replayed, the events they produced, and how those compare with the archive."""

    deal_id: str
    runs: list[RunReplay]
    events: list[Event]
    differences: list[Difference] = field(default_factory=list)

    @property
    def replays(self) -> bool:
        return all(run.replays for run in self.runs)

    @property
    def agrees(self) -> bool:
        return self.replays and not self.differences


async def rederive(replayer: DealReplayer, runs: Sequence[RunHistory], archived: Sequence[Event]) -> Rederivation:
    """Replay the runs (oldest first), collect the events they archive, and compare with `archived`."""
    replays = await replayer.replay([run.history for run in runs])
    events = [event for replay in replays for event in replay.events]
    deal_id = runs[0].deal_id if runs else ""
    return Rederivation(deal_id, replays, events, compare(archived, events))


def compare(archived: Sequence[Event], rederived: Sequence[Event]) -> list[Difference]:
    """Every seq where the two lists differ, in seq order (each list is keyed by seq)."""
    by_seq_archived = {event.seq: event for event in archived}
    by_seq_rederived = {event.seq: event for event in rederived}
    differences: list[Difference] = []
    for seq in sorted(by_seq_archived.keys() | by_seq_rederived.keys()):
        a, r = by_seq_archived.get(seq), by_seq_rederived.get(seq)
        if a is None:
            differences.append(Difference(seq, "missing", None, r))
        elif r is None:
            differences.append(Difference(seq, "extra", a, None))
        elif a.canonical_json() != r.canonical_json():
            differences.append(Difference(seq, "different", a, r))
    return differences
