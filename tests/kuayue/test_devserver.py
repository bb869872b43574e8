"""The embedded dev server: start, search attributes, clean stop, restart on the same file, and its errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import workflow
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
    find_executable,
    start_dev_server,
)
from kuayue.temporal import connect
from workflows.search_attributes import ALL, STAGE


@workflow.defn
class Greet:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"你好, {name}"


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


def port_is_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
