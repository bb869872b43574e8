"""Registry page server time over the demo corpus (3,500 achievements, 740 demands) in PostgreSQL.

Loads `registry.demo`'s corpus, signs in a broker and times full page renders in-process through ASGI (the server's
time without the network): browsing with and without filters (a late page too), searching by text (scores and
reasons), and a demand's and an achievement's page with their top-10 matches. The first search builds the matcher's
index; the warm-up requests take that cost, so the figures are the steady state.

    .venv/bin/python -m bench.registry_pages [--requests 100] [--database-url postgresql+psycopg2://…]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import cast

from temporalio.client import Client

from domain.actors import Role
from registry.demo import generate_corpus, load_demo
from store.db import make_engine, make_session_factory, migrate
from store.testing import migrated_database
from tests.web.conftest import PASSWORD, sign_in
from web.app import create_app
from web.config import WebConfig
from web.users import create_user


def seed(url: str) -> tuple[str, str]:
    """The demo corpus and a broker; returns a demand id and an achievement id to open."""
    sessions = make_session_factory(make_engine(url))
    corpus = generate_corpus()
    load_demo(sessions, corpus)
    with sessions.begin() as session:
        create_user(session, "bench-broker", PASSWORD, Role.BROKER, "经纪人", "ja-centre")
    return corpus.demands[0].demand_id, corpus.achievements[0].achievement_id


async def measure(url: str, requests: int, demand: str, achievement: str) -> None:
    # The registry pages never call Temporal; the bench runs without a server, so no client is given.
    app = create_app(WebConfig(database_url=url, secret_key="bench"), cast(Client, None), make_session_factory(make_engine(url)))
    client = await sign_in(app, "bench-broker")
    for path in (
        "/registry/achievements",
        "/registry/achievements?industry=C&min_trl=6&max_price_wan=300",
        "/registry/achievements?mode=许可&page=20",
        "/registry/demands?region=360800",
        "/registry/achievements?q=稀土永磁 晶界扩散 矫顽力",
        "/registry/demands?q=锂电池 负极&min_trl=7",
        f"/registry/demands/{demand}",
        f"/registry/achievements/{achievement}",
    ):
        for _ in range(5):  # warm-up: connection pool, templates, the matcher's index
            await client.get(path)
        times = []
        for _ in range(requests):
            t0 = time.perf_counter()
            answer = await client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200, (path, answer.text[:300])
        rows = answer.text.count("<tr data-record")
        p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
        print(f"{path:<62} rows {rows:>3}  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms")
    await client.aclose()


def run(url: str, requests: int) -> None:
    demand, achievement = seed(url)
    asyncio.run(measure(url, requests, demand, achievement))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a throwaway one on the local server)")
    args = parser.parse_args()
    if args.database_url:
        migrate(args.database_url)
        run(args.database_url, args.requests)
    else:
        with migrated_database("postgresql") as url:
            run(url, args.requests)


if __name__ == "__main__":
    main()
