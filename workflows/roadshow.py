"""RoadshowWorkflow: one roadshow (路演), a workflow of its own next to the deals it presents (id `roadshow-<id>`).

Not a child of any deal and not the deals' parent: deals exist before a roadshow is planned and live on after it,
one deal can be presented at several roadshows, and a parent's close policy must never end a deal. The roadshow
records its own facts (invitations, presented deals, interest, due-diligence requests) through its own decider,
and turns each interest into a financing application *in that deal* through the deal's own update (activity
`roadshows.forward`), so every commitment is recorded by, and visible in, the deal it is for only.

Since ROADSHOW_ARCHIVE_PATCH every new event is archived (activity `roadshows.append`: hash-chained events and the
roadshow read model the web pages read) before the command is answered, as a deal's are.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.roadshows import ForwardRequest, ForwardResult
    from domain.actors import ROADSHOW
    from domain.errors import DomainError
    from domain.parties import Model
    from domain.roadshow import (
        ROADSHOW_ARCHIVE_CONFLICT,
        ROADSHOW_ARCHIVE_GAP,
        Interest,
        RecordForwarding,
        RoadshowAppend,
        RoadshowAppendResult,
        RoadshowCommand,
        RoadshowDealView,
        RoadshowEvent,
        RoadshowState,
        ScheduleRoadshow,
        deal_view,
        decide_roadshow,
        fold_roadshow,
    )

ROADSHOW_WORKFLOW = "RoadshowWorkflow"
ROADSHOW_FORWARD = "roadshows.forward"
ROADSHOW_APPEND = "roadshows.append"
EXECUTE_UPDATE = "execute"
_FORWARD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=10)
_APPEND_RETRY = RetryPolicy(
    maximum_interval=timedelta(seconds=30), non_retryable_error_types=[ROADSHOW_ARCHIVE_CONFLICT, ROADSHOW_ARCHIVE_GAP]
)

# ROADSHOW_ARCHIVE_PATCH: every new event goes through the `roadshows.append` activity (the hash-chained
# `roadshow_events` and the read model of the web pages) before a command is answered, and a roadshow may open with
# deals and investors (RoadshowInput.opening). Histories from before it (tests/histories/v4-roadshow, v5-roadshow)
# scheduled no append and replay through the old branch; those roadshows are not in the read model.
ROADSHOW_ARCHIVE_PATCH = "roadshow-archive-2026-12"


class RoadshowArchiveMismatch(Exception):
    """The archive holds different content at one of the roadshow's seqs (or misses the one before).

    Deliberately not an ApplicationError: it fails the workflow task, so the roadshow stops where it is, visibly,
    until an operator resolves the conflict. Never a silent overwrite.
    """


def roadshow_workflow_id(roadshow_id: str) -> str:
    return f"roadshow-{roadshow_id}"


class RoadshowInput(Model):
    schedule: ScheduleRoadshow
    # Applied right after the schedule, in the same decision (the web page starts a roadshow with its deals and
    # investors): all of them or, if the domain refuses one, none. Empty in runs from before ROADSHOW_ARCHIVE_PATCH.
    opening: tuple[RoadshowCommand, ...] = ()


class RoadshowCommandRequest(Model):
    command: RoadshowCommand


class RoadshowAnswer(Model):
    command_id: str
    events: tuple[RoadshowEvent, ...]


class DealViewRequest(Model):
    deal_id: str


@workflow.defn(name=ROADSHOW_WORKFLOW)
class RoadshowWorkflow:
    @workflow.init
    def __init__(self, input: RoadshowInput) -> None:
        self._state = RoadshowState()
        self._events: list[RoadshowEvent] = []
        self._answers: dict[str, RoadshowAnswer] = {}
        self._lock = asyncio.Lock()
        self._changed = False
        # Decided once, in the run's first workflow task (as DURABLE_APPEND_PATCH in workflows/deal.py): a roadshow
        # started before the patch never archives, every new one archives every event.
        self._archived = workflow.patched(ROADSHOW_ARCHIVE_PATCH)
        # Scheduling needs no activity, so it is applied here: updates sent with the start (in the same workflow
        # task) are validated against the scheduled roadshow, not an empty one. Its archiving waits for run().
        self._refusal: DomainError | None = None
        state, opened = self._state, list[RoadshowEvent]()
        try:
            for command in (input.schedule, *input.opening):
                events = decide_roadshow(state, command, workflow.now())
                state = fold_roadshow(events, state)
                opened.extend(events)
                self._answers[command.command_id] = RoadshowAnswer(command_id=command.command_id, events=tuple(events))
        except DomainError as e:
            self._refusal = e
            self._answers.clear()
        else:
            self._state = state
            self._events.extend(opened)
        self._opening_archived = not self._archived

    @workflow.run
    async def run(self, input: RoadshowInput) -> RoadshowState:
        if self._refusal is not None:
            raise ApplicationError(self._refusal.message, type=self._refusal.code, non_retryable=True)
        if not self._opening_archived:
            async with self._lock:
                await self._append(list(self._events))
                self._opening_archived = True
        while not self._state.closed:
            pending = self._state.pending_forwarding
            if pending:
                await self._forward(pending[0])
                continue
            self._changed = False
            await workflow.wait_condition(lambda: self._changed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    async def _forward(self, interest: Interest) -> None:
        s = self._state
        application_id = interest.application_id
        investor = s.investor(interest.investor_id)
        assert investor is not None
        request = ForwardRequest(
            roadshow_id=s.roadshow_id,
            deal_id=interest.deal_id,
            application_id=application_id,
            partner_id=investor.partner_id,
            partner_kind=investor.kind,
            instrument=interest.instrument,
            amount_fen=interest.amount_fen,
            note=interest.note,
        )
        try:
            result = await workflow.execute_activity(
                ROADSHOW_FORWARD,
                request,
                result_type=ForwardResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_FORWARD_RETRY,
            )
            refusal = result.refusal
        except ActivityError as e:
            refusal = f"[unreachable] {e.cause}"
        await self._execute(
            RecordForwarding(
                command_id=f"forward:{interest.deal_id}:{application_id}",
                actor=ROADSHOW,
                deal_id=interest.deal_id,
                application_id=application_id,
                refusal=refusal,
            )
        )

    @workflow.update(name=EXECUTE_UPDATE)
    async def execute(self, request: RoadshowCommandRequest) -> RoadshowAnswer:
        try:
            return await self._execute(request.command)
        except DomainError as e:
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e

    @execute.validator
    def _validate(self, request: RoadshowCommandRequest) -> None:
        if request.command.command_id in self._answers:
            return
        try:
            decide_roadshow(self._state, request.command, workflow.now())
        except DomainError as e:
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e

    async def _execute(self, command: RoadshowCommand) -> RoadshowAnswer:
        if not self._opening_archived:
            # Sent with the start: wait until the opening events are archived, so the archive stays in seq order.
            # (Never awaited before the patch, so old histories see the same yields as before.)
            await workflow.wait_condition(lambda: self._opening_archived)
        async with self._lock:
            if command.command_id in self._answers:
                return self._answers[command.command_id]
            events = decide_roadshow(self._state, command, workflow.now())
            if self._archived:
                await self._append(events)  # answered only once archived: the pages read what the answer says
            self._state = fold_roadshow(events, self._state)
            self._events.extend(events)
            answer = RoadshowAnswer(command_id=command.command_id, events=tuple(events))
            self._answers[command.command_id] = answer
            self._changed = True
            return answer

    async def _append(self, events: list[RoadshowEvent]) -> None:
        try:
            await workflow.execute_activity(
                ROADSHOW_APPEND,
                RoadshowAppend(roadshow_id=events[0].roadshow_id, events=tuple(events)),
                result_type=RoadshowAppendResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_APPEND_RETRY,
            )
        except ActivityError as e:
            raise RoadshowArchiveMismatch(f"archive refused events {events[0].seq}..{events[-1].seq}: {e.cause}") from e

    @workflow.query(name="state")
    def state(self) -> RoadshowState:
        return self._state

    @workflow.query(name="deal_view")
    def deal_view(self, request: DealViewRequest) -> RoadshowDealView:
        """What one deal may see: this roadshow's interest and requests about that deal, nobody else's."""
        return deal_view(self._state, request.deal_id)
