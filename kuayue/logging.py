"""Structured logging: structlog configuration, a Temporal interceptor that binds the deal to every line, and a
replay-safe logger for workflow code.

Every log line, ours and the standard library's (Temporal's SDK, SQLAlchemy, uvicorn), goes through one handler on
the root logger and comes out either as a JSON object per line or as a readable console line.

Inside workflows use `workflow_logger()`. It works in the sandbox only if `structlog` and `kuayue.logging` are
passed through (`kuayue.temporal.sandbox_runner()` does that): a module re-imported inside the sandbox would get a
fresh, unconfigured structlog and its own contextvars, so its lines would bypass this configuration.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
import temporalio.activity
import temporalio.client
import temporalio.worker
import temporalio.workflow
from structlog.contextvars import bind_contextvars, bound_contextvars
from structlog.typing import EventDict, Processor, WrappedLogger

from kuayue.settings import LogFormat

DEAL_WORKFLOW_ID_PREFIX = "deal-"

_HANDLER_NAME = "kuayue"


def configure_logging(log_format: LogFormat = "console", level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Send every log line (structlog's and the standard library's) to `stream` (stderr) in `log_format`."""
    shared: list[Processor] = [
        _drop_during_workflow_replay,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Processor
    if log_format == "json":
        # One object per line with the traceback as a string field, so a collector never splits an event.
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
        final: list[Processor] = [structlog.processors.format_exc_info, renderer]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=(stream or sys.stderr).isatty())]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: tests reconfigure structlog, and module-level loggers must follow.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # Replace only our own handler, so configuring twice (CLI, then a test) never prints each line twice.
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries that narrate routine work at INFO (every migration check at worker start) speak only when it matters.
    for noisy in _QUIET_LIBRARIES:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


_QUIET_LIBRARIES = ("alembic",)


def deal_id_from_workflow_id(workflow_id: str) -> str | None:
    """The deal id in a deal workflow's id (`deal-<deal id>`), or None for any other workflow."""
    if workflow_id.startswith(DEAL_WORKFLOW_ID_PREFIX):
        return workflow_id[len(DEAL_WORKFLOW_ID_PREFIX) :]
    return None


def workflow_logger(**initial: Any) -> WorkflowLogger:
    """A logger for workflow code, bound to the running workflow's deal and ids and silent during replays.

    Call it inside workflow code (not at import time). It is replay-safe whether or not `configure_logging` ran;
    other structlog loggers in workflow code become replay-safe once it did.
    """
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger("kuayue.workflow")
    return WorkflowLogger(logger.bind(**_workflow_fields(temporalio.workflow.info()), **initial))


class WorkflowLogger:
    """Logs like a structlog logger, except while the workflow replays history it already logged."""

    def __init__(self, logger: structlog.stdlib.BoundLogger) -> None:
        self._logger = logger

    def bind(self, **fields: Any) -> WorkflowLogger:
        return WorkflowLogger(self._logger.bind(**fields))

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, fields)

    def _log(self, level: int, event: str, fields: dict[str, Any]) -> None:
        if not temporalio.workflow.unsafe.is_replaying_history_events():
            self._logger.log(level, event, **fields)


def _drop_during_workflow_replay(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    # A replay re-runs workflow code that already logged when it first ran; logging again would repeat every line.
    # Queries and update validators are live even during replay, hence "history events" and not `is_replaying()`.
    if temporalio.workflow.in_workflow() and temporalio.workflow.unsafe.is_replaying_history_events():
        raise structlog.DropEvent
    return event_dict


def _workflow_fields(info: temporalio.workflow.Info) -> dict[str, Any]:
    # A child workflow (an open call, a roadshow) belongs to the deal at the root of its tree.
    deal_workflow_id = info.root.workflow_id if info.root else info.workflow_id
    return _with_deal(
        deal_workflow_id, {"workflow_id": info.workflow_id, "run_id": info.run_id, "workflow_type": info.workflow_type}
    )


def _activity_fields(info: temporalio.activity.Info) -> dict[str, Any]:
    return _with_deal(
        info.workflow_id,
        {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity_type": info.activity_type,
            "activity_id": info.activity_id,
            "attempt": info.attempt,
        },
    )


def _with_deal(workflow_id: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    deal_id = deal_id_from_workflow_id(workflow_id) if workflow_id else None
    return {"deal_id": deal_id, **fields} if deal_id else dict(fields)


class LoggingInterceptor(temporalio.client.Interceptor, temporalio.worker.Interceptor):
    """Binds deal_id, workflow_id, run_id (and the activity type) to every line logged while handling a task.

    Pass it to `Client.connect(interceptors=...)`: a worker built on that client uses it too.
    """

    def intercept_client(self, next: temporalio.client.OutboundInterceptor) -> temporalio.client.OutboundInterceptor:
        return _ClientLogging(next)

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityLogging(next)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor]:
        return _WorkflowLogging


class _ActivityLogging(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        # Each activity runs in its own asyncio task (and the SDK copies the context into a sync activity's
        # thread), so the binding covers exactly this attempt and is undone when it ends.
        with bound_contextvars(**_activity_fields(temporalio.activity.info())):
            return await self.next.execute_activity(input)


class _WorkflowLogging(temporalio.worker.WorkflowInboundInterceptor):
    # The workflow run and every signal, query and update handler run in asyncio tasks of their own, each with a
    # copy of the context: binding without resetting stays inside that task. A reset would be wrong here, since an
    # evicted workflow's coroutine is closed from another context and the reset token would not match.

    async def execute_workflow(self, input: temporalio.worker.ExecuteWorkflowInput) -> Any:
        bind_contextvars(**_workflow_fields(temporalio.workflow.info()))
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: temporalio.worker.HandleSignalInput) -> None:
        bind_contextvars(**_workflow_fields(temporalio.workflow.info()), signal=input.signal)
        await self.next.handle_signal(input)

    async def handle_query(self, input: temporalio.worker.HandleQueryInput) -> Any:
        bind_contextvars(**_workflow_fields(temporalio.workflow.info()), query=input.query)
        return await self.next.handle_query(input)

    def handle_update_validator(self, input: temporalio.worker.HandleUpdateInput) -> None:
        bind_contextvars(**_workflow_fields(temporalio.workflow.info()), update=input.update, update_id=input.id)
        self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        bind_contextvars(**_workflow_fields(temporalio.workflow.info()), update=input.update, update_id=input.id)
        return await self.next.handle_update_handler(input)


_client_log = structlog.stdlib.get_logger("kuayue.temporal.client")


class _ClientLogging(temporalio.client.OutboundInterceptor):
    # Client calls run in the caller's task (a web request, the starter), so the binding is scoped and reset.

    async def start_workflow(self, input: temporalio.client.StartWorkflowInput) -> temporalio.client.WorkflowHandle[Any, Any]:
        with bound_contextvars(**_with_deal(input.id, {"workflow_id": input.id})):
            handle = await self.next.start_workflow(input)
            _client_log.debug("workflow started", workflow_type=input.workflow, run_id=handle.first_execution_run_id)
            return handle

    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        with bound_contextvars(**_with_deal(input.id, {"workflow_id": input.id})):
            _client_log.debug("signalling workflow", signal=input.signal)
            await self.next.signal_workflow(input)

    async def start_workflow_update(
        self, input: temporalio.client.StartWorkflowUpdateInput
    ) -> temporalio.client.WorkflowUpdateHandle[Any]:
        with bound_contextvars(**_with_deal(input.id, {"workflow_id": input.id})):
            _client_log.debug("sending update", update=input.update, update_id=input.update_id)
            return await self.next.start_workflow_update(input)
