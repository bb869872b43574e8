"""Verification jobs, "who did what" as CSV and the evidence download, on an archive of 100,000 events.

The jobs are rows of `audit_jobs`: a job started in one web process (`kuayue web`, a real process) is seen from
another (an app built in this test), outlives the process when it is killed or stopped (interrupted, with a way to
start it again), and a new app instance shows a finished job with its report. The export is built off the event
loop and streamed; the CSV lists exactly the actions of the period that the user may see.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from store.db import make_engine, make_session_factory
from store.models import AuditJobRecord
from store.testing import migrated_database
from tests.audit.synthetic import SyntheticDeal, write_archive
from tests.web.conftest import PASSWORD, USERS, csrf_from
from web.app import create_app
from web.audit_pages import ACTIONS_LIMIT
from web.config import WebConfig
from web.serve import serving
from web.users import create_user

BEIJING = ZoneInfo("Asia/Shanghai")
KUAYUE = Path(sys.executable).parent / "kuayue"
SECRET = "test-secret-key-not-for-production"
START = datetime(2026, 3, 1, tzinfo=BEIJING)


@dataclass(frozen=True)
class BigArchive:
    url: str
    sessions: sessionmaker[Session]
    deals: list[SyntheticDeal]
    events: int


@pytest.fixture(scope="module")
def big() -> Iterator[BigArchive]:
    """40 deals of ja-centre and 40 of jj-centre with 1,250 events each, and one deal of 40,000 (for the export)."""
    deals = [
        SyntheticDeal(f"BIG-{c.upper()}-{i:03d}", f"{c}-centre", f"{c}-broker-x", 1_250, START + timedelta(minutes=i))
        for c in ("ja", "jj")
        for i in range(40)
    ]
    deals.append(SyntheticDeal("BIG-JA-HUGE", "ja-centre", "ja-broker-x", 40_000, START, step=timedelta(seconds=30)))
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, f"{username} 测试", centre)
        events = write_archive(sessions, deals)
        yield BigArchive(url, sessions, deals, events)
        engine.dispose()


def _app(big: BigArchive, temporal_env: WorkflowEnvironment) -> FastAPI:
    """A web app on the big archive: each call is a new instance, as after a restart."""
    config = WebConfig(database_url=big.url, secret_key=SECRET, audit_job_heartbeat_seconds=0.1)
    return create_app(config, temporal_env.client, big.sessions)


async def _sign_in(username: str, app: FastAPI | None = None, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """A signed-in client of `app` in this process, or of the web server at `base_url`."""
    transport = httpx.ASGITransport(app=app) if app is not None else None
    client = httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30)
    page = await client.get("/login")
    answer = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 303, answer.text
    return client


async def _start(client: httpx.AsyncClient, centre: str = "") -> str:
    csrf = csrf_from((await client.get("/audit")).text)
    answer = await client.post("/audit/verify", data={"csrf_token": csrf, "centre": centre})
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def _status(page: httpx.Response) -> str:
    found = re.search(r'id="job" data-status="(\w+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def _until(
    fetch: Callable[[], Awaitable[httpx.Response]], done: Callable[[httpx.Response], bool], seconds: float
) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        answer = await fetch()
        if done(answer) or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _web_process(
    big: BigArchive, temporal_env: WorkflowEnvironment, data_dir: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`kuayue web` on the big archive, in a process of its own, until the block ends (killed if still running)."""
    port = _free_port()
    env = {
        **os.environ,
        "KUAYUE_DATABASE_URL": big.url,
        "KUAYUE_DATA_DIR": str(data_dir),
        "KUAYUE_SECRET_KEY": SECRET,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
    }
    with (data_dir / "web.log").open("wb") as log:
        command = [str(KUAYUE), "--log-level", "WARNING", "web", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "kuayue web stopped:\n" + (data_dir / "web.log").read_text(errors="replace")
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "kuayue web did not answer within 90 s"
            time.sleep(0.2)
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def test_a_job_outlives_the_web_process_that_ran_it_and_can_be_started_again(
    big: BigArchive, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with _web_process(big, temporal_env, tmp_path) as (process, base):
        remote = await _sign_in("auditor-zhao", base_url=base)
        job = await _start(remote)  # the whole archive, in the other process
        await remote.aclose()

        here = await _sign_in("auditor-zhao", _app(big, temporal_env))
        page = await here.get(job)
        assert page.status_code == 200 and _status(page) == "running", "another process's job is seen while it runs"
        assert "校验进行中" in page.text
        manager = await _sign_in("ja-manager", _app(big, temporal_env))
        assert (await manager.get(job)).status_code == 404  # a whole-archive job is not a manager's to see

        process.kill()  # the process dies mid-job: nothing of it can record the end
        process.wait()

    page = await here.get(job)
    assert _status(page) == "interrupted", page.text
    assert "运行它的 Web 服务进程已不在（重启或崩溃）" in page.text and "重新开始" in page.text
    home = await here.get("/audit")
    assert f'href="{job}"' in home.text and "已中断" in home.text

    # Started again from the interrupted job's page: its form names the same scope.
    restart = await here.post("/audit/verify", data={"csrf_token": csrf_from(page.text), "centre": ""})
    again = restart.headers["location"]
    assert restart.status_code == 303 and again != job
    progress: list[tuple[int, int]] = []

    def finished(answer: httpx.Response) -> bool:
        if found := re.search(r"已校验 (\d+) / (\d+) 个事件", answer.text):
            progress.append((int(found.group(1)), int(found.group(2))))
        return _status(answer) != "running"

    page = await _until(lambda: here.get(again), finished, 120)
    assert _status(page) == "done", page.text
    assert f"whole archive：{len(big.deals)} 个案件，{big.events} 个事件 —\n哈希链完整" in page.text
    assert any(0 < done < total == big.events for done, total in progress), progress  # progress shown while it ran
    await here.aclose()

    # A new instance of the app (a restart) shows both jobs as they ended.
    restarted = await _sign_in("hub-admin", _app(big, temporal_env))
    assert _status(await restarted.get(job)) == "interrupted"
    finished_page = await restarted.get(again)
    assert _status(finished_page) == "done" and f"{big.events} 个事件 —\n哈希链完整" in finished_page.text
    await restarted.aclose()
    await manager.aclose()


async def test_a_stopped_web_process_ends_its_job_as_interrupted(
    big: BigArchive, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with _web_process(big, temporal_env, tmp_path) as (process, base):
        remote = await _sign_in("auditor-zhao", base_url=base)
        job = await _start(remote)
        await remote.aclose()
        process.send_signal(signal.SIGTERM)  # Ctrl-C or a service manager's stop
        assert await asyncio.to_thread(process.wait, 60) == 0
    here = await _sign_in("auditor-zhao", _app(big, temporal_env))
    page = await here.get(job)
    assert _status(page) == "interrupted" and "运行它的 Web 服务已停止" in page.text
    await here.aclose()


async def test_a_manager_sees_and_starts_only_their_centres_jobs(big: BigArchive, temporal_env: WorkflowEnvironment) -> None:
    app = _app(big, temporal_env)
    auditor = await _sign_in("auditor-zhao", app)
    jj_job = await _start(auditor, "jj-centre")
    ja, jj, broker = [await _sign_in(user, app) for user in ("ja-manager", "jj-manager", "ja-broker-liu")]
    jobs_before = _count_jobs(big)

    assert (await ja.get(jj_job)).status_code == 404
    assert (await jj.get(jj_job)).status_code == 200
    assert (await broker.get(jj_job)).status_code == 403
    home = await ja.get("/audit")
    assert jj_job not in home.text
    forged = await ja.post("/audit/verify", data={"csrf_token": csrf_from(home.text), "centre": "jj-centre"})
    assert forged.status_code == 403 and _count_jobs(big) == jobs_before  # refused before anything is written
    whole = await ja.post("/audit/verify", data={"csrf_token": csrf_from(home.text), "centre": ""})
    assert whole.status_code == 403 and _count_jobs(big) == jobs_before

    ja_job = await _start(ja, "ja-centre")
    assert ja_job in (await ja.get("/audit")).text and jj_job not in (await ja.get("/audit")).text
    assert (await jj.get(ja_job)).status_code == 404
    ja_centre_events = sum(d.events for d in big.deals if d.centre_id == "ja-centre")
    done = await _until(lambda: ja.get(ja_job), lambda page: _status(page) != "running", 120)
    assert f"centre ja-centre：41 个案件，{ja_centre_events} 个事件 —\n哈希链完整" in done.text
    for client in (auditor, ja, jj, broker):
        await client.aclose()


def _count_jobs(big: BigArchive) -> int:
    with big.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditJobRecord)) or 0


def _hub_actions_on(big: BigArchive, day: date, centre: str | None) -> list[tuple[str, str, str]]:
    """(time, deal, seq) of the hub admin's actions on a Beijing day, worked out from the synthetic deals."""
    rows = [
        (e.occurred_at, e.deal_id, e.seq)
        for deal in big.deals
        if centre is None or deal.centre_id == centre
        for e in deal.timeline()
        if e.actor_id == "hub-li" and e.occurred_at.astimezone(BEIJING).date() == day
    ]
    return [(t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"), d, str(s)) for t, d, s in sorted(rows)]


async def test_who_did_what_as_csv_has_every_action_of_the_period_the_user_may_see(
    big: BigArchive, temporal_env: WorkflowEnvironment
) -> None:
    app = _app(big, temporal_env)
    period = {"actor": "hub-li", "since": "2026-03-03", "until": "2026-03-03"}
    for user, centre in (("auditor-zhao", None), ("ja-manager", "ja-centre")):
        client = await _sign_in(user, app)
        expected = _hub_actions_on(big, date(2026, 3, 3), centre)
        answer = await client.get("/audit/actions.csv", params=period)
        assert answer.status_code == 200 and answer.headers["content-type"] == "text/csv; charset=utf-8"
        assert 'filename="actions_hub-li_2026-03-03_2026-03-03.csv"' in answer.headers["content-disposition"]
        assert answer.content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: spreadsheets read the Chinese right
        header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert header == ["时间（北京时间）", "案件", "序号", "用户", "身份", "中心", "事件类型", "操作", "命令编号"]
        assert [(r[0], r[1], r[2]) for r in rows] == expected, user
        assert {(r[3], r[4], r[5], r[6]) for r in rows} == {("hub-li", "hub_admin", "hub", "DemandValidated")}
        assert rows[0][7] == f"确认需求：第 {rows[0][2]} 次核实" and rows[0][8] == f"cmd-{rows[0][1]}-{rows[0][2]}"
        # The page shows the first ACTIONS_LIMIT of the same actions and offers the CSV for all of them.
        page = await client.get("/audit/actions", params=period)
        assert f"hub-li：共 {len(expected)} 项操作" in page.text
        shown = page.text.count('<tr><td>')
        assert shown == min(len(expected), ACTIONS_LIMIT)
        assert (f"显示前 {ACTIONS_LIMIT} 项" in page.text) == (len(expected) > ACTIONS_LIMIT)
        assert "/audit/actions.csv?actor=hub-li&amp;since=2026-03-03&amp;until=2026-03-03" in page.text
        await client.aclose()
    assert len(_hub_actions_on(big, date(2026, 3, 3), None)) > ACTIONS_LIMIT  # the CSV is not cut where the page is

    auditor = await _sign_in("auditor-zhao", app)
    backwards = await auditor.get("/audit/actions.csv", params={"actor": "hub-li", "since": "2026-03-05", "until": "2026-03-01"})
    assert backwards.status_code == 422 and "起始日期 2026-03-05 晚于截止日期 2026-03-01" in backwards.text
    assert (await auditor.get("/audit/actions.csv", params={"since": "2026-03-01"})).status_code == 422
    broker = await _sign_in("ja-broker-liu", app)
    assert (await broker.get("/audit/actions.csv", params=period)).status_code == 403
    await auditor.aclose()
    await broker.aclose()


@asynccontextmanager
async def _loop_watch() -> AsyncIterator[list[float]]:
    """The gaps between ticks of this event loop (asked for every 10 ms) while the block runs."""
    gaps: list[float] = []
    stop = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(tick())
    try:
        yield gaps
    finally:
        stop.set()
        await task


async def test_the_evidence_download_is_built_off_the_event_loop_and_streamed(
    big: BigArchive, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    leftovers = set(Path(tempfile.gettempdir()).glob("kuayue-evidence-*"))
    async with serving(_app(big, temporal_env), port=0) as server:
        client = await _sign_in("auditor-zhao", base_url=server.url)
        bundle, pieces = tmp_path / "evidence.zip", 0
        started = time.perf_counter()
        async with _loop_watch() as gaps, client.stream("GET", "/audit/deals/BIG-JA-HUGE/export") as answer:
            assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
            assert answer.headers["content-disposition"].startswith('attachment; filename="evidence-BIG-JA-HUGE.zip"')
            with bundle.open("wb") as out:
                async for piece in answer.aiter_raw():
                    out.write(piece)
                    pieces += 1
        took = time.perf_counter() - started
        await client.aclose()
    # The same loop serves the request and ticks: a bundle built on it would stop the ticks for the whole build
    # (≈ 90 % of the request). Built on a thread, the longest pause is a garbage collection of this test process.
    assert took > 1.0 and max(gaps) < took / 4, (took, max(gaps))
    assert bundle.stat().st_size == int(answer.headers["content-length"]) and pieces > 1
    assert set(Path(tempfile.gettempdir()).glob("kuayue-evidence-*")) <= leftovers, "the temporary bundle was left on disk"
    checked = subprocess.run([str(KUAYUE), "audit", "verify-bundle", str(bundle)], capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and "完整 intact" in checked.stdout, checked.stdout + checked.stderr


def test_a_csv_cell_never_starts_a_formula() -> None:
    # A command id is chosen by the API's caller: "=HYPERLINK(…)" must reach the spreadsheet as text.
    from web.audit_pages import _csv_line

    line = _csv_line(["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "确认需求：=1", "cmd-1"])
    assert next(csv.reader([line])) == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "确认需求：=1", "cmd-1"]
