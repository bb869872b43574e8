"""Replay a deal's runs with today's workflow code, capturing the events the replay archives.

One pass serves both questions of the auditor: does the code still reproduce the history
(Temporal's `Replayer` raises a non-determinism error where it diverges), and which domain events
does the history produce (an outbound interceptor records each `archive.append` the workflow makes
and that completed, which covers commands, timers and the opening alike, for ordinary activities
(v1 histories) and local activities (v2) alike).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.worker import (
    Interceptor,
    Replayer,
    StartActivityInput,
    StartLocalActivityInput,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.workflow import ActivityHandle

from domain.events import Event
from domain.projection import AppendRequest
from kuayue.temporal import sandbox_runner, skipping_noop_payload_passes
from workflows.deal import ARCHIVE_APPEND, DealWorkflow


@dataclass
class RunReplay:
    """One run replayed: whether today's code reproduces it, where not, and the events it archived."""

    workflow_id: str
    run_id: str
    failure: str | None
    events: list[Event] = field(default_factory=list)
    heads: list[RecordedHead] = field(default_factory=list)

    @property
    def replays(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class RecordedHead:
    """What an `archive.append` answered, as the workflow history recorded it: the archive's head after it."""

    seq: int
    hash: str


class _AppendCapture(Interceptor):
    """Collects the events of every completed `archive.append` the workflow code issues, and what it answered."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.heads: list[RecordedHead] = []

    def take(self) -> tuple[list[Event], list[RecordedHead]]:
        taken = self.events, self.heads
        self.events, self.heads = [], []
        return taken

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
                    # The workflow asks for no result type, so the recorded AppendResult arrives as a dict.
                    answer = task.result()
                    if isinstance(answer, dict) and isinstance(answer.get("last_hash"), str):
                        self.heads.append(RecordedHead(int(answer["last_seq"]), answer["last_hash"]))

            handle.add_done_callback(done)
        return handle


_T = TypeVar("_T")


class _SharedPydanticPayloadConverter(PydanticPayloadConverter):
    """Temporal's pydantic payload converter, constructed once however often the SDK asks for one.

    The SDK builds a data converter, hence a payload converter, for every workflow activation, and a new pydantic
    converter starts with an empty type-adapter cache, so each activation rebuilt the adapters of the types it
    decodes (4–5 per history). Sharing one instance converts exactly as before and keeps the cache (bounded by
    the converter's own LRU limit).
    """

    _shared: ClassVar[_SharedPydanticPayloadConverter | None] = None
    _ready: bool = False

    def __new__(cls) -> _SharedPydanticPayloadConverter:
        if cls._shared is None:
            cls._shared = super().__new__(cls)
        return cls._shared

    def __init__(self) -> None:
        if not self._ready:
            super().__init__()
            self._ready = True


# pydantic_data_converter, with the shared payload converter above.
_REPLAY_CONVERTER = dataclasses.replace(pydantic_data_converter, payload_converter_class=_SharedPydanticPayloadConverter)

# A fixed build id: the SDK's default hashes the code of every loaded module, which costs seconds here
# (no bytecode caches) and says nothing an auditor needs; the replay uses whatever code is loaded.
_BUILD_ID = "kuayue-audit-replay"


class _InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs each workflow activation on the replaying thread instead of handing it to a pool thread.

    A replay is CPU-bound and one history is replayed at a time, so the pool's two thread switches per
    activation are pure cost. The activation runs from a fresh loop callback (not inside the SDK task
    that asked for it), as the SDK's own inline debug mode does, and the running loop is restored after
    it, because the workflow's own event loop unsets it on exit. What the sandbox checks is unchanged.
    (A ThreadPoolExecutor only because the SDK's signature asks for one; it never starts a thread.)
    """

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the awaiting SDK code, which decides
                future.set_exception(exc)
            finally:
                asyncio._set_running_loop(loop)

        loop.call_soon(run)
        return future


def lean_replayer(
    workflows: Sequence[type], *, sandboxed: bool, interceptors: Sequence[Interceptor] = ()
) -> Replayer:
    """Temporal's Replayer as Kuayue's audit uses it: production converter, inline activations, a fixed build id."""
    return Replayer(
        workflows=list(workflows),
        workflow_runner=sandbox_runner() if sandboxed else UnsandboxedWorkflowRunner(),
        data_converter=_REPLAY_CONVERTER,
        interceptors=list(interceptors),
        workflow_task_executor=_InlineExecutor(),
        build_id=_BUILD_ID,
    )


class DealReplayer:
    """A reusable replayer of DealWorkflow histories with the production data converter (pydantic).

    `sandboxed=True` (the default) replays in the worker's own sandbox (`kuayue.temporal.sandbox_runner`),
    so a call today's code makes that the worker would refuse is reported too. `sandboxed=False` skips
    the sandbox's per-call checks (≈ 40 % of the time; `bench/audit.py`): the commands compared with the
    history, hence divergences and re-derived events, are the same; only the check that the code calls
    nothing non-deterministic is left to CI, which replays every recorded history in the sandbox.
    `skip_noop_payload_passes=False` keeps the SDK's payload passes (see `kuayue.temporal._without_noop_payload_passes`).
    """

    def __init__(self, *, sandboxed: bool = True, skip_noop_payload_passes: bool = True) -> None:
        self._capture = _AppendCapture()
        self._skip_noop_payload_passes = skip_noop_payload_passes
        self._replayer = lean_replayer([DealWorkflow], sandboxed=sandboxed, interceptors=[self._capture])

    async def replay(self, histories: Sequence[WorkflowHistory]) -> list[RunReplay]:
        """Replay the histories in order (one worker for all of them); one result per history."""
        return [result async for result in self.replay_stream(histories)]

    async def replay_stream(
        self, histories: Iterable[WorkflowHistory] | AsyncIterable[WorkflowHistory]
    ) -> AsyncIterator[RunReplay]:
        """Replay histories as they come, one worker for all of them; yields each result as soon as it is known.

        The histories may be produced lazily (read from the store in batches), so a long run over the archive
        holds one batch at a time.
        """

        async def each() -> AsyncIterator[WorkflowHistory]:
            if isinstance(histories, AsyncIterable):
                async for history in histories:
                    yield history
            else:
                for history in histories:
                    yield history

        self._capture.take()
        async with contextlib.AsyncExitStack() as stack:
            # Only the replayer's worker task (created on entering) must see the flag, not our caller between yields.
            with skipping_noop_payload_passes(self._skip_noop_payload_passes):
                replayed = await stack.enter_async_context(self._replayer.workflow_replay_iterator(each()))
            async for result in replayed:
                failure = None if result.replay_failure is None else _describe(result.replay_failure)
                history = result.history
                events, heads = self._capture.take()
                yield RunReplay(history.workflow_id, history.run_id, failure, events, heads)


def _describe(failure: Exception) -> str:
    return f"{type(failure).__name__}: {failure}"
