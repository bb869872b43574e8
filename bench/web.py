"""Inbox and dashboard page server time with 10,000 deals in the PostgreSQL read model (issue 5: p95 under 200 ms).

Seeds `deals` rows and their `stage_visits` directly (no workflows: these pages read only the read models), signs in
one user per scope and times full page renders in-process through ASGI, so the figure is the server's time without
the network. A broker's action from click to updated page is `bench.web_action`.

    .venv/bin/python -m bench.web [--deals 10000] [--requests 200] [--database-url postgresql+psycopg2://…]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import insert
from temporalio.client import Client

from domain.actors import Role
from domain.stages import OPEN_STAGES, Stage
from store.db import make_engine, make_session_factory, migrate
from store.models import DealRecord, StageVisitRecord
from store.testing import migrated_database
from tests.web.conftest import PASSWORD, sign_in
from web.app import create_app
from web.config import WebConfig
from web.users import create_user

CENTRES = [f"centre-{i:02d}" for i in range(12)]
BROKERS_PER_CENTRE = 25


def seed(url: str, n: int) -> None:
    rng = random.Random(5)
    now = datetime.now(UTC)
    rows = []
    visits = []
    cities = ["360100", "360400", "360700", "360800", "360900", "361000", "361100", "360200", "360300", "360500", "360600"]
    industries = ["C3425", "C3841", "C2661", "A0511", "I6513", "C2710", "M7320", "C3985"]
    for i in range(n):
        centre = rng.choice(CENTRES)
        stage = rng.choice([*OPEN_STAGES, *OPEN_STAGES, Stage.SIGNED])
        entered = now - timedelta(days=rng.randint(0, 60))
        due = None if stage == Stage.SIGNED else entered + timedelta(days=rng.randint(5, 40))
        rows.append(
            {
                "deal_id": f"B-{i:05d}",
                "title": f"技术需求 {i}",
                "enterprise_name": f"企业 {i % 997}",
                "stage": stage.value,
                "broker_id": f"{centre}-broker-{rng.randrange(BROKERS_PER_CENTRE)}",
                "centre_id": centre,
                "industry_code": rng.choice(industries),
                "region_code": rng.choice(cities)[:4] + rng.choice(["00", "02", "21", "81"]),
                "stage_entered_at": entered,
                "stage_due_at": due,
                "next_due_at": due,
                "due_provisional": False,
                "escalation_level": rng.choice([0, 0, 0, 1, 2]),
                "financing_need_fen": 0,
                "committed_fen": 0,
                "contract_value_fen": rng.randrange(10, 3000) * 1_000_000 if stage == Stage.SIGNED else None,
                "technical_value_fen": None,
                "last_seq": 5,
                "last_event_at": entered,
                "updated_at": now,
            }
        )
        # The stays before the current stage: one visit each, closed, a few days to a few weeks long.
        start = entered
        order = [*OPEN_STAGES, Stage.SIGNED]
        for k, earlier in enumerate(reversed(order[: order.index(stage)])):
            days = rng.uniform(0.5, 30)
            visits.append(
                {
                    "deal_id": f"B-{i:05d}",
                    "seq": 10 - k,
                    "stage": earlier.value,
                    "centre_id": centre,
                    "entered_at": start - timedelta(days=days),
                    "left_at": start,
                    "days": days,
                }
            )
            start -= timedelta(days=days)
    with make_session_factory(make_engine(url)).begin() as session:
        session.execute(insert(DealRecord), rows)
        session.execute(insert(StageVisitRecord), visits)
        create_user(session, "bench-hub", PASSWORD, Role.HUB_ADMIN, "省中心", "hub")
        create_user(session, "bench-manager", PASSWORD, Role.MANAGER, "中心管理员", CENTRES[0])
        create_user(session, f"{CENTRES[0]}-broker-0", PASSWORD, Role.BROKER, "经纪人", CENTRES[0])


async def measure(url: str, requests: int) -> None:
    config = WebConfig(database_url=url, secret_key="bench")
    # The inbox never calls Temporal; the bench runs without a server, so no client is given.
    app = create_app(config, cast(Client, None), make_session_factory(make_engine(url, pool_size=5)))
    for user, path in (
        ("bench-hub", "/deals"),
        ("bench-hub", "/deals?stage=MATCHING"),
        ("bench-hub", "/deals?industry=C38&region=360800&sort=activity"),
        ("bench-hub", "/deals?due_by=2099-12-31&sort=due_desc"),
        ("bench-manager", "/deals"),
        ("bench-manager", "/deals?region=360100&industry=C"),
        (f"{CENTRES[0]}-broker-0", "/deals"),
        ("bench-hub", "/dashboard"),
        ("bench-hub", f"/dashboard?centre={CENTRES[0]}"),
        ("bench-manager", "/dashboard"),
        ("bench-hub", "/notifications"),
    ):
        client = await sign_in(app, user)
        for _ in range(10):  # warm-up: connection pool, template compilation
            await client.get(path)
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            answer = await client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200
        rows = answer.text.count("<tr data-")
        p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
        print(f"{user:>22} {path:<50} rows {rows:>4}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a throwaway one on the local server)")
    args = parser.parse_args()
    if args.database_url:
        migrate(args.database_url)
        run(args.database_url, args.deals, args.requests)
    else:
        with migrated_database("postgresql") as url:
            run(url, args.deals, args.requests)


def run(url: str, deals: int, requests: int) -> None:
    t0 = time.perf_counter()
    seed(url, deals)
    print(f"seeded {deals} deals in {time.perf_counter() - t0:.1f} s; page server time over {requests} requests:")
    asyncio.run(measure(url, requests))


if __name__ == "__main__":
    main()
