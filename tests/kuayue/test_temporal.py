"""The Temporal connection, the workflow sandbox, and search-attribute registration on both test servers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from kuayue.devserver import find_executable
from kuayue.temporal import (
    SearchAttributeConflict,
    client_options,
    connect,
    register_search_attributes,
    sandbox_runner,
)
from workflows.search_attributes import ALL, ESCALATION_LEVEL, NEXT_DUE, STAGE


class Milestone(BaseModel):
    name: str
    due: datetime
    tags: tuple[str, ...] = ()


@workflow.defn
class PostponeMilestone:
    """Takes and returns a pydantic model with a datetime, which must survive the sandbox and the converter."""

    @workflow.run
    async def run(self, milestone: Milestone) -> Milestone:
        return milestone.model_copy(update={"due": milestone.due + timedelta(days=1), "tags": ("moved",)})


@workflow.defn
class MarkStage:
    """Sets every kind of Kuayue search attribute, as the deal workflow does."""

    @workflow.run
    async def run(self) -> str:
        workflow.upsert_search_attributes(
            [STAGE.value_set("MATCHING"), NEXT_DUE.value_set(workflow.now()), ESCALATION_LEVEL.value_set(1)]
        )
        return workflow.info().typed_search_attributes.get(STAGE) or ""


def target_of(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


async def test_connect_honours_temporal_address_and_namespace(
    temporal_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", target_of(temporal_env))
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "default")
    client = await connect()
    assert client.service_client.config.target_host == target_of(temporal_env)
    assert client.namespace == "default"
    assert client.data_converter is temporal_env.client.data_converter  # the pydantic converter

    # A namespace that does not exist shows up on the first call, with the server's own message.
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "no-such-namespace")
    elsewhere = await connect()
    assert elsewhere.namespace == "no-such-namespace"
    with pytest.raises(Exception, match="no-such-namespace"):
        await elsewhere.start_workflow("Anything", id="x", task_queue="q")


async def test_pydantic_models_cross_the_sandbox(temporal_env: WorkflowEnvironment, task_queue: str) -> None:
    milestone = Milestone(name="roadshow", due=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    async with Worker(
        temporal_env.client, task_queue=task_queue, workflows=[PostponeMilestone], workflow_runner=sandbox_runner()
    ):
        moved = await temporal_env.client.execute_workflow(
            PostponeMilestone.run, milestone, id=f"wf-{uuid.uuid4()}", task_queue=task_queue
        )
    assert moved == Milestone(name="roadshow", due=datetime(2026, 3, 3, 9, 30, tzinfo=UTC), tags=("moved",))


async def test_registering_is_idempotent_and_refuses_a_type_change(temporal_env: WorkflowEnvironment) -> None:
    assert await register_search_attributes(temporal_env.client, ALL) == []  # start_local registered them
    extra = SearchAttributeKey.for_keyword(f"KuayueTest{uuid.uuid4().hex[:8]}")
    assert await register_search_attributes(temporal_env.client, [*ALL, extra]) == [extra.name]
    with pytest.raises(SearchAttributeConflict, match=r"KuayueStage.*KEYWORD.*INT"):
        await register_search_attributes(temporal_env.client, [SearchAttributeKey.for_int("KuayueStage")])


async def test_search_attributes_work_on_the_time_skipping_server_once_registered(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    # The fixture registered them; registering again must not fail even though this server cannot list them.
    assert await register_search_attributes(time_skipping_env.client, ALL) == []
    async with Worker(time_skipping_env.client, task_queue=task_queue, workflows=[MarkStage]):
        handle = await time_skipping_env.client.start_workflow(MarkStage.run, id=f"deal-{uuid.uuid4()}", task_queue=task_queue)
        assert await handle.result() == "MATCHING"
        assert (await handle.describe()).typed_search_attributes.get(ESCALATION_LEVEL) == 1


async def test_an_unregistered_search_attribute_on_the_time_skipping_server_hangs_the_workflow() -> None:
    """Why `time_skipping_env` registers Kuayue's attributes: this is what happens without them."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_executable("temporal-test-server")), **client_options()
    ) as bare:
        queue = f"bare-{uuid.uuid4()}"
        async with Worker(bare.client, task_queue=queue, workflows=[MarkStage]):
            handle = await bare.client.start_workflow(MarkStage.run, id=f"deal-{uuid.uuid4()}", task_queue=queue)
            cause = await asyncio.wait_for(first_workflow_task_failure(handle), timeout=30)
            await handle.terminate()
    assert cause == WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES


async def first_workflow_task_failure(handle: WorkflowHandle[Any, Any]) -> int:
    while True:
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_task_failed_event_attributes"):
                return int(event.workflow_task_failed_event_attributes.cause)
        await asyncio.sleep(0.2)


async def test_connect_lets_arguments_override_the_environment(temporal_env: WorkflowEnvironment) -> None:
    client: Client = await connect(target_host=target_of(temporal_env), namespace="default", identity="kuayue-test")
    assert client.identity == "kuayue-test"
    assert client.service_client.config.target_host == target_of(temporal_env)
