"""Audit benchmark: replay + re-derive recorded deal histories, and verify the hash chain of a large synthetic archive.

    .venv/bin/python -m bench.audit [--rounds 5] [--events 1000000] [--backend sqlite|postgresql]

Replay runs in this one process (the SDK's Replayer, the production sandbox and data converter). The archive is
generated and inserted before the clock starts; only `audit.verify.verify_archive` is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from temporalio.client import WorkflowHistory

from audit.replay import DealReplayer
from domain.events import canonical_json
from store.chain import GENESIS_HASH, chain_hash
from store.db import make_engine, make_session_factory
from store.models import EventRecord
from store.testing import BACKENDS, Backend, migrated_database

HISTORIES = Path(__file__).resolve().parents[1] / "tests" / "histories"


async def bench_replay(rounds: int) -> None:
    paths = sorted(HISTORIES.glob("v2-*.json"))
    histories = [WorkflowHistory.from_json(p.stem, p.read_text(encoding="utf-8")) for p in paths]
    replayer = DealReplayer()
    await replayer.replay(histories)  # warm-up: the first run imports and builds the sandbox
    started, cpu = time.perf_counter(), time.process_time()
    events = 0
    for _ in range(rounds):
        for result in await replayer.replay(histories):
            assert result.replays, result.failure
            events += len(result.events)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    runs = rounds * len(histories)
    print(
        f"replay + re-derive: {runs} histories (v2, {events} domain events) in {elapsed:.2f} s "
        f"= {runs / elapsed:.1f} histories/s ({cpu / runs * 1000:.0f} ms CPU each)"
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="times the 8 recorded v2 histories are replayed")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    args = parser.parse_args()
    asyncio.run(bench_replay(args.rounds))
    bench_verify(args.events, args.backend)
    print(json.dumps({"ok": True}))


if __name__ == "__main__":
    main()
