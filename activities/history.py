"""Keep closed deals' Temporal histories in the database, beyond the namespace's retention period.

The `HistoryKeeper` workflow (run by a Temporal Schedule) calls `history.keep_closed`, which asks Temporal's
visibility for deals that closed recently and stores the runs of each one not stored yet (`audit.histories`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client

from audit.histories import keep_history
from domain.projection import KeepClosedRequest, KeepClosedResult
from kuayue.logging import deal_id_from_workflow_id
from store.models import DealHistoryRecord
from workflows.messages import WORKFLOW_NAME

# Statuses that end a deal; a run closed by continue-as-new is not the end of its deal.
_CLOSED = "('Completed', 'Failed', 'Terminated', 'TimedOut', 'Canceled')"


class HistoryKeeping:
    """Activities that need a Temporal client (to read histories) and the database (to keep them)."""

    def __init__(self, client: Client, session_factory: sessionmaker[Session]) -> None:
        self._client = client
        self._sessions = session_factory

    @activity.defn(name="history.keep_closed")
    async def keep_closed(self, request: KeepClosedRequest) -> KeepClosedResult:
        since = datetime.now(UTC) - timedelta(hours=request.lookback_hours)
        query = (
            f"WorkflowType = '{WORKFLOW_NAME}' AND ExecutionStatus IN {_CLOSED} "
            f"AND CloseTime > '{since.isoformat().replace('+00:00', 'Z')}'"
        )
        deal_ids = {d for w in [w async for w in self._client.list_workflows(query)] if (d := deal_id_from_workflow_id(w.id))}
        with self._sessions() as session:
            kept = set(session.scalars(select(DealHistoryRecord.deal_id).where(DealHistoryRecord.deal_id.in_(deal_ids))))
        runs = 0
        for deal_id in sorted(deal_ids - kept):
            activity.heartbeat(deal_id)
            runs += await keep_history(self._client, self._sessions, deal_id)
        activity.logger.info("kept the histories of %d closed deals (%d runs)", len(deal_ids - kept), runs)
        return KeepClosedResult(closed_deals=len(deal_ids), newly_kept=len(deal_ids - kept), runs_stored=runs)
