"""`kuayue open-call publish|bid|close|select|show` against the dev server, as the people who would type them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

import starter
from domain.commands import ValidateDemand
from examples.lifecycle import broker_actor
from kuayue.cli import main
from registry.importer import import_file
from store.testing import migrated_database
from tests.factories import EXAMPLE_FILES
from tests.workflows.conftest import Kuayue, running_kuayue

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry" / "achievements.csv"
JIAN = next(p for p in EXAMPLE_FILES if "jian" in p.name)


@pytest.fixture
async def cli_env(temporal_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kuayue]:
    """A worker with the example registry, and the environment the `kuayue` command reads its settings from."""
    with migrated_database("sqlite") as url:
        async with running_kuayue(temporal_env.client, url) as kuayue:
            import_file(kuayue.sessions, REGISTRY)
            monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_env.client.service_client.config.target_host)
            monkeypatch.setenv("KUAYUE_DATABASE_URL", url)
            monkeypatch.setenv("KUAYUE_TASK_QUEUE", kuayue.task_queue)
            yield kuayue


async def kuayue_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `kuayue ARGV…` (in a thread: it runs its own event loop) and return (exit code, stdout, stderr)."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def test_an_open_call_from_publish_to_selection_on_the_command_line(
    cli_env: Kuayue, capsys: pytest.CaptureFixture[str]
) -> None:
    cmd, _ = await cli_env.open(JIAN)
    deal = cmd.deal_id
    broker = "ja-broker-liu:broker:ja-centre"
    await cli_env.act(deal, ValidateDemand(command_id="v", actor=broker_actor(cmd)))
    call = f"OC-{deal}"

    code, _, err = await kuayue_cli(capsys, "open-call", "publish", deal, "--days", "2", "--as", "auditor-zhao:auditor")
    assert code == 2 and "拒绝 [forbidden] 审计员为只读角色" in err
    qualifications = ["--kinds", "university", "--min-trl", "6", "--region", "360000"]
    code, out, _ = await kuayue_cli(capsys, "open-call", "publish", deal, "--days", "2", *qualifications, "--as", broker)
    assert code == 0 and f"已发布揭榜 {call}" in out and "技术就绪度 ≥ 6" in out

    bid = ["open-call", "bid", call, "--kind", "university", "--proposal", "中试验证"]
    code, out, _ = await kuayue_cli(capsys, *bid, "--achievement", "JXCG-2026-0001", "--as", "jgsu-manager:manager:jgsu")
    assert code == 0 and "已揭榜：B1：JXCG-2026-0001" in out
    code, _, err = await kuayue_cli(capsys, *bid, "--achievement", "JXCG-2026-0004", "--as", "jxau-broker:broker:jxau")
    assert code == 2 and "拒绝 [not_qualified]" in err and "技术就绪度 5 低于要求的 6" in err
    code, _, err = await kuayue_cli(capsys, *bid, "--achievement", "JXCG-9999-0001", "--as", "jxau-broker:broker:jxau")
    assert code == 2 and "成果登记号「JXCG-9999-0001」不存在" in err

    code, out, _ = await kuayue_cli(capsys, "open-call", "close", call, "--reason", "企业提前确定方向", "--as", broker)
    assert code == 0 and "揭榜提前截止，共 1 份揭榜方案" in out
    code, out, _ = await kuayue_cli(capsys, "open-call", "select", call, "B1", "--as", broker)
    assert code == 0 and "选定揭榜方 B1（成果 JXCG-2026-0001），已成为案件的对接成果" in out
    state = await starter.deal_state(cli_env.client, deal)
    assert state.match is not None and state.match.achievement_id == "JXCG-2026-0001"

    code, out, _ = await kuayue_cli(capsys, "open-call", "show", call)
    assert code == 0 and "状态 已选定揭榜方" in out and "B1  JXCG-2026-0001" in out and "← 已选定" in out
    code, _, err = await kuayue_cli(capsys, "open-call", "show", "OC-nothing-here")
    assert code == 2 and "没有编号为 OC-nothing-here 的揭榜" in err
