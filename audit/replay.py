"""Replay a deal's runs with today's workflow code, capturing the events the replay archives.

One pass serves both questions of the auditor: does the code still reproduce the history
(Temporal's `Replayer` raises a non-determinism error where it diverges), and which domain events
does the history produce (an outbound interceptor records each `archive.append` the workflow makes
and that completed, which covers commands, timers and the opening alike, for ordinary activities
(v1 histories) and local activities (v2) alike).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle

from domain.events import Event
from domain.projection import AppendRequest
from kuayue.temporal import sandbox_runner
from workflows.deal import ARCHIVE_APPEND, DealWorkflow


@dataclass
class RunReplay:
    """One run replayed: whether today's code reproduces it, where not, and the events it archived."""

    workflow_id: str
    run_id: str
    failure: str | None
    events: list[Event] = field(default_factory=list)

    @property
    def replays(self) -> bool:
        return self.failure is None


class _AppendCapture(Interceptor):
    """Collects the events of every completed `archive.append` the workflow code issues."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput) -> type[WorkflowInboundInterceptor]:
        capture = self

        class Outbound(WorkflowOutboundInterceptor):
            def start_activity(self, input: StartActivityInput) -> ActivityHandle[Any]:
                return capture.watch(input.activity, input.args, super().start_activity(input))

            def start_local_activity(self, input: StartLocalActivityInput) -> ActivityHandle[Any]:
                return capture.watch(input.activity, input.args, super().start_local_activity(input))

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

        return Inbound

    def watch(self, activity: str, args: Sequence[Any], handle: ActivityHandle[Any]) -> ActivityHandle[Any]:
        if activity == ARCHIVE_APPEND and args and isinstance(args[0], AppendRequest):
            request: AppendRequest = args[0]

            def done(task: ActivityHandle[Any]) -> None:
                # Only an append that succeeded put its events in the archive.
                if not task.cancelled() and task.exception() is None:
                    self.events.extend(request.events)

            handle.add_done_callback(done)
        return handle


class DealReplayer:
    """A reusable replayer of DealWorkflow histories with the production sandbox and data converter."""

    def __init__(self) -> None:
        self._capture = _AppendCapture()
        self._replayer = Replayer(
            workflows=[DealWorkflow],
            workflow_runner=sandbox_runner(),
            data_converter=pydantic_data_converter,
            interceptors=[self._capture],
        )

    async def replay(self, histories: Sequence[WorkflowHistory]) -> list[RunReplay]:
        """Replay the histories in order (one worker for all of them); one result per history."""

        async def each() -> AsyncIterator[WorkflowHistory]:
            for history in histories:
                yield history

        results: list[RunReplay] = []
        self._capture.take()
        async with self._replayer.workflow_replay_iterator(each()) as replayed:
            async for result in replayed:
                failure = None if result.replay_failure is None else _describe(result.replay_failure)
                history = result.history
                results.append(RunReplay(history.workflow_id, history.run_id, failure, self._capture.take()))
        return results


def _describe(failure: Exception) -> str:
    return f"{type(failure).__name__}: {failure}"
