"""Command 1 as a user meets it: `kuayue up` starts the example deals and loads the demo registries, Ctrl-C stops, a
rerun resumes them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from temporalio.client import Client

KUAYUE = Path(sys.executable).parent / "kuayue"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_until_up(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [str(KUAYUE), "--log-level", "WARNING", "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "Press Ctrl-C to stop" in line:
            return process, lines
    process.kill()
    raise AssertionError("kuayue up did not come up:\n" + "\n".join(lines))


def _stop(process: subprocess.Popen[str]) -> list[str]:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return out.splitlines()


async def test_up_starts_the_example_deals_and_a_rerun_resumes_them_without_duplicates(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "KUAYUE_DATA_DIR": str(tmp_path),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "KUAYUE_TASK_QUEUE": f"up-test-{port}",
        "KUAYUE_WEB_PORT": str(_free_port()),
        "KUAYUE_PARTNER_SIM_PORT": str(_free_port()),
    }
    env.pop("KUAYUE_DATABASE_URL", None)
    process, lines = _run_until_up(env)
    try:
        assert sum("已创建案件" in line for line in lines) == 3
        assert any("演示登记库：新增 4240，更新 0，未变 0" in line for line in lines), lines
        assert any(f"http://127.0.0.1:{port + 1000}" in line for line in lines)
        client = await Client.connect(f"127.0.0.1:{port}")
        running = [w async for w in client.list_workflows("WorkflowType = 'DealWorkflow'")]
        assert sorted(w.id for w in running) == ["deal-FZ-2026-002", "deal-JA-2026-001", "deal-JJ-2026-003"]
        assert any("Partner simulator" in line for line in lines)
        # The README's partner step: the simulator finances and registers all three example deals end to end.
        demo = subprocess.run(
            [sys.executable, "-m", "examples.partners_demo"], env=env, capture_output=True, text=True, timeout=180
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert sum("已签约，认定登记编号" in line for line in demo.stdout.splitlines()) == 3
        assert "路演 LY-2026-DEMO：2 个案件" in demo.stdout  # Fuzhou and Jiujiang need money; Ji'an's deal waives it
        seen = subprocess.run(
            [str(KUAYUE), "roadshow", "show", "LY-2026-DEMO", "--deal", "JJ-2026-003"], env=env, capture_output=True, text=True
        )
        assert seen.returncode == 0 and '"deal_id": "JJ-2026-003"' in seen.stdout, seen.stdout + seen.stderr
        assert "FZ-2026-002" not in seen.stdout  # a deal sees only its own part of the roadshow
        request = tmp_path / "dd.json"
        request.write_text('{"investor_id": "jxfund", "deal_id": "FZ-2026-002", "materials": ["专利证书"]}', encoding="utf-8")
        acted = subprocess.run(
            [str(KUAYUE), "roadshow", "act", "LY-2026-DEMO", "RequestDueDiligence", str(request)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert acted.returncode == 0 and "DueDiligenceRequested" in acted.stdout, acted.stdout + acted.stderr
    finally:
        tail = _stop(process)
    assert any("已停止" in line for line in tail)
    assert (tmp_path / "temporal.db").exists() and (tmp_path / "kuayue.db").exists()

    process, lines = _run_until_up(env)
    try:
        assert sum("已恢复案件" in line for line in lines) == 3 and not any("已创建案件" in line for line in lines)
        assert any("演示登记库：新增 0，更新 0，未变 4240" in line for line in lines), lines
        client = await Client.connect(f"127.0.0.1:{port}")
        runs = [w async for w in client.list_workflows("WorkflowType = 'DealWorkflow'")]
        assert len(runs) == 3  # resumed, not started again
    finally:
        _stop(process)
