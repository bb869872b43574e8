"""The embedded dev server: start, search attributes, clean stop, restart on the same file, and its errors."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kuayue.devserver import (
    SEARCH_ATTRIBUTE_TYPE_NAMES,
    DevServerError,
    DevServerOptions,
    dynamic_config_args,
    find_executable,
    start_dev_server,
)
from kuayue.temporal import connect
from workflows.search_attributes import ALL, STAGE

with workflow.unsafe.imports_passed_through():  # the sandbox re-imports this module for its workflows
    import httpx


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"你好, {name}"


@activity.defn
async def shout(name: str) -> str:
    return name.upper()


@workflow.defn
class GreetLoudly:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(shout, name, start_to_close_timeout=timedelta(seconds=10))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def registered(client: Client) -> dict[str, str]:
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    return {name: IndexedValueType.Name(kind) for name, kind in listed.custom_attributes.items()}


def test_every_deal_search_attribute_has_a_cli_type_name() -> None:
    command = DevServerOptions(db_filename=Path("t.db"), ui_port=None).command(Path("temporal"))
    assert "--headless" in command and "--db-filename" in command
    flags = [command[i + 1] for i, arg in enumerate(command) if arg == "--search-attribute"]
    assert flags == [f"{key.name}={SEARCH_ATTRIBUTE_TYPE_NAMES[key.indexed_value_type]}" for key in ALL]
    assert "KuayueNextDue=Datetime" in flags and "KuayueEscalationLevel=Int" in flags


def test_the_server_gets_kuayues_settings_and_its_file_a_write_ahead_log() -> None:
    on_file = DevServerOptions(db_filename=Path("t.db"), ui_port=None).command(Path("temporal"))
    assert dynamic_config_args() == [
        "--dynamic-config-value",
        "history.transferProcessorMaxPollRPS=1000",
        "--dynamic-config-value",
        "system.enableActivityEagerExecution=true",
    ]
    assert ",".join(dynamic_config_args()) in ",".join(on_file)
    pragmas = [on_file[i + 1] for i, arg in enumerate(on_file) if arg == "--sqlite-pragma"]
    assert pragmas == ["journal_mode=wal", "synchronous=full"]
    in_memory = DevServerOptions(db_filename=None, ui_port=None).command(Path("temporal"))
    assert "--sqlite-pragma" not in in_memory and ",".join(dynamic_config_args()) in ",".join(in_memory)


async def test_the_embedded_server_runs_an_activity_eagerly_and_logs_ahead_to_its_file(tmp_path: Path) -> None:
    metrics_port = free_port()
    options = DevServerOptions(
        db_filename=tmp_path / "temporal.db", port=free_port(), ui_port=None, extra_args=["--metrics-port", str(metrics_port)]
    )
    async with await start_dev_server(options) as server:
        client = await connect(target_host=server.address)
        async with Worker(client, task_queue="loud", workflows=[GreetLoudly], activities=[shout]):
            assert await client.execute_workflow(GreetLoudly.run, "kuayue", id="loud-1", task_queue="loud") == "KUAYUE"
        # Counted by the server when it hands an activity back in the workflow task's answer, not via the queue.
        assert await eager_executions(metrics_port, "loud") == 1, "the activity went through the task queue"
        with contextlib.closing(sqlite3.connect(tmp_path / "temporal.db")) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_workflows_and_search_attributes_survive_a_restart_on_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "temporal.db"
    # The first run knows only one attribute; the second must add the rest although the file already exists
    # (the CLI ignores --search-attribute then).
    first = DevServerOptions(db_filename=db, port=free_port(), ui_port=None, search_attributes=[STAGE])
    server = await start_dev_server(first)
    try:
        client = await connect(target_host=server.address)
        assert (await registered(client)).get("KuayueStage") == "INDEXED_VALUE_TYPE_KEYWORD"
        async with Worker(client, task_queue="greetings", workflows=[Greet]):
            assert await client.execute_workflow(Greet.run, "跨越", id="greet-1", task_queue="greetings") == "你好, 跨越"
    finally:
        await server.stop()
    assert server.process is not None and server.process.returncode == 0  # stopped by SIGTERM, not killed
    assert not port_is_open(first.port)

    again = await start_dev_server(DevServerOptions(db_filename=db, port=free_port(), ui_port=None))
    async with again:
        client = await connect(target_host=again.address)
        assert {key.name for key in ALL} <= set(await registered(client))
        described = await client.get_workflow_handle("greet-1").describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
        assert [w.id async for w in client.list_workflows("WorkflowId = 'greet-1'")] == ["greet-1"]


async def test_a_server_already_answering_on_the_port_is_used_and_left_running(
    temporal_env: WorkflowEnvironment,
) -> None:
    host, _, port = temporal_env.client.service_client.config.target_host.rpartition(":")
    async with await start_dev_server(DevServerOptions(db_filename=None, ip=host, port=int(port))) as server:
        assert server.reused and server.process is None and server.ui_url is None
    # Still serving: stopping a server we did not start leaves it alone.
    await temporal_env.client.workflow_service.get_system_info(GetSystemInfoRequest())


@pytest.fixture
async def not_temporal_port() -> AsyncIterator[int]:
    """A port where something answers TCP but is no Temporal server."""

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with listener:
        yield listener.sockets[0].getsockname()[1]


async def test_a_port_taken_by_something_else_is_reported_as_such(not_temporal_port: int) -> None:
    with pytest.raises(DevServerError, match=rf"port {not_temporal_port} .* in use, but not by a Temporal server"):
        await start_dev_server(DevServerOptions(db_filename=None, port=not_temporal_port, ui_port=None))


async def test_a_server_that_dies_while_starting_shows_its_output(tmp_path: Path) -> None:
    options = DevServerOptions(db_filename=tmp_path / "t.db", port=free_port(), extra_args=["--no-such-flag"])
    with pytest.raises(DevServerError, match=r"(?s)exited with code \d+.*unknown flag: --no-such-flag"):
        await start_dev_server(options)


def test_a_missing_binary_says_where_it_looked() -> None:
    with pytest.raises(DevServerError, match=r"'kuayue-no-such-binary'.*scripts/setup"):
        find_executable("kuayue-no-such-binary")


async def eager_executions(metrics_port: int, task_queue: str, wait: float = 10.0) -> int:
    """The server's count of activities it dispatched eagerly on `task_queue`, once its metrics show any (they are
    flushed to the endpoint periodically, so a count read at once can still be 0)."""
    pattern = re.compile(rf'^activity_eager_execution\{{[^}}]*taskqueue="{task_queue}"[^}}]*\}} (\d+)', re.MULTILINE)
    count = 0
    async with httpx.AsyncClient() as http:
        for _ in range(int(wait / 0.2)):
            found = pattern.search((await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text)
            count = int(found.group(1)) if found else 0
            if count:
                break
            await asyncio.sleep(0.2)
    return count


def port_is_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
