"""HistoryKeeper: a short workflow that a Temporal Schedule runs every few minutes to keep closed deals' histories.

A Schedule rather than a loop inside DealWorkflow: a deal cannot store its own history (the closing events come
after its last line), and the schedule is visible, pausable and adjustable in Temporal's UI.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.projection import KeepClosedRequest, KeepClosedResult

HISTORY_KEEPER_NAME = "HistoryKeeper"


@workflow.defn(name=HISTORY_KEEPER_NAME)
class HistoryKeeperWorkflow:
    @workflow.run
    async def run(self, request: KeepClosedRequest) -> KeepClosedResult:
        result = await workflow.execute_activity(
            "history.keep_closed",
            request,
            result_type=KeepClosedResult,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=5),
        )
        assert isinstance(result, KeepClosedResult)
        return result
