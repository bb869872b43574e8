"""Replay, re-derivation, kept histories and evidence bundles of real deals on a real Temporal dev server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from audit.export import export_bundle, verify_bundle
from audit.histories import DealStillOpen, keep_history, load_runs
from audit.rederive import rederive
from audit.replay import DealReplayer, RecordedHead, RunReplay
from examples.lifecycle import lifecycle
from store.models import EventRecord
from tests.audit.conftest import Kuayue
from tests.factories import EXAMPLE_FILES
from workflows.messages import workflow_id

FUZHOU = next(p for p in EXAMPLE_FILES if "fuzhou" in p.name)
HISTORIES = Path(__file__).resolve().parents[1] / "histories"


async def _signed_deal(kuayue: Kuayue) -> str:
    cmd, handle = await kuayue.open(FUZHOU)
    for command in lifecycle(cmd):
        await kuayue.act(cmd.deal_id, command)
        await _no_pending_activity(kuayue, cmd.deal_id)
    await handle.result()
    return cmd.deal_id


async def _no_pending_activity(kuayue: Kuayue, deal_id: str) -> None:
    """Wait until the deal's matching activity (if any) has finished.

    While it runs, the deal's main loop waits for it and cannot continue-as-new, so commands sent meanwhile would all
    land in one run (how many runs a deal has would then depend on how fast the worker loads jieba's dictionary).
    """
    handle = kuayue.client.get_workflow_handle(workflow_id(deal_id))
    for _ in range(300):
        description = await handle.describe()
        if not description.raw_description.pending_activities:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"deal {deal_id}: an activity is still pending after 15 s")


@pytest.mark.parametrize("version", ["v1", "v2"])
async def test_recorded_runs_replay_and_rederive_every_seq_across_continue_as_new(version: str) -> None:
    paths = sorted(HISTORIES.glob(f"{version}-continue-as-new-run*.json"))
    histories = [WorkflowHistory.from_json(p.stem, p.read_text(encoding="utf-8")) for p in paths]
    replays = await DealReplayer().replay(histories)
    assert [r.failure for r in replays] == [None] * len(paths)
    assert [e.seq for r in replays for e in r.events] == list(range(1, 18))


async def test_a_deal_that_continued_as_new_twice_replays_and_rederives_completely(kuayue: Kuayue) -> None:
    kuayue.max_events_per_run = 3
    deal_id = await _signed_deal(kuayue)
    runs = await load_runs(kuayue.client, kuayue.sessions, deal_id)
    assert len(runs) >= 3 and [r.run_index for r in runs] == list(range(1, len(runs) + 1))
    assert [r.status for r in runs] == ["CONTINUED_AS_NEW"] * (len(runs) - 1) + ["COMPLETED"]
    archived = kuayue.archive(deal_id)
    result = await rederive(DealReplayer(), runs, archived)
    assert result.agrees, [d.describe() for d in result.differences]
    assert result.events == archived

    # Re-derivation compares with the archive event by event and shows both versions.
    with kuayue.sessions.begin() as session:
        row = session.scalars(select(EventRecord).where(EventRecord.deal_id == deal_id, EventRecord.seq == 3)).one()
        row.payload = row.payload.replace("已与企业确认", "已与企业确定")
    result = await rederive(DealReplayer(), runs, kuayue.archive(deal_id))
    assert [(d.seq, d.kind) for d in result.differences] == [(3, "different")]
    text = result.differences[0].describe()
    assert "已与企业确定" in text and "已与企业确认" in text


async def _delete_from_temporal(kuayue: Kuayue, deal_id: str) -> None:
    request = DeleteWorkflowExecutionRequest(
        namespace=kuayue.client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id(deal_id))
    )
    await kuayue.client.workflow_service.delete_workflow_execution(request)
    for _ in range(900):  # the dev server deletes a closed run asynchronously, after about 30 s
        try:
            await kuayue.client.get_workflow_handle(workflow_id(deal_id)).fetch_history()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return
            raise
        await asyncio.sleep(0.1)
    raise AssertionError(f"deal {deal_id} still in Temporal after deletion")


async def test_a_deal_whose_temporal_history_is_gone_replays_from_the_store(kuayue: Kuayue) -> None:
    cmd, handle = await kuayue.open(FUZHOU)
    for command in lifecycle(cmd)[:4]:
        await kuayue.act(cmd.deal_id, command)
    with pytest.raises(DealStillOpen):
        await keep_history(kuayue.client, kuayue.sessions, cmd.deal_id)
    await handle.terminate(reason="test: the deal's Temporal history is about to be deleted")
    assert await keep_history(kuayue.client, kuayue.sessions, cmd.deal_id) == 1
    assert await keep_history(kuayue.client, kuayue.sessions, cmd.deal_id) == 0  # idempotent
    await _delete_from_temporal(kuayue, cmd.deal_id)

    runs = await load_runs(kuayue.client, kuayue.sessions, cmd.deal_id)
    assert [(r.source, r.status) for r in runs] == [("store", "TERMINATED")]
    result = await rederive(DealReplayer(), runs, kuayue.archive(cmd.deal_id))
    assert result.agrees, [d.describe() for d in result.differences]
    assert len(result.events) == len(kuayue.archive(cmd.deal_id)) > 2


@pytest.mark.parametrize("form", ["directory", "zip"])
async def test_an_export_bundle_verifies_offline_and_a_changed_byte_is_found(kuayue: Kuayue, tmp_path: Path, form: str) -> None:
    deal_id = await _signed_deal(kuayue)
    out = tmp_path / ("bundle.zip" if form == "zip" else "bundle")
    await export_bundle(kuayue.client, kuayue.sessions, [deal_id], out)
    assert verify_bundle(out) == []

    if form == "zip":
        _flip_byte(out, len(out.read_bytes()) // 3)
        assert verify_bundle(out) != []
        return
    events = out / "deals" / deal_id / "events.jsonl"
    position = events.read_bytes().index(b'"payload":') + len(b'"payload":') + 40
    _flip_byte(events, position)
    problems = verify_bundle(out)
    assert any("events.jsonl: SHA-256" in p for p in problems)
    assert any("events.jsonl: deal" in p for p in problems)  # the chain recomputed from the bundle names the event
    _flip_byte(events, position)
    history = next((out / "deals" / deal_id / "history").glob("run-*.json"))
    _flip_byte(history, len(history.read_bytes()) // 2)
    assert any(history.name in p for p in verify_bundle(out))
    _flip_byte(history, len(history.read_bytes()) // 2)
    assert verify_bundle(out) == []


def _flip_byte(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def _deal_histories() -> list[WorkflowHistory]:
    paths = sorted(p for p in HISTORIES.glob("v*.json") if "roadshow" not in p.stem)
    return [WorkflowHistory.from_json(p.stem, p.read_text(encoding="utf-8")) for p in paths]


def _outcome(replays: list[RunReplay]) -> list[tuple[str, str | None, list[str], list[RecordedHead]]]:
    return [(r.workflow_id, r.failure, [e.canonical_json() for e in r.events], r.heads) for r in replays]


async def test_skipping_the_sdk_payload_passes_changes_nothing_an_auditor_sees() -> None:
    # The fast path (kuayue.temporal._without_noop_payload_passes) must give what the SDK's own path gives, for every
    # recorded deal history of every code version: same verdicts, same re-derived events, same recorded heads.
    histories = _deal_histories()
    fast = await DealReplayer(sandboxed=False).replay(histories)
    sdk = await DealReplayer(sandboxed=False, skip_noop_payload_passes=False).replay(histories)
    assert _outcome(fast) == _outcome(sdk)
    assert all(r.replays for r in fast) and sum(len(r.events) for r in fast) > 500


async def test_a_changed_history_still_fails_to_replay_on_the_fast_path() -> None:
    (history,) = [h for h in _deal_histories() if h.workflow_id == "v5-fuzhou-ultrasonic-spindle-run1"]
    changed = WorkflowHistory(history.workflow_id, [HistoryEvent() for _ in history.events])
    for copy, event in zip(changed.events, history.events, strict=True):
        copy.CopyFrom(event)
    scheduled = next(e for e in changed.events if e.HasField("activity_task_scheduled_event_attributes"))
    scheduled.activity_task_scheduled_event_attributes.activity_type.name = "archive.rewrite"
    for skip in (True, False):
        (replay,) = await DealReplayer(sandboxed=False, skip_noop_payload_passes=skip).replay([changed])
        assert replay.failure is not None and "archive.rewrite" in replay.failure, replay.failure
