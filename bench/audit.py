"""Audit benchmark: replay + re-derive recorded deal histories, and verify the hash chain of a large synthetic archive.

    .venv/bin/python -m bench.audit [--rounds 20] [--deals 200] [--events 1000000] [--backend sqlite|postgresql]
                                    [--parts replay,store,memory,verify]

Everything runs in this one process, pinned to one CPU core (the target is per core). Replay uses the SDK's
Replayer with the production data converter, in the worker's sandbox and without it (`DealReplayer(sandboxed=…)`).
"replay + re-derive from the store" is the whole auditor's path: kept histories and archived rows read from the
database in batches, decompressed, parsed, replayed, compared event by event and head by head. The synthetic
archive for `verify` is generated and inserted before the clock starts; only `audit.verify.verify_archive` is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlalchemy import insert, select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from audit.history_codec import json_chunks
from audit.replay import DealReplayer, RunReplay, lean_replayer, skipping_noop_payload_passes
from bench import sdk_floor
from domain.events import Event, canonical_json
from store.chain import GENESIS_HASH, chain_hash
from store.db import make_engine, make_session_factory
from store.models import DealHistoryRecord, EventRecord
from store.testing import BACKENDS, Backend, migrated_database

HISTORIES = Path(__file__).resolve().parents[1] / "tests" / "histories"


def _recorded(version: str = "v5") -> list[WorkflowHistory]:
    """The recorded DealWorkflow histories of one code version (the roadshow's own workflow is not a deal)."""
    paths = sorted(p for p in HISTORIES.glob(f"{version}-*.json") if "roadshow" not in p.stem)
    return [WorkflowHistory.from_json(p.stem, p.read_text(encoding="utf-8")) for p in paths]


async def _timed(
    label: str, replays: Callable[[], AsyncIterator[object]], count: Callable[[object], int], repeat: int
) -> None:
    """Drains `replays()` `repeat` times; prints the best and the median histories/s and CPU per history.

    The best run is the one least disturbed by other work on this shared machine; the median says how much it was.
    """
    rates, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        runs = events = 0
        async for result in replays():
            runs, events = runs + 1, events + count(result)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        rates.append(runs / elapsed)
        cpus.append(cpu / runs * 1000)
    print(f"{label}: {runs} histories ({events} domain events) a run, best of {repeat} {max(rates):.1f} histories/s "
          f"({min(cpus):.1f} ms CPU each), median {statistics.median(rates):.1f}/s")


async def bench_replay(rounds: int, repeat: int) -> None:
    """Today's histories (v5: three whole deals, a 4-run continue-as-new deal, a ladder deal, two partner deals) and
    v3's (before the append became an ordinary activity), already parsed, and the SDK's floor for today's shape."""

    def replayed(result: object) -> int:
        assert isinstance(result, RunReplay) and result.replays, getattr(result, "failure", result)
        return len(result.events)

    for version in ("v5", "v3"):
        histories = _recorded(version)
        shape = sum(len(h.events) for h in histories) / len(histories)
        print(f"{version}: {len(histories)} recorded histories, {shape:.0f} Temporal events each on average")
        for sandboxed, skip in ((True, True), (False, True), (True, False), (False, False)):
            replayer = DealReplayer(sandboxed=sandboxed, skip_noop_payload_passes=skip)
            await replayer.replay(histories)  # warm-up: imports, the sandbox, pydantic schemas
            label = (f"replay + re-derive {version} ({'sandboxed' if sandboxed else 'no sandbox'}"
                     f"{'' if skip else ', with the SDK payload passes'})")
            await _timed(label, partial(replayer.replay_stream, histories * rounds), replayed, repeat)

    # The floor: a workflow of a typical deal's shape (one update per broker command, each running one activity)
    # with no Kuayue code, replayed the same way. Nothing a deal does can replay faster than this.
    commands = 9  # a whole deal from demand to signing: tests/histories/v5-jian-biofertilizer (9 updates)
    floor = await sdk_floor.record(commands)
    print(f"SDK floor: a workflow of {commands} commands and nothing else, {len(floor.events)} Temporal events")
    for sandboxed in (True, False):
        floor_replayer = lean_replayer([sdk_floor.ShapeOfADeal], sandboxed=sandboxed)

        async def floor_replays(times: int, replayer: Replayer = floor_replayer) -> AsyncIterator[object]:
            with skipping_noop_payload_passes():
                async with replayer.workflow_replay_iterator(_each([floor] * times)) as replays:
                    async for result in replays:
                        assert result.replay_failure is None, result.replay_failure
                        yield result

        async for _ in floor_replays(20):  # warm-up
            pass
        label = f"SDK floor ({'sandboxed' if sandboxed else 'no sandbox'})"
        await _timed(label, partial(floor_replays, rounds * 10), lambda _: 0, repeat)


async def _each(histories: list[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def bench_rederive_store(deals: int, backend: Backend) -> None:
    """`deals` deals copied from the recorded ones, kept in the store with their archives, re-derived from there."""
    from audit.histories import RunHistory, store_runs
    from audit.rederive import rederive_stored

    recorded = _recorded()
    by_deal: dict[str, list[WorkflowHistory]] = {}
    for history in recorded:
        by_deal.setdefault(history.workflow_id.rsplit("-run", 1)[0], []).append(history)
    replays = await DealReplayer(sandboxed=False).replay(recorded)
    events = {replay.workflow_id: replay.events for replay in replays}
    with migrated_database(backend) as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        deal_ids, runs_total = [], 0
        templates = [histories for _, histories in sorted(by_deal.items())]
        for number in range(deals):
            histories = templates[number % len(templates)]
            deal_id = f"BENCH-{number:05d}"
            copies = [WorkflowHistory(f"deal-{deal_id}", list(h.events)) for h in histories]
            store_runs(sessions, [RunHistory(deal_id, i, h, "store") for i, h in enumerate(copies, start=1)])
            archived = [e for h in histories for e in events[h.workflow_id]]
            with sessions.begin() as session:
                session.execute(insert(EventRecord), _archive_rows(deal_id, archived))
            deal_ids.append(deal_id)
            runs_total += len(histories)
        for sandboxed in (True, False):
            replayer = DealReplayer(sandboxed=sandboxed)
            started, cpu = time.perf_counter(), time.process_time()
            agreeing = 0
            async for result in rederive_stored(replayer, sessions, deal_ids):
                agreeing += result.agrees
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert agreeing == deals, f"{deals - agreeing} deals disagree"
            print(
                f"replay + re-derive from the store ({backend}, {'sandboxed' if sandboxed else 'no sandbox'}): "
                f"{deals} deals, {runs_total} histories in {elapsed:.2f} s = {runs_total / elapsed:.1f} histories/s, "
                f"{deals / elapsed:.1f} deals/s ({cpu / runs_total * 1000:.1f} ms CPU a history, all agree)"
            )
        engine.dispose()


def _synthetic_history(workflow_id: str, events: int) -> WorkflowHistory:
    """A history of `events` real DealWorkflow events: a recorded deal's middle repeated, event ids renumbered."""
    recorded = _recorded("v3")[5]  # a whole deal (v3-jian-biofertilizer)
    first, middle, last = recorded.events[0], list(recorded.events[1:-1]), recorded.events[-1]
    out = [first]
    while len(out) < events - 1:
        out.append(HistoryEvent())
        out[-1].CopyFrom(middle[(len(out) - 2) % len(middle)])
    out.append(last)
    for number, event in enumerate(out, start=1):
        event.event_id = number
    return WorkflowHistory(workflow_id, out)


def _rss_kib(field: str) -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0])


def _peak_above_now(operation: Callable[[], object]) -> tuple[float, float]:
    """(MiB the resident set rose to above where it was before `operation`, seconds); Linux only."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, so reuse of it cannot hide a peak
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (VmHWM) to the current RSS
    before = _rss_kib("VmRSS")
    started = time.perf_counter()
    operation()
    return (_rss_kib("VmHWM") - before) / 1024, time.perf_counter() - started


def bench_memory(events: int, backend: Backend) -> None:
    """Peak memory to keep, export and load one large history, against what it weighs as JSON."""
    from audit.export import export_bundle, verify_bundle
    from audit.histories import RunHistory, store_runs, stored_runs

    with migrated_database(backend) as url, tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        history = _synthetic_history("deal-BIG-1", events)
        json_mib = sum(len(chunk) for chunk in json_chunks(history.events)) / 2**20
        keep, keep_s = _peak_above_now(partial(store_runs, sessions, [RunHistory("BIG-1", 1, history, "store")]))
        del history
        with sessions() as session:
            stored_mib = len(session.scalars(select(DealHistoryRecord.history_zlib)).one()) / 2**20
        bundle = Path(scratch) / "big.zip"
        export, export_s = _peak_above_now(lambda: asyncio.run(export_bundle(None, sessions, ["BIG-1"], bundle)))
        problems: list[str] = []
        check, check_s = _peak_above_now(lambda: problems.extend(verify_bundle(bundle)))
        assert problems == [], f"the large bundle does not verify: {problems[:3]}"
        (run,) = stored_runs(sessions, "BIG-1")
        load, load_s = _peak_above_now(lambda: run.history)
        whole_json, _ = _peak_above_now(lambda: run.history.to_json().encode("utf-8"))
        print(
            f"large history ({events:,} events, {json_mib:.1f} MiB as JSON, stored {stored_mib:.2f} MiB compressed, {backend}): "
            f"peak memory above the start — keep {keep:.1f} MiB ({keep_s:.1f} s), export to a bundle streamed "
            f"{export:.1f} MiB ({export_s:.1f} s), verify the bundle offline {check:.1f} MiB ({check_s:.1f} s), "
            f"load whole for the Replayer {load:.1f} MiB ({load_s:.1f} s); "
            f"for comparison, the history as one JSON text (how bundles were written before) {whole_json:.1f} MiB"
        )
        engine.dispose()


def _archive_rows(deal_id: str, events: list[Event]) -> list[dict[str, object]]:
    """Archive rows as the append activity writes them (the payload keeps the recorded deal's id)."""
    rows: list[dict[str, object]] = []
    prev = GENESIS_HASH
    for event in events:
        payload = event.canonical_json()
        digest = chain_hash(prev, payload)
        rows.append(
            {
                "deal_id": deal_id,
                "seq": event.seq,
                "type": event.type,
                "occurred_at": event.occurred_at,
                "actor_id": event.actor.id,
                "actor_role": event.actor.role.value,
                "command_id": event.command_id,
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
                "recorded_at": datetime.now(UTC),
            }
        )
        prev = digest
    return rows


def _rows(deals: int, per_deal: int) -> list[dict[str, object]]:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    recorded = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for d in range(deals):
        deal_id = f"BENCH-{d:06d}"
        prev = GENESIS_HASH
        for seq in range(1, per_deal + 1):
            when = start + timedelta(minutes=seq)
            data = {
                "actor": {"centre_id": "centre-jian", "id": "broker-zhang", "role": "broker"},
                "command_id": f"cmd-{deal_id}-{seq}",
                "deal_id": deal_id,
                "occurred_at": when.isoformat().replace("+00:00", "Z"),
                "payload": {"note": "指标与预算已核实", "type": "DemandValidated"},
                "seq": seq,
            }
            payload = canonical_json(data)
            digest = chain_hash(prev, payload)
            rows.append(
                {
                    "deal_id": deal_id,
                    "seq": seq,
                    "type": "DemandValidated",
                    "occurred_at": when,
                    "actor_id": "broker-zhang",
                    "actor_role": "broker",
                    "command_id": data["command_id"],
                    "payload": payload,
                    "prev_hash": prev,
                    "hash": digest,
                    "recorded_at": recorded,
                }
            )
            prev = digest
    return rows


def bench_verify(events: int, backend: Backend) -> None:
    from audit.verify import verify_archive

    per_deal = 100
    with migrated_database(backend) as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        setup = time.perf_counter()
        rows = _rows(events // per_deal, per_deal)
        with sessions.begin() as session:
            for i in range(0, len(rows), 20_000):
                session.execute(insert(EventRecord), rows[i : i + 20_000])
        del rows
        print(f"setup: {events} events generated and inserted into {backend} in {time.perf_counter() - setup:.1f} s")
        started, cpu = time.perf_counter(), time.process_time()
        with sessions() as session:
            report = verify_archive(session)
        elapsed = time.perf_counter() - started
        assert report.intact and report.events == events, report.problems[:3]
        print(
            f"verify: {report.events} events of {report.deals} deals in {elapsed:.1f} s "
            f"= {report.events / elapsed:,.0f} events/s ({time.process_time() - cpu:.1f} s CPU)"
        )
        engine.dispose()


PARTS = ("replay", "store", "memory", "verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="times the recorded histories are replayed")
    parser.add_argument("--deals", type=int, default=200, help="deals re-derived from the store")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the archive that is verified")
    parser.add_argument("--history-events", type=int, default=50_000, help="events in the large history")
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--cpu", type=int, default=min(os.sched_getaffinity(0)), help="the one core to run on")
    parser.add_argument("--repeat", type=int, default=3, help="replay runs per figure (the best is reported)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which parts to run, of {','.join(PARTS)}")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}; allowed: {', '.join(PARTS)}")
    os.sched_setaffinity(0, {args.cpu})  # one core: the target is per core
    if "replay" in parts:
        asyncio.run(bench_replay(args.rounds, args.repeat))
    if "store" in parts:
        asyncio.run(bench_rederive_store(args.deals, args.backend))
    if "memory" in parts:
        bench_memory(args.history_events, args.backend)
    if "verify" in parts:
        bench_verify(args.events, args.backend)
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
