"""What a verification job and an evidence download cost the web process that serves them (README, "Auditing").

    .venv/bin/python -m bench.audit_jobs [--events 500000] [--deals 500] [--export-events 40000]
                                         [--requests 200] [--backend sqlite|postgresql]

1. A synthetic archive of `--events` events over `--deals` deals (valid hash chains, written straight into the
   tables as tests/audit/synthetic.py does) and an auditor.
2. The real app (`web.app.create_app`) served by uvicorn on this process's event loop (`web.serve.serving`), with a
   Temporal dev server for its client. Signed in as the auditor over HTTP, the sign-in page and a deal's chain page
   (its events hashed per request) are timed `--requests` times each while nothing else runs; then the whole archive
   is verified as a job started through the page's POST, and the same two pages are timed again, one after the
   other, until the job ends. The job's duration is read from its `audit_jobs` row; the CPU time of its thread too.
3. A deal of `--export-events` events is added and its evidence bundle downloaded while a coroutine on the same
   loop ticks every 10 ms: the longest pause between ticks is how long every other request of the process would
   have waited. For comparison the same bundle is then built on the event loop itself, as the download did before
   it moved to a worker thread.

The client runs on the server's loop, so its own work is in the figures (as a browser's would not be). This
2-core machine is shared: the load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from audit.export import write_bundle
from audit.histories import HistoryUnavailable, RunHistory
from audit.verify import VerificationReport
from domain.actors import Role
from kuayue.devserver import find_executable
from kuayue.temporal import client_options
from store import audit_jobs as jobs_table
from store.db import make_engine, make_session_factory
from store.testing import BACKENDS, migrated_database
from tests.audit.synthetic import SyntheticDeal, write_archive
from tests.web.conftest import PASSWORD, csrf_from
from web.app import create_app
from web.config import WebConfig
from web.serve import serving
from web.users import create_user

AUDITOR = "bench-auditor"
START = datetime(2026, 3, 1, tzinfo=UTC)
TICK = 0.01  # the watching coroutine asks to run every 10 ms


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def _percentiles(ms: list[float]) -> str:
    if len(ms) < 2:
        return f"{ms[0]:.1f} ms (1 request)" if ms else "no request"
    p95 = statistics.quantiles(ms, n=20, method="inclusive")[18]
    return f"p50 {statistics.median(ms):.1f} ms / p95 {p95:.1f} ms ({len(ms)} requests)"


def _figures(ms: list[float]) -> dict[str, float]:
    if len(ms) < 2:
        return {}
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(statistics.quantiles(ms, n=20, method="inclusive")[18], 1)}


@dataclass
class Timings:
    """Milliseconds per request of the sign-in page and of the chain page."""

    sign_in: list[float] = field(default_factory=list)
    chain: list[float] = field(default_factory=list)


async def _timed_get(client: httpx.AsyncClient, path: str, into: list[float], expect: str) -> None:
    started = time.perf_counter()
    answer = await client.get(path)
    into.append((time.perf_counter() - started) * 1000)
    assert answer.status_code == 200 and expect in answer.text, (path, answer.status_code, answer.text[:300])


async def _sample(
    visitor: httpx.AsyncClient, auditor: httpx.AsyncClient, deal_ids: list[str], go_on: Callable[[int], bool]
) -> Timings:
    """The sign-in page, then a deal's chain page (the next deal each time), for as long as `go_on(round)` says."""
    timings = Timings()
    rounds = 0
    while go_on(rounds):
        await _timed_get(visitor, "/login", timings.sign_in, 'name="csrf_token"')
        # The chain page verifies the deal's events on each request; "哈希链完整" says they are intact.
        await _timed_get(auditor, f"/audit/deals/{deal_ids[rounds % len(deal_ids)]}", timings.chain, "哈希链完整")
        rounds += 1
    return timings


async def _sign_in(base_url: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base_url, timeout=120)
    page = await client.get("/login")
    answer = await client.post("/login", data={"username": AUDITOR, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 303, answer.text
    return client


def _thread_cpu(name: str) -> Callable[[], float | None]:
    """A reader of the CPU seconds of the running thread called `name` (Linux); None once it is gone."""
    thread = next((t for t in threading.enumerate() if t.name == name), None)
    if thread is None or thread.ident is None:
        return lambda: None
    clock = time.pthread_getcpuclockid(thread.ident)

    def read() -> float | None:
        return time.clock_gettime(clock) if thread.is_alive() else None

    return read


async def bench_job(base_url: str, sessions: sessionmaker[Session], deal_ids: list[str], requests: int) -> dict[str, Any]:
    visitor = httpx.AsyncClient(base_url=base_url, timeout=120)
    auditor = await _sign_in(base_url)
    await _sample(visitor, auditor, deal_ids, lambda n: n < 10)  # warm-up: templates, connection pool

    cpu = time.process_time()
    idle = await _sample(visitor, auditor, deal_ids, lambda n: n < requests)
    idle_cpu = (time.process_time() - cpu) / requests * 1000
    print(f"idle: sign-in page {_percentiles(idle.sign_in)}; chain page of a deal "
          f"({deal_ids[0]}, …) {_percentiles(idle.chain)}; {idle_cpu:.1f} ms CPU a pair")

    # The whole archive, started as an auditor does: the audit home's form, posted with its CSRF token.
    csrf = csrf_from((await auditor.get("/audit")).text)
    cpu, started = time.process_time(), time.perf_counter()
    answer = await auditor.post("/audit/verify", data={"csrf_token": csrf, "centre": ""})
    assert answer.status_code == 303, answer.text
    job_id = str(answer.headers["location"]).rsplit("/", 1)[1]
    job_cpu = _thread_cpu(f"audit-job-{job_id}")
    last_job_cpu: float | None = None
    running = True

    async def watch() -> None:
        """Reads the job's row every 0.2 s (and its thread's CPU time) until it is no longer running."""
        nonlocal running, last_job_cpu
        while running:
            last_job_cpu = job_cpu() or last_job_cpu
            with sessions() as session:
                row = jobs_table.get_job(session, job_id)
                running = row is not None and row.status == "running"
            if running:
                await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    during = await _sample(visitor, auditor, deal_ids, lambda _: running)
    await watcher
    wall, process_cpu = time.perf_counter() - started, time.process_time() - cpu
    with sessions() as session:
        row = jobs_table.get_job(session, job_id)
        assert row is not None and row.finished_at is not None and row.report is not None, "the job did not finish"
        took = (row.finished_at - row.started_at).total_seconds()
        report = VerificationReport.model_validate_json(row.report)
        status = row.status
    assert status == "done" and report.intact, (status, report.problems[:3])
    job_page = await auditor.get(f"/audit/verify/{job_id}")
    assert 'data-status="done"' in job_page.text, job_page.text[:500]
    thread_cpu = f", its thread {last_job_cpu:.1f} s CPU (read last at most 0.2 s before it ended)" if last_job_cpu else ""
    print(f"job: the whole archive ({report.events:,} events of {report.deals} deals) verified in {took:.1f} s "
          f"(started_at → finished_at of its audit_jobs row; {wall:.1f} s from the POST until the row said done){thread_cpu}; "
          f"process CPU meanwhile {process_cpu:.1f} s")
    print(f"during the job: sign-in page {_percentiles(during.sign_in)}; chain page {_percentiles(during.chain)}")
    await visitor.aclose()
    await auditor.aclose()
    return {
        "job_seconds": round(took, 1),
        "job_thread_cpu_seconds": round(last_job_cpu, 1) if last_job_cpu else None,
        "idle": {"sign_in": _figures(idle.sign_in), "chain": _figures(idle.chain)},
        "during_job": {"sign_in": _figures(during.sign_in), "chain": _figures(during.chain)},
    }


@dataclass
class LoopWatch:
    """The gaps between ticks of this event loop, and the garbage collections meanwhile (seconds, generation)."""

    gaps: list[float] = field(default_factory=list)
    collections: list[tuple[float, int]] = field(default_factory=list)

    @property
    def longest_stall(self) -> float:
        """How late the longest-waiting tick ran: the longest any ready coroutine (a request) had to wait."""
        return max(self.gaps, default=TICK) - TICK

    def longest_collection(self) -> tuple[float, int]:
        return max(self.collections, default=(0.0, -1))


@asynccontextmanager
async def _loop_watch() -> AsyncIterator[LoopWatch]:
    watch = LoopWatch()
    stop = asyncio.Event()
    gc_started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started.append(time.perf_counter())
        elif gc_started:
            watch.collections.append((time.perf_counter() - gc_started.pop(), info["generation"]))

    async def tick() -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            watch.gaps.append(now - last)
            last = now

    gc.callbacks.append(on_gc)
    task = asyncio.create_task(tick())
    await asyncio.sleep(TICK * 3)  # the ticker is running before the block starts
    try:
        yield watch
    finally:
        await asyncio.sleep(TICK * 3)  # a stall at the very end is counted too
        stop.set()
        await task
        gc.callbacks.remove(on_gc)


@contextmanager
def _no_bundle_left() -> Iterator[None]:
    """Temporary files of this process go to a directory of its own (/tmp is shared), which must be empty after."""
    with tempfile.TemporaryDirectory(prefix="bench-audit-jobs-") as private:
        tempfile.tempdir = private
        try:
            yield
        finally:
            tempfile.tempdir = None
        left = list(Path(private).iterdir())
        assert not left, f"the download left {left} behind"


async def bench_export(base_url: str, sessions: sessionmaker[Session], deal_id: str, events: int) -> dict[str, Any]:
    auditor = await _sign_in(base_url)
    size = pieces = 0
    cpu, started = time.process_time(), time.perf_counter()
    with _no_bundle_left():
        async with _loop_watch() as watch, auditor.stream("GET", f"/audit/deals/{deal_id}/export") as answer:
            assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip", answer.status_code
            async for piece in answer.aiter_raw():
                size, pieces = size + len(piece), pieces + 1
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert size == int(answer.headers["content-length"]) and pieces > 1, (size, pieces)
    await auditor.aclose()
    gc_s, gc_gen = watch.longest_collection()
    print(f"evidence download of a {events:,}-event deal: {size / 2**20:.1f} MiB in {pieces} pieces, {took:.1f} s "
          f"({cpu:.1f} s CPU); longest pause of the event loop {watch.longest_stall:.3f} s "
          f"(ticks every {TICK * 1000:.0f} ms; longest garbage collection meanwhile {gc_s:.3f} s, generation {gc_gen})")

    # The same bundle built on the event loop itself, as the download did before it moved to a worker thread. The
    # deal has no history in Temporal nor in the store, as in the download above, so no runs are asked for.
    def no_runs(deal: str) -> list[RunHistory]:
        raise HistoryUnavailable(deal)

    with tempfile.TemporaryDirectory() as scratch:
        async with _loop_watch() as on_loop:
            write_bundle(sessions, [deal_id], Path(scratch) / "evidence.zip", no_runs)
    print(f"the same bundle built on the event loop (as before): longest pause {on_loop.longest_stall:.3f} s")
    return {
        "export_seconds": round(took, 2),
        "export_longest_stall_s": round(watch.longest_stall, 3),
        "export_longest_gc_s": round(gc_s, 3),
        "on_loop_longest_stall_s": round(on_loop.longest_stall, 3),
    }


async def run(args: argparse.Namespace) -> None:
    print(f"start: {_load()}; {os.cpu_count()} cores")
    per_deal = args.events // args.deals
    deals = [
        SyntheticDeal(f"JOB-{i:04d}", centre, f"{centre}-broker", per_deal, START + timedelta(minutes=i))
        for i, centre in ((i, f"centre-{i % 12:02d}") for i in range(args.deals))
    ]
    huge = SyntheticDeal("JOB-HUGE", "centre-00", "centre-00-broker", args.export_events, START, step=timedelta(seconds=30))
    with migrated_database(args.backend) as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        setup = time.perf_counter()
        with sessions.begin() as session:
            create_user(session, AUDITOR, PASSWORD, Role.AUDITOR, "审计员（基准）", None)
        written = write_archive(sessions, deals)
        print(f"setup: {written:,} events of {len(deals)} deals ({per_deal} each) written into {args.backend} "
              f"in {time.perf_counter() - setup:.1f} s")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")), ui=False, dev_server_log_level="error", **client_options()
        )
        async with env:
            config = WebConfig(database_url=url, secret_key="bench-audit-jobs")
            async with serving(create_app(config, env.client, sessions), port=0) as server:
                figures = await bench_job(server.url, sessions, [d.deal_id for d in deals], args.requests)
                # Added after the job, so the job verifies exactly the archive described above.
                write_archive(sessions, [huge])
                figures |= await bench_export(server.url, sessions, huge.deal_id, huge.events)
        engine.dispose()
    print(f"end: {_load()}")
    print(json.dumps({"backend": args.backend, "events": written, "deals": len(deals), **figures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=500_000, help="events in the archive the job verifies")
    parser.add_argument("--deals", type=int, default=500, help="deals they are spread over (the chain page hashes one)")
    parser.add_argument("--export-events", type=int, default=40_000, help="events of the deal whose bundle is downloaded")
    parser.add_argument("--requests", type=int, default=200, help="requests of each page timed while nothing else runs")
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    args = parser.parse_args()
    for name in ("events", "deals", "export_events", "requests"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}")
    if args.events < args.deals:
        parser.error(f"--events ({args.events}) must be at least --deals ({args.deals}): every deal has events")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
