"""Every run of a deal's workflow history, from Temporal or from the `deal_histories` store.

Runs are found by walking continue-as-new links backwards from the newest run (each run's started
event names the run it continues), so no visibility query is needed and a listing that lags cannot
miss a run. Temporal is preferred; a run it no longer has (retention, deletion) comes from the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from audit import history_codec
from audit.history_codec import StoredHistoryCorrupt as StoredHistoryCorrupt  # raised by loads here
from store.db import upsert_insert
from store.models import DealHistoryRecord
from workflows.messages import workflow_id

Source = Literal["temporal", "store"]


class HistoryUnavailable(LookupError):
    """Neither Temporal nor the store holds (all of) the deal's history."""


class DealStillOpen(RuntimeError):
    """Only a closed deal's history is kept: an open one still grows."""


@dataclass(frozen=True)
class StoredHistory:
    """A kept run as the store holds it: compressed, decoded only when asked (whole, or one event at a time)."""

    workflow_id: str
    run_id: str
    status: str
    blob: bytes
    encoding: str
    sha256: str
    where: str  # names the row in errors

    def decode(self) -> WorkflowHistory:
        return history_codec.decode(self.workflow_id, self.blob, self.encoding, self.sha256, where=self.where)

    def iter_events(self) -> Iterator[HistoryEvent]:
        return history_codec.iter_events(self.blob, self.encoding, self.sha256, where=self.where)


@dataclass(frozen=True)
class RunHistory:
    """One run of a deal's workflow: its index (1 = first run), its history, and where it was read from.

    A run read from the store stays compressed until `history` (whole, for the Replayer) or `iter_events`
    (streamed, for an export) is asked for, so listing a large deal's runs holds no decoded copy.
    """

    deal_id: str
    run_index: int
    content: WorkflowHistory | StoredHistory
    source: Source

    @property
    def history(self) -> WorkflowHistory:
        """The whole history; a stored run is decompressed, parsed and checked on each call."""
        return self.content if isinstance(self.content, WorkflowHistory) else self.content.decode()

    def iter_events(self) -> Iterator[HistoryEvent]:
        return iter(self.content.events) if isinstance(self.content, WorkflowHistory) else self.content.iter_events()

    @property
    def workflow_id(self) -> str:
        return self.content.workflow_id

    @property
    def run_id(self) -> str:
        return self.content.run_id

    @property
    def status(self) -> str:
        """How the run closed (COMPLETED, CONTINUED_AS_NEW, TERMINATED, …), or RUNNING."""
        return closed_status(self.content) if isinstance(self.content, WorkflowHistory) else self.content.status

    def previous_run_id(self) -> str | None:
        """The run this one continues (continue-as-new), from its first event."""
        first = next(self.iter_events(), None)
        return (first.workflow_execution_started_event_attributes.continued_execution_run_id or None) if first else None


def closed_status(history: WorkflowHistory) -> str:
    last = history.events[-1].event_type if history.events else EventType.EVENT_TYPE_UNSPECIFIED
    name = EventType.Name(last).removeprefix("EVENT_TYPE_WORKFLOW_EXECUTION_")
    closing = {"COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "CONTINUED_AS_NEW"}
    return name if name in closing else "RUNNING"


async def fetch_runs(client: Client, deal_id: str) -> list[RunHistory]:
    """Every run Temporal still holds, oldest first; raises HistoryUnavailable when it holds none."""
    runs = await _walk(client, deal_id, {})
    if not runs:
        raise HistoryUnavailable(f"Temporal holds no history of deal {deal_id} (workflow {workflow_id(deal_id)})")
    return runs


async def load_runs(client: Client | None, sessions: sessionmaker[Session], deal_id: str) -> list[RunHistory]:
    """Every run of the deal, oldest first: from Temporal where it still has the run, else from the store."""
    return await runs_with(client, deal_id, stored_runs(sessions, deal_id))


async def runs_with(client: Client | None, deal_id: str, kept: list[RunHistory]) -> list[RunHistory]:
    """Every run of the deal, oldest first: from Temporal where it still has the run, else from `kept` (the store's)."""
    stored = {run.run_id: run for run in kept}
    runs = await _walk(client, deal_id, stored) if client is not None else []
    if not runs:
        runs = sorted(stored.values(), key=lambda r: r.run_index)
    if not runs:
        raise HistoryUnavailable(
            f"deal {deal_id}: no history in Temporal nor in the deal_histories store; "
            "a closed deal's history is kept by `kuayue audit keep` before Temporal's retention ends"
        )
    return runs


async def _walk(client: Client, deal_id: str, stored: dict[str, RunHistory]) -> list[RunHistory]:
    """Follow continue-as-new links back from the newest run; a run Temporal lacks is taken from `stored`."""
    wid = workflow_id(deal_id)
    found: list[tuple[WorkflowHistory | StoredHistory, Source]] = []
    run_id: str | None = None  # None: the newest run
    while True:
        try:
            found.append((await client.get_workflow_handle(wid, run_id=run_id).fetch_history(), "temporal"))
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            if run_id is None:
                # The newest run is gone: the store knows the chain's end, if it was kept.
                newest = max(stored.values(), key=lambda r: r.run_index, default=None)
                if newest is None:
                    return []
                run_id = newest.run_id
            if run_id not in stored:
                raise HistoryUnavailable(f"deal {deal_id}: run {run_id} is neither in Temporal nor in the store") from err
            found.append((stored[run_id].content, "store"))
        run_id = RunHistory(deal_id, 0, *found[-1]).previous_run_id()
        if run_id is None:
            break
    found.reverse()
    return [RunHistory(deal_id, i, content, source) for i, (content, source) in enumerate(found, start=1)]


def stored_runs(sessions: sessionmaker[Session], deal_id: str) -> list[RunHistory]:
    """The runs kept in `deal_histories`, oldest first (each is checked against its SHA-256 when read)."""
    with sessions() as session:
        return stored_runs_of(session, [deal_id]).get(deal_id, [])


def stored_runs_of(session: Session, deal_ids: Sequence[str]) -> dict[str, list[RunHistory]]:
    """The kept runs of several deals in one query, by deal, oldest first (checked against their SHA-256 when read)."""
    rows = session.scalars(
        select(DealHistoryRecord)
        .where(DealHistoryRecord.deal_id.in_(deal_ids))
        .order_by(DealHistoryRecord.deal_id, DealHistoryRecord.run_index)
    )
    found: dict[str, list[RunHistory]] = {}
    for row in rows:
        where = f"deal {row.deal_id} run {row.run_index} ({row.run_id})"
        content = StoredHistory(
            row.workflow_id, row.run_id, row.status, row.history_zlib, row.encoding, row.history_sha256, where
        )
        found.setdefault(row.deal_id, []).append(RunHistory(row.deal_id, row.run_index, content, "store"))
    return found


async def keep_history(client: Client, sessions: sessionmaker[Session], deal_id: str) -> int:
    """Store every run of a closed deal in `deal_histories`; returns how many runs were new (0 on a repeat)."""
    description = await client.get_workflow_handle(workflow_id(deal_id)).describe()
    if description.status == WorkflowExecutionStatus.RUNNING:
        raise DealStillOpen(f"deal {deal_id} is still running; its history is kept once it closes (signed, withdrawn, lapsed)")
    return store_runs(sessions, await fetch_runs(client, deal_id))


def store_runs(sessions: sessionmaker[Session], runs: list[RunHistory]) -> int:
    """Insert the runs not yet stored (unique on workflow and run id); returns how many were inserted."""
    now = datetime.now(UTC)
    inserted = 0
    with sessions.begin() as session:
        for run in runs:
            encoded = history_codec.encode(run.iter_events())
            statement = (
                upsert_insert(session, DealHistoryRecord)
                .values(
                    deal_id=run.deal_id,
                    workflow_id=run.workflow_id,
                    run_id=run.run_id,
                    run_index=run.run_index,
                    status=run.status,
                    history_zlib=encoded.blob,
                    encoding="proto",
                    history_sha256=encoded.sha256,
                    event_count=encoded.event_count,
                    stored_at=now,
                )
                .on_conflict_do_nothing(index_elements=["workflow_id", "run_id"])
            )
            result = cast(CursorResult[Any], session.execute(statement))
            inserted += result.rowcount or 0
    return inserted
