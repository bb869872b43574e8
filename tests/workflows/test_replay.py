"""Every recorded history in tests/histories/ replays with today's workflow code (non-determinism fails CI)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from kuayue.temporal import sandbox_runner
from workflows.deal import DealWorkflow
from workflows.open_call import OpenCallWorkflow
from workflows.roadshow import ROADSHOW_ARCHIVE_PATCH, RoadshowWorkflow

HISTORIES = sorted((Path(__file__).resolve().parents[1] / "histories").glob("*.json"))


def test_there_are_histories_of_every_kind_to_replay() -> None:
    names = {p.name for p in HISTORIES}
    # v1: before LEAN_COMMANDS_PATCH; v2: after it; v3: after AUTO_MATCHING_PATCH; v4: after PARTNERS_PATCH;
    # v5: after DURABLE_APPEND_PATCH (the append an ordinary activity). v6-roadshow: after ROADSHOW_ARCHIVE_PATCH.
    for version in ("v4", "v5"):  # partner deliveries, signals, ladders
        assert {f"{version}-partners-run1.json", f"{version}-partner-ladder-run1.json"} <= names
    assert "v4-roadshow-run1.json" in names  # RoadshowWorkflow
    assert "v6-roadshow-run1.json" in names  # RoadshowWorkflow after ROADSHOW_ARCHIVE_PATCH
    for version in ("v1", "v2", "v3", "v4", "v5"):
        assert {
            f"{version}-ladder-run1.json",
            f"{version}-continue-as-new-run2.json",
            f"{version}-fuzhou-ultrasonic-spindle-run1.json",
        } <= names
    # OpenCallWorkflow's histories (tests/histories/record_open_call.py).
    assert {f"open-call-v1-{name}-run1.json" for name in ("awarded", "refused-then-awarded", "lapsed")} <= names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(
        workflows=[DealWorkflow, OpenCallWorkflow, RoadshowWorkflow],
        workflow_runner=sandbox_runner(),
        data_converter=pydantic_data_converter,
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"


def test_roadshow_histories_cover_both_branches_of_the_archive_patch() -> None:
    """Old roadshows (no marker) replay through the branch without archiving, new ones through the archiving one."""
    marked = {p.name: ROADSHOW_ARCHIVE_PATCH in _patches(p) for p in HISTORIES if "roadshow" in p.name}
    assert marked["v4-roadshow-run1.json"] is False and marked["v5-roadshow-run1.json"] is False
    assert marked["v6-roadshow-run1.json"] is True
    archived = (HISTORIES[0].parent / "v6-roadshow-run1.json").read_text(encoding="utf-8")
    assert '"name": "roadshows.append"' in archived


def _patches(path: Path) -> set[str]:
    """The patch ids whose markers a recorded history holds."""
    found = set()
    for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker.get("markerName") == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found
