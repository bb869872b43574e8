"""DealWorkflow: one durable, event-sourced workflow per technology-transfer deal.

Orchestration only. Each command goes through `domain.decide`; the events it returns are recorded by
the archive activity before the workflow's state moves on, so the archive never lags an answer the
broker has seen. The deal's own clock (reminders, escalations, lapse) comes from `domain.next_due`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.actors import MATCHING, PARTNER, TIMER
    from domain.commands import (
        Command,
        Context,
        ExpireCommitment,
        FireLadderStep,
        FirePartnerLadderStep,
        LapseDeal,
        ProposeCandidates,
        RecordDelivery,
        RecordPartnerAnswer,
    )
    from domain.decider import Due, allowed_commands, answer_plan_request, decide, fold, next_due, plan_request
    from domain.errors import DomainError
    from domain.events import Event
    from domain.partners import (
        PARTNER_REFUSED,
        AnswerPlan,
        DeliveryReceipt,
        DeliveryRequest,
        PartnerAnswer,
        PartnerKind,
        PartnerRequest,
        RequestStatus,
    )
    from domain.projection import (
        AppendRequest,
        DealSummary,
        MatchRequest,
        ProposedShortlist,
        notifications,
        partner_rows,
        summarize,
    )
    from domain.sla import DeadlinePlan
    from domain.stages import Stage
    from domain.state import DealState, initial_state, is_terminal
    from workflows import search_attributes as sa
    from workflows.messages import (
        ALLOWED_QUERY,
        EVENTS_QUERY,
        EXECUTE_UPDATE,
        PARTNER_ANSWER_SIGNAL,
        STATE_QUERY,
        WORKFLOW_NAME,
        AllowedRequest,
        Answer,
        Carry,
        CommandRequest,
        DealInput,
        DealOutcome,
        EventsPage,
        EventsRequest,
        PartnerAnswerSignal,
    )

ARCHIVE_APPEND = "archive.append"
DEADLINES_PLAN = "deadlines.plan"
MATCHING_PROPOSE = "matching.propose"
PARTNERS_DELIVER = "partners.deliver"
PARTNERS_PLAN_ANSWER = "partners.plan_answer"

# How many answers and events a run keeps (and hands across continue-as-new); older ones are in the archive.
# Bounded so the continue-as-new input stays far below Temporal's payload limits (an answer is ~1-2 KB);
# a client retries a command within seconds, so 100 answers cover every realistic retry.
ANSWERS_KEPT = 100
EVENTS_KEPT = 200

_ARCHIVE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["ArchiveConflict", "ArchiveGap"],
)
_PLAN_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), non_retryable_error_types=["NoBudget"])


# Patch ids of guarded workflow changes (README, "Changing workflow code safely"); each stays until no history
# needs its old branch.
# LEAN_COMMANDS_PATCH: plan and append run as local activities (in the same workflow task, on the same worker,
# saving a round trip through the server on every command a broker waits for), and the deal keeps one durable
# timer per due moment instead of a new timer per command. Histories from before it (tests/histories/v1-*)
# scheduled ordinary activities and a timer per wait, and replay through the old branches.
LEAN_COMMANDS_PATCH = "lean-commands-2026-11"


# AUTO_MATCHING_PATCH: when a deal enters MATCHING, the matching activity ranks the achievement registry and the
# shortlist is recorded as CandidatesProposed by system:matching. Histories from before it (v1-*, v2-*) did not.
AUTO_MATCHING_PATCH = "auto-matching-2026-11"

_MATCHING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=3)

# PARTNERS_PATCH: financing applications and registration submissions are delivered to partners by the
# `partners.deliver` activity, partners' answers arrive as the `partner_answer` signal, and the deal's clock also
# fires partner answer ladders and commitment expiries. Histories from before it (v1-v3) have none of these.
PARTNERS_PATCH = "partners-2026-11"

# DURABLE_APPEND_PATCH: the archive append is an ordinary activity again (the plans stay local: they write nothing).
# A local activity's side effect happens before its workflow task completes. When that task is lost (a worker
# crash, a failed task, the server aborting in-flight updates beyond its limit of 10 per workflow), the retried
# task decides again at a new workflow time, perhaps with the updates in another order, and the archive, which
# already holds the lost attempt's events, refuses the new ones: the deal was stuck behind its archive
# (tests/workflows/test_concurrent_commands.py; docs/decisions.md). An ordinary activity runs only once its
# scheduling, with the exact events, is in the history. It costs about one server round trip per command.
# Under the same patch, a broker's shortlist proposed before the matching engine ran is no longer replaced by it.
DURABLE_APPEND_PATCH = "durable-append-2026-11"

# A partner that is down is retried with backoff for up to a day; after that the request is recorded as refused
# ("unreachable") so the broker sees it and can apply elsewhere, instead of a silent wait.
_PARTNER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[PARTNER_REFUSED],
)
PARTNER_DELIVERY_WINDOW = timedelta(days=1)


def _lean() -> bool:
    return workflow.patched(LEAN_COMMANDS_PATCH)


async def _activity(name: str, arg: object, result_type: type | None, timeout: timedelta, retry: RetryPolicy) -> Any:
    """Run one of the deal's short activities (plan, append)."""
    if _lean():
        return await workflow.execute_local_activity(
            name, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=retry
        )
    return await workflow.execute_activity(name, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=retry)


class ArchiveMismatch(Exception):
    """The archive holds different content at a seq the workflow is writing.

    Deliberately not an ApplicationError: it fails the workflow task, so the deal stops where it is,
    visibly, and resumes only when an operator has resolved the conflict. Never a silent overwrite.
    """


@workflow.defn(name=WORKFLOW_NAME)
class DealWorkflow:
    @workflow.init
    def __init__(self, input: DealInput) -> None:
        carry = input.carry
        self._state: DealState = carry.state if carry else initial_state()
        self._answers: dict[str, Answer] = {a.command_id: a for a in carry.answers} if carry else {}
        self._events: deque[Event] = deque(carry.recent_events if carry else (), maxlen=EVENTS_KEPT)
        self._events_this_run = 0
        self._lock = asyncio.Lock()  # commands and timers change the deal one at a time, in order
        self._changed = False
        self._input = input
        # Decided once, in the run's first workflow task: a run that began before DURABLE_APPEND_PATCH keeps the
        # local append throughout (its history has no marker there), and every new run, continue-as-new included,
        # takes the durable one. A first call deep in a command's path could fall in different tasks on replay.
        self._durable_append = workflow.patched(DURABLE_APPEND_PATCH)
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None
        self._search_attributes: tuple[object, ...] | None = None  # the values last upserted
        self._matched_for: datetime | None = carry.matched_for if carry else None
        self._inbox: list[PartnerAnswer] = list(carry.inbox) if carry else []
        self._deliveries: dict[str, asyncio.Task[None]] = {}  # request id -> its delivery, while in flight
        # Commands can arrive in the same task as the start, before the opening events are recorded:
        # they are validated against the deal as it will be once open, and wait for that to happen.
        self._opening: DealState | None = None
        if input.open is not None and self._state.stage is None:
            try:
                self._opening = fold(decide(self._state, input.open, Context(now=workflow.now())))
            except DomainError:
                self._opening = None  # run() fails the workflow with the domain's message

    @workflow.run
    async def run(self, input: DealInput) -> DealOutcome:
        if input.open is not None and self._state.stage is None:
            try:
                await self._execute(input.open)
            except DomainError as e:
                raise ApplicationError(e.message, type=e.code, non_retryable=True) from e
        while not is_terminal(self._state):
            if self._inbox:
                await self._take_answer(self._inbox.pop(0))
                continue
            self._start_deliveries()
            if self._should_continue_as_new():
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._deliveries)
                workflow.continue_as_new(
                    DealInput(
                        carry=Carry(
                            state=self._state,
                            answers=tuple(self._answers.values())[-ANSWERS_KEPT:],
                            recent_events=tuple(self._events),
                            matched_for=self._matched_for,
                            inbox=tuple(self._inbox),
                        ),
                        max_events_per_run=input.max_events_per_run,
                        upsert_search_attributes=input.upsert_search_attributes,
                    )
                )
            if self._needs_matching():
                await self._propose_matches()
                continue
            await self._wait_for_change_or_due()
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self._state.stage is not None
        return DealOutcome(deal_id=self._state.deal_id, stage=self._state.stage, seq=self._state.seq)

    async def _wait_for_change_or_due(self) -> None:
        if not _lean():
            await self._wait_for_change_or_due_v1()
            return
        due = next_due(self._state)
        self._changed = False
        if due is not None and due.at <= workflow.now():
            await self._fire(due)
            return
        self._arm_timer(due.at if due else None)
        timer = self._timer
        await workflow.wait_condition(
            lambda: self._changed or bool(self._inbox) or self._should_continue_as_new() or (timer is not None and timer.done())
        )
        if timer is not None and timer.done():
            self._timer, self._timer_at = None, None

    async def _wait_for_change_or_due_v1(self) -> None:
        """Before LEAN_COMMANDS_PATCH: a new timer for every wait, cancelled when a command arrives."""
        due = next_due(self._state)
        self._changed = False
        if due is not None:
            remaining = (due.at - workflow.now()).total_seconds()
            if remaining > 0:
                try:
                    await workflow.wait_condition(lambda: self._changed, timeout=remaining)
                    return
                except TimeoutError:
                    pass
            await self._fire(due)
        else:
            await workflow.wait_condition(lambda: self._changed or self._should_continue_as_new())

    def _arm_timer(self, at: datetime | None) -> None:
        """Keep one durable timer for the deal's next due moment; replace it only when that moment moves.

        Most commands leave the next due moment where it was, so they add no timer events to the history.
        """
        if at == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, None
        if at is not None:
            self._timer = asyncio.create_task(asyncio.sleep((at - workflow.now()).total_seconds()))
            self._timer_at = at

    async def _fire(self, due: Due) -> None:
        """The deal's clock is due: send the ladder step, or lapse the deal after long inactivity."""
        s = self._state
        step = due.step
        cid = f"timer:{s.stage}:{step or 'lapse'}:{s.seq}"
        command: Command
        if due.request_id is not None:
            # Partners (PARTNERS_PATCH): a request's answer ladder, or a commitment's expiry.
            if due.expiry:
                command = ExpireCommitment(
                    command_id=f"timer:expiry:{due.request_id}:{s.seq}", actor=TIMER, request_id=due.request_id
                )
            else:
                assert step is not None
                command = FirePartnerLadderStep(
                    command_id=f"timer:{due.request_id}:{step}:{s.seq}", actor=TIMER, request_id=due.request_id, step=step
                )
        elif step is None:
            assert s.last_activity_at is not None
            days = (workflow.now() - s.last_activity_at).days
            command = LapseDeal(command_id=cid, actor=TIMER, inactive_days=days)
        else:
            command = FireLadderStep(command_id=cid, actor=TIMER, step=step)
        try:
            await self._execute(command)
        except DomainError as e:
            # A command that was waiting on the lock may have moved the deal on (e.g. a new stage):
            # the timer is then simply stale.
            workflow.logger.info("timer no longer applies", extra={"code": e.code, "deal_id": s.deal_id})

    def _needs_matching(self) -> bool:
        s = self._state
        if s.stage != Stage.MATCHING or s.stage_entered_at == self._matched_for:
            return False
        if not workflow.patched(AUTO_MATCHING_PATCH):
            self._matched_for = s.stage_entered_at
            return False
        return True

    async def _propose_matches(self) -> None:
        """Ask the matching engine for this MATCHING entry's shortlist and record it, unless the broker got there first."""
        entered, before = self._state.stage_entered_at, self._state.candidates
        assert entered is not None and self._state.demand is not None
        self._matched_for = entered
        if self._durable_append and any(e.type == "CandidatesProposed" and e.occurred_at >= entered for e in self._events):
            # The broker proposed before the run loop got here (likelier now that each append is a server round
            # trip): their list stands. Before this patch the engine's shortlist replaced it.
            return
        try:
            shortlist = await workflow.execute_activity(
                MATCHING_PROPOSE,
                MatchRequest(deal_id=self._state.deal_id, demand=self._state.demand),
                result_type=ProposedShortlist,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=_MATCHING_RETRY,
            )
        except ActivityError as e:
            # The broker can always search and propose by hand; a failed engine must not stop the deal.
            workflow.logger.warning("matching failed; the broker proposes by hand", extra={"cause": str(e.cause)})
            return
        s = self._state
        if not shortlist.candidates or s.stage_entered_at != entered or s.candidates != before:
            return  # nothing found, or the deal moved on, or candidates were proposed meanwhile
        command = ProposeCandidates(
            command_id=f"matching:{entered.isoformat()}",
            actor=MATCHING,
            candidates=shortlist.candidates,
            source=f"matching {shortlist.index_version}",
        )

        # Under DURABLE_APPEND_PATCH the check is repeated once the command holds the deal's lock: a broker's
        # command that was appending meanwhile must not be overwritten by the engine's list.
        def stale(now: DealState) -> bool:
            return now.stage_entered_at != entered or now.candidates != before

        try:
            await self._execute(command, stale=stale if self._durable_append else None)
        except DomainError as e:
            workflow.logger.info("shortlist no longer applies", extra={"code": e.code, "deal_id": s.deal_id})

    # ------------------------------------------------------------------------------------- partners

    @workflow.signal(name=PARTNER_ANSWER_SIGNAL)
    def partner_answer(self, signal: PartnerAnswerSignal) -> None:
        """A partner's authenticated answer; recorded in arrival order by the run loop (a signal cannot be refused)."""
        self._inbox.append(signal.answer)

    async def _take_answer(self, answer: PartnerAnswer) -> None:
        if not workflow.patched(PARTNERS_PATCH):
            workflow.logger.warning("partner answer ignored by pre-partners code", extra={"answer_id": answer.answer_id})
            return
        command = RecordPartnerAnswer(command_id=f"answer:{answer.partner_id}:{answer.answer_id}", actor=PARTNER, answer=answer)
        try:
            await self._execute(command)
        except DomainError as e:
            # Duplicates, answers for requests already settled, or that came after the deal moved on: the
            # sender cannot be told (it was a signal), so the reason goes to the log, and nothing is recorded.
            workflow.logger.info(
                "partner answer not recorded",
                extra={"code": e.code, "reason": e.message, "answer_id": answer.answer_id, "request_id": answer.request_id},
            )

    def _start_deliveries(self) -> None:
        """Deliver every request not yet delivered, each in its own task, so a partner that is down blocks nothing."""
        pending = [
            r for r in self._state.partner_requests if r.status == RequestStatus.APPLIED and r.request_id not in self._deliveries
        ]
        if not pending or not workflow.patched(PARTNERS_PATCH):
            return
        for r in pending:
            self._deliveries[r.request_id] = asyncio.create_task(self._deliver(r))

    async def _deliver(self, r: PartnerRequest) -> None:
        s = self._state
        request = DeliveryRequest(
            deal_id=s.deal_id,
            request_id=r.request_id,
            partner_id=r.partner_id,
            kind=r.kind,
            amount_fen=r.amount_fen,
            instrument=r.instrument,
            expert_review=r.expert_review,
            contract=s.technology_contract if r.kind == PartnerKind.REGISTRATION_OFFICE else None,
        )
        command: RecordDelivery
        try:
            receipt = await workflow.execute_activity(
                PARTNERS_DELIVER,
                request,
                result_type=DeliveryReceipt,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=PARTNER_DELIVERY_WINDOW,
                retry_policy=_PARTNER_RETRY,
            )
            command = RecordDelivery(
                command_id=f"delivery:{r.request_id}",
                actor=PARTNER,
                request_id=r.request_id,
                partner_reference=receipt.partner_reference,
            )
        except ActivityError as e:
            cause = e.cause
            refused = isinstance(cause, ApplicationError) and cause.type == PARTNER_REFUSED
            status = cause.details[0] if refused and isinstance(cause, ApplicationError) and cause.details else None
            message = (
                cause.message if refused and isinstance(cause, ApplicationError) else f"合作方无法送达（已重试至期限）：{cause}"
            )
            command = RecordDelivery(
                command_id=f"delivery:{r.request_id}",
                actor=PARTNER,
                request_id=r.request_id,
                status_code=status if isinstance(status, int) else None,
                partner_message=message,
            )
        try:
            await self._execute(command)
        except DomainError as e:
            workflow.logger.info("delivery outcome not recorded", extra={"code": e.code, "request_id": r.request_id})
        finally:
            del self._deliveries[r.request_id]
            self._changed = True

    def _should_continue_as_new(self) -> bool:
        limit = self._input.max_events_per_run
        if limit and self._events_this_run >= limit:
            return True
        return workflow.info().is_continue_as_new_suggested()

    # ------------------------------------------------------------------------------------ commands

    @workflow.update(name=EXECUTE_UPDATE)
    async def execute(self, request: CommandRequest) -> Answer:
        await workflow.wait_condition(lambda: self._state.stage is not None)
        try:
            return await self._execute(request.command)
        except DomainError as e:
            # The deal moved between validation and execution (another command got there first).
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e

    @execute.validator
    def _validate(self, request: CommandRequest) -> None:
        if request.command.command_id in self._answers:
            return  # a retry: answered from memory, adds nothing
        state = self._state if self._state.stage is not None or self._opening is None else self._opening
        try:
            decide(state, request.command, Context(now=workflow.now()))
        except DomainError as e:
            raise ApplicationError(e.message, type=e.code, non_retryable=True) from e

    async def _execute(self, command: Command, *, stale: Callable[[DealState], bool] | None = None) -> Answer:
        async with self._lock:
            if command.command_id in self._answers:
                return self._answers[command.command_id]
            if stale is not None and stale(self._state):
                raise DomainError("stale", "命令已不适用：案件在等待期间已变化")
            before = self._state
            now = workflow.now()
            events = decide(before, command, Context(now=now))
            request = plan_request(before, events)
            plan: DeadlinePlan | None = None
            if request is not None:
                plan = await _activity(DEADLINES_PLAN, request, DeadlinePlan, timedelta(seconds=10), _PLAN_RETRY)
                events = decide(before, command, Context(now=now, plan=plan))
            answer_request = answer_plan_request(before, events)  # None for everything before PARTNERS_PATCH
            if answer_request is not None:
                answer_plan = await _activity(
                    PARTNERS_PLAN_ANSWER, answer_request, AnswerPlan, timedelta(seconds=10), _PLAN_RETRY
                )
                events = decide(before, command, Context(now=now, plan=plan, answer_plan=answer_plan))
            after = fold(events, before)
            summary = summarize(after)
            await self._append(after, events, summary)
            self._state = after
            self._events.extend(events)
            self._events_this_run += len(events)
            assert after.stage is not None
            answer = Answer(command_id=command.command_id, seq=after.seq, stage=after.stage, events=tuple(events))
            self._remember(answer)
            self._upsert_search_attributes(summary)
            self._changed = True
            return answer

    async def _append(self, after: DealState, events: list[Event], summary: DealSummary) -> None:
        requests, answers = partner_rows(after, events)  # empty for every deal without partner requests
        request = AppendRequest(
            deal_id=after.deal_id,
            events=tuple(events),
            summary=summary,
            notifications=tuple(notifications(after, events)),
            partner_requests=tuple(requests),
            partner_answers=tuple(answers),
        )
        try:
            if self._durable_append:
                await workflow.execute_activity(
                    ARCHIVE_APPEND, request, start_to_close_timeout=timedelta(seconds=30), retry_policy=_ARCHIVE_RETRY
                )
            else:
                await _activity(ARCHIVE_APPEND, request, None, timedelta(seconds=30), _ARCHIVE_RETRY)
        except (ActivityError, ApplicationError) as e:
            # An ordinary activity fails as ActivityError; a local one reaches the workflow as the bare
            # ApplicationError. Either way the deal must stop here, loudly, not answer on past its archive.
            cause = e.cause if isinstance(e, ActivityError) else e
            raise ArchiveMismatch(f"archive refused events {events[0].seq}..{events[-1].seq}: {cause}") from e

    def _remember(self, answer: Answer) -> None:
        self._answers[answer.command_id] = answer
        while len(self._answers) > ANSWERS_KEPT:
            del self._answers[next(iter(self._answers))]

    def _upsert_search_attributes(self, s: DealSummary) -> None:
        if not self._input.upsert_search_attributes:
            return
        values = (s.stage, s.broker_id, s.centre_id, s.industry_code, s.region_code, s.escalation_level, s.next_due_at)
        if _lean() and values == self._search_attributes:
            return  # unchanged: an upsert would only add a history event and a visibility write
        self._search_attributes = values
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.STAGE.value_set(s.stage.value),
            sa.BROKER.value_set(s.broker_id),
            sa.CENTRE.value_set(s.centre_id),
            sa.INDUSTRY.value_set(s.industry_code),
            sa.REGION.value_set(s.region_code),
            sa.ESCALATION_LEVEL.value_set(s.escalation_level),
            sa.NEXT_DUE.value_set(s.next_due_at) if s.next_due_at else sa.NEXT_DUE.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)

    # ------------------------------------------------------------------------------------- queries

    @workflow.query(name=STATE_QUERY)
    def state(self) -> DealState:
        return self._state

    @workflow.query(name=EVENTS_QUERY)
    def events(self, request: EventsRequest) -> EventsPage:
        first = self._events[0].seq if self._events else self._state.seq + 1
        return EventsPage(events=tuple(e for e in self._events if e.seq > request.since_seq), first_held_seq=first)

    @workflow.query(name=ALLOWED_QUERY)
    def allowed(self, request: AllowedRequest) -> list[str]:
        return allowed_commands(self._state, request.actor)
