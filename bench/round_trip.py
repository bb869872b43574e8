"""Where a broker command's round trip goes: each step timed from the deal's history events.

    .venv/bin/python -m bench.round_trip [--deals 20] [--bare] [--stock-server] [--server-file] [--server-arg ARG]

Drives deals one at a time through the lifecycle (as `bench.lifecycle --brokers 1`), then reads each deal's
history and splits every command's round trip at the server's event times (same machine, same clock as the
client's): the update reaching the server, the workflow task that decides and schedules the append, the append
activity, the workflow task that answers, the answer reaching the client. Commands whose histories have the same
shape are grouped; each group prints the median and p95 of every step. `--bare` profiles bench.baseline's
workflow instead of DealWorkflow; `--stock-server` runs the dev server without Kuayue's settings
(kuayue.devserver), `--server-file` with its state in a SQLite file as `kuayue up` does. Also prints the CPU time
the benchmark process (client and worker) and the dev server used per command after a warm-up deal, and how many
activities the server handed back eagerly (its `activity_eager_execution` metric).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import socket
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import starter
from bench.baseline import BareCommand, BareDeal, bare_append, bare_plan
from bench.lifecycle import _scripts
from kuayue.devserver import dynamic_config_args, find_executable, sqlite_pragma_args
from worker import build_worker
from workflows import search_attributes

Marks = list[tuple[float, float]]  # per command: when it was sent, when its answer came


@dataclass(frozen=True)
class Window:
    """One command: when the client sent it and had its answer, and the history events in between."""

    sent: float
    answered: float
    events: tuple[tuple[float, str], ...]

    def steps(self) -> tuple[tuple[str, ...], list[float]]:
        """The shape (event names in order, repeats numbered) and the time in ms from each point to the next."""
        names, times = ["client sends"], [self.sent]
        seen: Counter[str] = Counter()
        for at, name in self.events:
            seen[name] += 1
            names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
            times.append(at)
        names.append("client has the answer")
        times.append(self.answered)
        return tuple(names), [(b - a) * 1000 for a, b in itertools.pairwise(times)]


def _name(event: HistoryEvent, activity_of: dict[int, str]) -> str:
    """The event type in lower case, with the activity's type for activity events (so appends can be told apart)."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
    activity = None
    if event.HasField("activity_task_scheduled_event_attributes"):
        activity = activity_of[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
    elif event.HasField("activity_task_started_event_attributes"):
        activity = activity_of.get(event.activity_task_started_event_attributes.scheduled_event_id)
    elif event.HasField("activity_task_completed_event_attributes"):
        activity = activity_of.get(event.activity_task_completed_event_attributes.scheduled_event_id)
    return f"{name} ({activity})" if activity else name


async def _events(handle: WorkflowHandle[Any, Any]) -> list[tuple[float, str]]:
    """The deal's history as (server time, event name with the activity type)."""
    history = await handle.fetch_history()
    activity_of: dict[int, str] = {}  # scheduled event id -> activity type
    return [(e.event_time.ToMicroseconds() / 1e6, _name(e, activity_of)) for e in history.events]


def _windows(events: list[tuple[float, str]], marks: Marks) -> list[Window]:
    # Server times have microseconds; a half-millisecond margin keeps events stamped at the edges.
    return [
        Window(sent, answered, tuple(ev for ev in events if sent - 0.0005 <= ev[0] <= answered + 0.0005))
        for sent, answered in marks
    ]


@dataclass
class Profile:
    first: list[Window]
    later: list[Window]
    activities: int
    """Activities the deals scheduled, warm-up included (to compare with the server's count of eager ones)."""
    cpu_s: float
    server_cpu_s: float
    wall_s: float


async def _drive(deals: int, one_deal: Callable[[], Awaitable[tuple[WorkflowHandle[Any, Any], Marks]]]) -> Profile:
    """One warm-up deal (imports, caches, the sandbox's first run), then `deals` timed ones, then their histories."""
    warm_up, _ = await one_deal()
    cpu, server, wall = time.process_time(), _server_cpu_seconds(), time.perf_counter()
    runs = [await one_deal() for _ in range(deals)]
    cpu, server, wall = time.process_time() - cpu, _server_cpu_seconds() - server, time.perf_counter() - wall
    first: list[Window] = []
    later: list[Window] = []
    activities = _scheduled(await _events(warm_up))
    for handle, marks in runs:
        events = await _events(handle)
        activities += _scheduled(events)
        windows = _windows(events, marks)
        first.append(windows[0])
        later.extend(windows[1:])
    return Profile(first, later, activities, cpu, server, wall)


def _scheduled(events: list[tuple[float, str]]) -> int:
    return sum(name.startswith("activity_task_scheduled") for _, name in events)


async def profile_kuayue(client: Client, deals: int, db_url: str) -> Profile:
    queue = f"round-trip-{uuid.uuid4()}"
    scripts = iter(_scripts(deals + 1))

    async def one_deal() -> tuple[WorkflowHandle[Any, Any], Marks]:
        cmd, commands = next(scripts)
        marks: Marks = []
        sent = time.time()  # the first window shows the start too
        handle = await starter.start_deal(client, cmd, queue, wait_open=False)
        for command in commands:
            await starter.send_command(client, cmd.deal_id, command)
            marks.append((sent, time.time()))
            sent = time.time()
        await handle.result()
        return handle, marks

    async with build_worker(client, queue, db_url):
        return await _drive(deals, one_deal)


async def profile_bare(client: Client, deals: int) -> Profile:
    queue = f"round-trip-bare-{uuid.uuid4()}"

    async def one_deal() -> tuple[WorkflowHandle[Any, Any], Marks]:
        marks: Marks = []
        sent = time.time()
        handle = await client.start_workflow(BareDeal.run, id=f"bare-{uuid.uuid4()}", task_queue=queue)
        for i in range(10):
            await handle.execute_update(BareDeal.execute, BareCommand(f"c{i}", i % 3 == 0, i == 9))
            marks.append((sent, time.time()))
            sent = time.time()
        await handle.result()
        return handle, marks

    async with Worker(client, task_queue=queue, workflows=[BareDeal], activities=[bare_plan, bare_append]):
        return await _drive(deals, one_deal)


def _percentiles(values: list[float]) -> tuple[float, float]:
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=20)[-1]


def report(title: str, windows: list[Window], shapes: int = 3) -> None:
    totals = [(w.answered - w.sent) * 1000 for w in windows]
    p50, p95 = _percentiles(totals)
    print(f"\n{title}: {len(windows)} commands, round trip p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    groups: dict[tuple[str, ...], list[list[float]]] = defaultdict(list)
    for w in windows:
        shape, steps = w.steps()
        groups[shape].append(steps)
    for shape, rows in sorted(groups.items(), key=lambda g: -len(g[1]))[:shapes]:
        sums = [sum(r) for r in rows]
        s50, s95 = _percentiles(sums)
        print(f"  {len(rows)} commands of this shape (round trip p50 {s50:.1f}, p95 {s95:.1f} ms); ms between events:")
        for i, name in enumerate(shape[1:]):
            m, p = _percentiles([r[i] for r in rows])
            print(f"    {m:6.1f} {p:6.1f}  → {name}")


def _server_cpu_seconds() -> float:
    """CPU time of this process's children (the dev server), from /proc, while they still run."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # ppid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _eager_executions(metrics_port: int, expected: int) -> int:
    """The server's `activity_eager_execution` count; its metrics endpoint is refreshed periodically, so wait a little."""
    count = 0
    async with httpx.AsyncClient() as http:
        for _ in range(25):
            text = (await http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
            count = sum(int(float(n)) for n in re.findall(r"^activity_eager_execution\{[^}]*\} (\S+)$", text, re.MULTILINE))
            if count >= expected:
                break
            await asyncio.sleep(0.2)
    return count


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=20)
    parser.add_argument("--bare", action="store_true", help="profile bench.baseline's bare workflow")
    parser.add_argument("--stock-server", action="store_true", help="the dev server with the CLI's own settings")
    parser.add_argument("--database-url", help="read-model database (default: a temporary SQLite file)")
    parser.add_argument("--server-file", action="store_true", help="the dev server keeps its state in a file (as `kuayue up`)")
    parser.add_argument("--server-arg", action="append", default=[], help="more `temporal server start-dev` arguments")
    args = parser.parse_args()
    metrics_port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(find_executable("temporal")),
            data_converter=pydantic_data_converter,
            search_attributes=search_attributes.ALL,
            dev_server_log_level="error",
            dev_server_extra_args=[
                *([] if args.stock_server else dynamic_config_args()),
                *([] if args.stock_server or not args.server_file else sqlite_pragma_args()),
                *("--metrics-port", str(metrics_port)),
                *args.server_arg,
            ],
            dev_server_database_filename=str(Path(tmp) / "temporal.db") if args.server_file else None,
        )
        async with env:
            if args.bare:
                profile = await profile_bare(env.client, args.deals)
            else:
                profile = await profile_kuayue(env.client, args.deals, db_url)
            eager = await _eager_executions(metrics_port, profile.activities)
    what = "bare workflow" if args.bare else "DealWorkflow"
    settings = "stock settings" if args.stock_server else "Kuayue's settings"
    store = "in a file" if args.server_file else "in memory"
    print(f"{what}, {args.deals} deals one at a time; dev server {store}, {settings}; load {os.getloadavg()[0]:.2f}")
    commands = len(profile.first) + len(profile.later)
    print(
        f"CPU per command: benchmark process (client + worker) {profile.cpu_s / commands * 1000:.1f} ms, "
        f"dev server {profile.server_cpu_s / commands * 1000:.1f} ms; wall {profile.wall_s / commands * 1000:.1f} ms"
    )
    print(f"activities handed back eagerly in the workflow task's answer (server metric): {eager} of {profile.activities}")
    report("the start and each deal's first command (sent at once: it waits for the opening)", profile.first, shapes=1)
    report("the other commands", profile.later)


if __name__ == "__main__":
    asyncio.run(main())
