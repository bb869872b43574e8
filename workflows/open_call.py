"""OpenCallWorkflow: one workflow per open call (揭榜挂帅), with its own bids, its own clock and its own events.

Orchestration only: each command goes through `domain.open_call.decide`. Bids arrive as updates whose validator
refuses late or unqualified bids before anything is recorded; a durable timer closes the call at its deadline;
the selection asks the deal (through an activity, since a workflow cannot send another workflow an update) to
make the winner its accepted match, and is recorded only when the deal has said yes. A call nobody selects from
ends by itself when the selection period after its close has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.actors import TIMER
    from domain.errors import DomainError
    from domain.open_call import (
        AwardRequest,
        AwardResult,
        CloseOpenCall,
        LapseOpenCall,
        OpenCallAppend,
        OpenCallCommand,
        OpenCallContext,
        OpenCallEvent,
        OpenCallState,
        OpenCallStatus,
        SelectWinner,
        decide,
        fold,
        initial_state,
        selection_ends_at,
    )
    from workflows.open_call_messages import (
        OPEN_CALL_EVENTS_QUERY,
        OPEN_CALL_EXECUTE,
        OPEN_CALL_STATE_QUERY,
        OPEN_CALL_WORKFLOW,
        OpenCallAnswer,
        OpenCallInput,
        OpenCallOutcome,
        OpenCallRequest,
    )

OPEN_CALL_APPEND = "open_call.append"
OPEN_CALL_AWARD = "open_call.award"
# Error types of the award activity that a retry cannot change: the deal said no.
DEAL_REFUSED_ERRORS = ["deal_refused", "deal_not_matching"]

_APPEND_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["OpenCallArchiveConflict"])
# A person waits for the selection's answer, so a broken deal connection fails it after a few tries instead of hanging.
_AWARD_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=10), maximum_attempts=3, non_retryable_error_types=DEAL_REFUSED_ERRORS
)


class OpenCallArchiveMismatch(Exception):
    """The archive holds different content for one of the call's seqs: fail the task loudly, never overwrite."""


@workflow.defn(name=OPEN_CALL_WORKFLOW)
class OpenCallWorkflow:
    @workflow.init
    def __init__(self, input: OpenCallInput) -> None:
        self._state: OpenCallState = initial_state()
        self._events: list[OpenCallEvent] = []
        self._answers: dict[str, OpenCallAnswer] = {}
        self._lock = asyncio.Lock()  # commands and the timer change the call one at a time, in order
        # Bids can arrive in the same task as the start: they are validated against the call as it will be once
        # published, and wait for that to happen.
        self._opening: OpenCallState | None = None
        try:
            self._opening = fold(decide(self._state, input.publish, OpenCallContext(now=workflow.now())))
        except DomainError:
            self._opening = None  # run() fails the workflow with the domain's message

    @workflow.run
    async def run(self, input: OpenCallInput) -> OpenCallOutcome:
        try:
            await self._execute(input.publish)
        except DomainError as e:
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e
        deadline = self._state.deadline
        assert deadline is not None
        # The call's own clock: close at the deadline, then end if nobody selects within the selection period.
        await self._until(deadline, lambda: self._state.status != OpenCallStatus.OPEN)
        if self._state.status == OpenCallStatus.OPEN:
            await self._fire(CloseOpenCall(command_id="timer:close", actor=TIMER))
        await self._until(selection_ends_at(self._state), lambda: self._state.status != OpenCallStatus.CLOSED)
        if self._state.status == OpenCallStatus.CLOSED:
            await self._fire(LapseOpenCall(command_id="timer:lapse", actor=TIMER))
        await workflow.wait_condition(workflow.all_handlers_finished)
        s = self._state
        return OpenCallOutcome(open_call_id=s.open_call_id, status=s.status, winner_bid_id=s.winner_bid_id, seq=s.seq)

    async def _until(self, moment: datetime, done: Callable[[], bool]) -> None:
        """Wait for `done` or for `moment` (a durable timer), whichever comes first."""
        remaining = (moment - workflow.now()).total_seconds()
        if remaining <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(done, timeout=remaining)

    async def _fire(self, command: OpenCallCommand) -> None:
        try:
            await self._execute(command)
        except DomainError as e:
            # A command that was waiting on the lock got there first (a close, a selection): the timer is stale.
            workflow.logger.info("timer no longer applies", extra={"code": e.code})

    # ------------------------------------------------------------------------------------ commands

    @workflow.update(name=OPEN_CALL_EXECUTE)
    async def execute(self, request: OpenCallRequest) -> OpenCallAnswer:
        await workflow.wait_condition(lambda: self._state.status != OpenCallStatus.DRAFT)
        try:
            return await self._execute(request.command)
        except DomainError as e:
            # The call moved between validation and execution (the deadline passed, another bid got there first).
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e

    @execute.validator
    def _validate(self, request: OpenCallRequest) -> None:
        if request.command.command_id in self._answers:
            return  # a retry: answered from memory, adds nothing
        state = self._state if self._state.status != OpenCallStatus.DRAFT or self._opening is None else self._opening
        try:
            decide(state, request.command, OpenCallContext(now=workflow.now()))
        except DomainError as e:
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e

    async def _execute(self, command: OpenCallCommand) -> OpenCallAnswer:
        async with self._lock:
            if command.command_id in self._answers:
                return self._answers[command.command_id]
            before = self._state
            events = decide(before, command, OpenCallContext(now=workflow.now()))
            if isinstance(command, SelectWinner):
                award = await self._award(before, command)
                events = decide(before, command, OpenCallContext(now=workflow.now(), deal_seq=award.deal_seq))
            after = fold(events, before)
            await self._append(events, after)
            self._state = after
            self._events.extend(events)
            answer = OpenCallAnswer(command_id=command.command_id, seq=after.seq, status=after.status, events=tuple(events))
            self._answers[command.command_id] = answer
            return answer

    async def _award(self, state: OpenCallState, command: SelectWinner) -> AwardResult:
        """Make the selected bid the deal's accepted match; a refusal by the deal fails the selection, recording nothing."""
        received = state.bid(command.bid_id)
        assert received is not None  # decide() refused unknown bids
        request = AwardRequest(
            open_call_id=state.open_call_id,
            deal_id=state.deal_id,
            bid_id=received.bid_id,
            bid=received.bid,
            actor=command.actor,
        )
        try:
            result: AwardResult = await workflow.execute_activity(
                OPEN_CALL_AWARD,
                request,
                result_type=AwardResult,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=_AWARD_RETRY,
            )
        except ActivityError as e:
            cause = e.cause
            if isinstance(cause, ApplicationError):
                raise ApplicationError(cause.message, type=cause.type, non_retryable=True) from e
            raise ApplicationError(f"未能把揭榜结果写入案件 {state.deal_id}：{cause}；请稍后重试", type="deal_unavailable") from e
        return result

    async def _append(self, events: list[OpenCallEvent], after: OpenCallState) -> None:
        try:
            await workflow.execute_activity(
                OPEN_CALL_APPEND,
                OpenCallAppend(events=tuple(events), state=after),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_APPEND_RETRY,
            )
        except ActivityError as e:
            raise OpenCallArchiveMismatch(f"archive refused events {events[0].seq}..{events[-1].seq}: {e.cause}") from e

    # ------------------------------------------------------------------------------------- queries

    @workflow.query(name=OPEN_CALL_STATE_QUERY)
    def state(self) -> OpenCallState:
        return self._state

    @workflow.query(name=OPEN_CALL_EVENTS_QUERY)
    def events(self) -> list[OpenCallEvent]:
        return list(self._events)
