"""DealWorkflow on a real Temporal dev server with the real archive: lifecycle, guards, idempotency."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus

import starter
from domain.actors import Actor, Role
from domain.commands import (
    AgreeTerms,
    ExtendDeadline,
    RegisterContract,
    ShortlistCandidate,
    SignContract,
    ValidateDemand,
    WithdrawDeal,
)
from domain.decider import fold
from domain.projection import AppendRequest
from domain.stages import Stage
from domain.state import DealState
from examples.lifecycle import broker_actor, lifecycle
from tests.factories import AUDITOR, EXAMPLE_FILES, PARTNER, contract, terms
from tests.workflows.conftest import Kuayue
from workflows.messages import DealOutcome, workflow_id

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
async def test_example_deal_lifecycle_with_archive_and_read_model_after_each_step(kuayue: Kuayue, path) -> None:  # type: ignore[no-untyped-def]
    cmd, handle = await kuayue.open(path)
    deal = cmd.deal_id
    archived = kuayue.archive(deal)
    assert [e.type for e in archived] == ["DealOpened", "StageEntered"]
    row = kuayue.row(deal)
    assert row is not None and row.stage == Stage.DEMAND_MINING and row.stage_due_at is not None
    for command in lifecycle(cmd):
        answer = await kuayue.act(deal, command)
        archived = kuayue.archive(deal)
        assert archived[-len(answer.events) :] == list(answer.events)  # the broker's answer is already archived
        assert [e.seq for e in archived] == list(range(1, answer.seq + 1))
        row = kuayue.row(deal)
        assert row is not None and row.stage == answer.stage and row.last_seq == answer.seq
    assert row.stage == Stage.SIGNED and row.contract_value_fen == cmd.demand.budget.min_fen
    outcome = await handle.result()
    assert outcome.stage == Stage.SIGNED and outcome.seq == len(archived)
    state = await starter.deal_state(kuayue.client, deal)
    assert fold(archived) == state  # the archive folds to exactly the workflow's state


async def test_rejected_commands_answer_with_code_and_message_and_change_nothing(kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(FUZHOU)
    deal, broker = cmd.deal_id, broker_actor(cmd)
    before_len, before_archive = await kuayue.history_length(deal), kuayue.archive(deal)
    cases = [
        (AgreeTerms(command_id="t", actor=broker, terms=terms()), "wrong_stage", "经纪服务"),
        (SignContract(command_id="s", actor=broker, contract=contract()), "wrong_stage", "签约"),
        (ValidateDemand(command_id="a", actor=AUDITOR), "forbidden", "审计员为只读角色"),
        (ValidateDemand(command_id="x", actor=Actor(id="intruder", role=Role.BROKER, centre_id="hub")), "forbidden", "王磊"),
        (ExtendDeadline(command_id="e", actor=broker, working_days=5, reason="r"), "forbidden", "中心管理员"),
        (RegisterContract(command_id="r", actor=PARTNER, registration_number="X"), "wrong_stage", "签约"),
        (ShortlistCandidate(command_id="c", actor=broker, achievement_id="ACH-1"), "wrong_stage", "技术匹配"),
    ]
    for command, code, words in cases:
        with pytest.raises(starter.CommandRejected) as info:
            await kuayue.act(deal, command)
        assert info.value.code == code and words in info.value.message
    assert await kuayue.history_length(deal) == before_len
    assert kuayue.archive(deal) == before_archive


async def test_a_bad_payload_is_refused_field_by_field_before_reaching_the_deal(kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(FUZHOU)
    with pytest.raises(starter.CommandRejected) as info:
        starter.parse_command("AgreeTerms", {"terms": {"transfer_mode": "赠与", "price_fen": -5}}, broker_actor(cmd))
    assert info.value.code == "invalid_command"
    assert "terms.transfer_mode" in info.value.message and "terms.price_fen" in info.value.message


async def test_a_repeated_command_id_returns_the_first_answer_and_adds_nothing(kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(FUZHOU)
    command = ValidateDemand(command_id=f"v-{uuid.uuid4()}", actor=broker_actor(cmd))
    first = await kuayue.act(cmd.deal_id, command)
    archived = kuayue.archive(cmd.deal_id)
    again = await kuayue.act(cmd.deal_id, command)
    assert again == first
    assert kuayue.archive(cmd.deal_id) == archived


async def test_concurrent_commands_are_applied_one_at_a_time(kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(FUZHOU)
    broker = broker_actor(cmd)
    results = await asyncio.gather(
        *(kuayue.act(cmd.deal_id, ValidateDemand(command_id=f"v{i}", actor=broker)) for i in range(5)),
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, starter.CommandRejected)]
    assert len(accepted) == 1 and len(refused) == 4
    assert all(r.code == "wrong_stage" for r in refused)
    assert [e.type for e in kuayue.archive(cmd.deal_id)].count("DemandValidated") == 1


async def test_a_second_deal_with_the_same_id_is_refused_naming_the_existing_one(kuayue: Kuayue) -> None:
    cmd, handle = await kuayue.open(FUZHOU)
    with pytest.raises(starter.CommandRejected) as info:
        await starter.start_deal(kuayue.client, cmd, kuayue.task_queue)
    assert info.value.code == "deal_exists"
    assert workflow_id(cmd.deal_id) in info.value.message and handle.result_run_id in info.value.message  # type: ignore[operator]


async def test_commands_after_the_deal_closed_are_refused_clearly(kuayue: Kuayue) -> None:
    cmd, handle = await kuayue.open(FUZHOU)
    broker = broker_actor(cmd)
    await kuayue.act(cmd.deal_id, WithdrawDeal(command_id="w", actor=broker, reason="企业战略调整"))
    await handle.result()
    with pytest.raises(starter.CommandRejected) as info:
        await kuayue.act(cmd.deal_id, ValidateDemand(command_id="v", actor=broker))
    assert info.value.code == "deal_closed" and "WITHDRAWN" in info.value.message


async def test_search_attributes_find_deals_by_stage(kuayue: Kuayue) -> None:
    cmd, _ = await kuayue.open(FUZHOU)
    await kuayue.act(cmd.deal_id, ValidateDemand(command_id="v", actor=broker_actor(cmd)))
    query = f"WorkflowId = '{workflow_id(cmd.deal_id)}'"
    for _ in range(100):  # visibility is eventually consistent
        found = [d async for d in starter.list_deals(kuayue.client, stage="MATCHING", query=query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found and found[0]["KuayueBroker"] == cmd.broker.broker_id
    assert found[0]["KuayueCentre"] == "hub" and found[0]["KuayueRegion"] == "361000"
    assert found[0]["KuayueIndustry"] == "C3425" and found[0]["KuayueEscalationLevel"] == 0


async def test_continue_as_new_mid_deal_loses_nothing(kuayue: Kuayue) -> None:
    kuayue.max_events_per_run = 3
    cmd, handle = await kuayue.open(FUZHOU)
    for command in lifecycle(cmd):
        await kuayue.act(cmd.deal_id, command)
    outcome = await kuayue.client.get_workflow_handle(workflow_id(cmd.deal_id), result_type=DealOutcome).result()
    archived = kuayue.archive(cmd.deal_id)
    assert outcome.stage == Stage.SIGNED and [e.seq for e in archived] == list(range(1, outcome.seq + 1))
    runs = [w async for w in kuayue.client.list_workflows(f"WorkflowId = '{workflow_id(cmd.deal_id)}'")]
    desc = await kuayue.client.get_workflow_handle(workflow_id(cmd.deal_id)).describe()
    assert desc.status == WorkflowExecutionStatus.COMPLETED
    assert desc.run_id != handle.first_execution_run_id or len(runs) > 1
    state = await starter.deal_state(kuayue.client, cmd.deal_id)
    assert isinstance(state, DealState) and fold(archived) == state


class FlakyAfterCommit:
    """The real archive, but the first two attempts of each append 'lose' their answer after committing.

    That is the hardest retry for idempotency: the rows are in the database, the workflow does not know.
    """

    def __init__(self, real: object) -> None:
        self.real = real
        self.failures = 0

    @activity.defn(name="archive.append")
    async def append(self, request: AppendRequest) -> object:
        result = await self.real.append(request)  # type: ignore[attr-defined]
        if activity.info().attempt <= 2:
            self.failures += 1
            raise RuntimeError("connection lost after commit")
        return result


async def test_an_append_that_fails_twice_then_succeeds_leaves_one_copy_of_each_event(
    temporal_env,
    db_url: str,  # type: ignore[no-untyped-def]
) -> None:
    from temporalio.worker import Worker

    from activities.archive import EventArchive
    from activities.calendar import WorkingDayCalendar
    from activities.deadlines import DeadlinePlanner, load_policy
    from kuayue.temporal import sandbox_runner
    from store.db import make_engine, make_session_factory, migrate
    from workflows.deal import DealWorkflow

    migrate(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    flaky = FlakyAfterCommit(EventArchive(sessions))
    planner = DeadlinePlanner(load_policy(), WorkingDayCalendar())
    queue = f"flaky-{uuid.uuid4()}"
    async with Worker(
        temporal_env.client,
        task_queue=queue,
        workflows=[DealWorkflow],
        activities=[flaky.append, planner.plan],
        workflow_runner=sandbox_runner(),
    ):
        kuayue = Kuayue(temporal_env.client, queue, sessions)
        cmd, _ = await kuayue.open(FUZHOU)
        answer = await kuayue.act(cmd.deal_id, ValidateDemand(command_id="v", actor=broker_actor(cmd)))
    archived = kuayue.archive(cmd.deal_id)
    assert flaky.failures == 4  # two lost answers for the opening append, two for the command's
    assert [e.seq for e in archived] == list(range(1, answer.seq + 1))  # one copy each, no gaps
    row = kuayue.row(cmd.deal_id)
    assert row is not None and row.last_seq == answer.seq
    engine.dispose()
