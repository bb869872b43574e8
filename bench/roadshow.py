"""A roadshow of N deals on the dev server: its start, the interest round trip and the roadshow pages.

    .venv/bin/python -m bench.roadshow --deals 20 --renders 50

N deals are taken to FINANCING; one roadshow is started with all of them and two investors (one opening, as the web
page does); one interest per deal is registered through the `execute` update (each answered once archived, then
forwarded to its deal); then the roadshow's page (which folds every forwarded deal's archive for its commitment) and
the list are rendered in-process through ASGI as the hub admin. Prints p50/p95 and the process's CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import tempfile
import time
import uuid
from datetime import date

import httpx
from temporalio.testing import WorkflowEnvironment

from domain.actors import Actor, Role
from domain.partners import Instrument, PartnerKind
from domain.roadshow import InvitedInvestor, InviteInvestor, PresentDeal, RegisterInterest, RoadshowMode, ScheduleRoadshow
from kuayue import roadshows
from kuayue.devserver import find_executable
from kuayue.temporal import client_options
from store.db import make_engine, make_session_factory, migrate
from store.roadshows import interests
from tests.factories import EXAMPLE_FILES, open_command
from tests.partnering import take_to_financing
from tests.workflows.conftest import Kuayue
from web.app import create_app
from web.config import WebConfig
from web.users import create_user
from worker import build_worker
from workflows import search_attributes

HUB = Actor(id="hub-admin", role=Role.HUB_ADMIN, centre_id="hub")
PASSWORD = "bench-password-not-secret"


def _p(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1]


def _line(what: str, values: list[float]) -> str:
    return f"{what}: n={len(values)} p50 {statistics.median(values):.1f} ms, p95 {_p(values, 95):.1f} ms"


async def main(deals: int, renders: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/kuayue.db"
        migrate(db_url)
        sessions = make_session_factory(make_engine(db_url))
        with sessions.begin() as session:
            create_user(session, HUB.id, PASSWORD, Role.HUB_ADMIN, "省中心", "hub")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            search_attributes=search_attributes.ALL,
            ui=False,
            **client_options(),
        )
        async with env:
            queue = f"bench-{uuid.uuid4()}"
            async with build_worker(env.client, queue, db_url):
                kuayue = Kuayue(env.client, queue, sessions)
                opened = []
                for n in range(deals):
                    cmd = open_command(EXAMPLE_FILES[n % 3], deal_id=f"bench-rs-{n:03d}-{uuid.uuid4().hex[:6]}")
                    await kuayue.start(cmd)
                    await take_to_financing(kuayue, cmd)
                    opened.append(cmd)
                roadshow_id = f"RS-BENCH-{uuid.uuid4().hex[:8]}"
                schedule = ScheduleRoadshow(
                    command_id="s",
                    actor=HUB,
                    roadshow_id=roadshow_id,
                    title="基准路演",
                    held_on=date(2026, 12, 18),
                    mode=RoadshowMode.ONLINE,
                    centre_id="hub",
                )
                opening = [PresentDeal(command_id=f"p-{c.deal_id}", actor=HUB, deal_id=c.deal_id) for c in opened]
                opening += [
                    InviteInvestor(command_id=f"i-{p}", actor=HUB, investor=InvitedInvestor(partner_id=p, name=p, kind=k))
                    for p, k in (("jxbank", PartnerKind.BANK), ("jxfund", PartnerKind.FUND))
                ]
                cpu0, t0 = time.process_time(), time.perf_counter()
                await roadshows.start(env.client, sessions, queue, schedule, opening)
                start_ms = (time.perf_counter() - t0) * 1000
                round_trips = []
                for c in opened:
                    command = RegisterInterest(
                        command_id=f"r-{c.deal_id}",
                        actor=HUB,
                        investor_id="jxbank",
                        deal_id=c.deal_id,
                        amount_fen=100_000_000,
                        instrument=Instrument.LOAN,
                    )
                    t = time.perf_counter()
                    await roadshows.send(env.client, roadshow_id, command)
                    round_trips.append((time.perf_counter() - t) * 1000)
                while True:  # every interest forwarded to its deal (or refused by it)
                    with sessions() as session:
                        if all(i.status != "pending" for i in interests(session, roadshow_id)):
                            break
                    await asyncio.sleep(0.1)
                commands_cpu = time.process_time() - cpu0

                config = WebConfig(database_url=db_url, secret_key="bench-secret", task_queue=queue)
                app = create_app(config, env.client, sessions)
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as web:
                    login = await web.get("/login")
                    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
                    assert token
                    await web.post("/login", data={"username": HUB.id, "password": PASSWORD, "csrf_token": token.group(1)})
                    timings: dict[str, list[float]] = {}
                    cpu1 = time.process_time()
                    for path in (f"/roadshows/{roadshow_id}", "/roadshows", f"/deals/{opened[0].deal_id}"):
                        for _ in range(5):
                            assert (await web.get(path)).status_code == 200
                        values = timings.setdefault(path, [])
                        for _ in range(renders):
                            t = time.perf_counter()
                            answer = await web.get(path)
                            values.append((time.perf_counter() - t) * 1000)
                            assert answer.status_code == 200
                    pages_cpu = time.process_time() - cpu1
    print(f"roadshow of {deals} deals and 2 investors; load average {os.getloadavg()[0]:.2f}")
    print(f"start (opening with {len(opening)} commands, archived): {start_ms:.0f} ms")
    print(_line("register interest round trip (archived before the answer)", round_trips))
    print(f"CPU of this process (client, worker, activities), start to last forwarding: {commands_cpu:.2f} s")
    for path, values in timings.items():
        print(_line(f"GET {path.replace(roadshow_id, '{id}').replace(opened[0].deal_id, '{deal}')}", values))
    print(f"CPU for {sum(len(v) for v in timings.values())} page renders: {pages_cpu:.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=20)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.deals, args.renders))
