"""Evidence bundles: one deal's or a period's archive, histories and verification, checkable offline.

Layout (a directory, or the same tree in a .zip):

    manifest.json                       what is in the bundle and the SHA-256 of every other file
    manifest.sha256                     the SHA-256 of manifest.json (write it down elsewhere to anchor the bundle)
    verification.json                   the archive's verification report when the bundle was made
    deals/<deal_id>/events.jsonl        the archived rows, one JSON object per line, with their stored hashes
    deals/<deal_id>/history/run-<n>.json  each run's Temporal history (`temporal workflow show --output json` form)

`verify_bundle` needs nothing but this package: no Temporal server, no database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from google.protobuf.json_format import ParseDict
from sqlalchemy import Row, distinct, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from audit.histories import HistoryUnavailable, RunHistory, runs_with, stored_runs
from audit.history_codec import JSON_HEAD, JSON_TAIL, json_chunks
from audit.verify import ChainChecker, verify_deal
from store.models import EventRecord

FORMAT = "kuayue-evidence/1"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
_ROW_FIELDS = ("deal_id", "seq", "type", "occurred_at", "actor_id", "actor_role", "command_id", "payload", "prev_hash", "hash")
_ROW_COLUMNS = [getattr(EventRecord, name) for name in (*_ROW_FIELDS, "recorded_at")]


def deals_in_period(session: Session, since: datetime, until: datetime) -> list[str]:
    """Deals with at least one event in [since, until)."""
    query = select(distinct(EventRecord.deal_id)).where(EventRecord.occurred_at >= since, EventRecord.occurred_at < until)
    return sorted(session.scalars(query))


async def export_bundle(client: Client | None, sessions: sessionmaker[Session], deal_ids: list[str], out: Path) -> Path:
    """Write the bundle of `deal_ids` to `out` (a directory, or a .zip when the name ends so); returns `out`.

    The bundle is written on a worker thread, so the caller's event loop (a web server's) stays free while rows are
    read, hashed and compressed. The Temporal client is not thread-safe: the thread asks this loop for each deal's
    runs from Temporal and reads everything else itself. See `write_bundle`.
    """
    loop = asyncio.get_running_loop()

    def runs_of(deal_id: str) -> list[RunHistory]:
        kept = stored_runs(sessions, deal_id)  # the database, on this thread
        return asyncio.run_coroutine_threadsafe(runs_with(client, deal_id, kept), loop).result()

    return await asyncio.to_thread(write_bundle, sessions, deal_ids, out, runs_of)


def write_bundle(
    sessions: sessionmaker[Session], deal_ids: list[str], out: Path, runs_of: Callable[[str], list[RunHistory]]
) -> Path:
    """Write the bundle of `deal_ids` to `out`, with each deal's runs from `runs_of` (raises HistoryUnavailable).

    Every file is streamed into the bundle while its SHA-256 is computed: archived rows are read in batches and
    a kept history is decompressed and written event by event, so a large deal is never held whole (a run read
    from Temporal arrives whole from the SDK and is written event by event). The bundle is written under a
    temporary name and renamed at the end, so a failed export leaves nothing that looks like a bundle.
    """
    histories: dict[str, dict[str, Any]] = {}
    missing_histories: list[str] = []
    reports = []
    with _BundleWriter(out) as writer:
        for deal_id in deal_ids:
            with sessions() as session:
                # Columns, not ORM objects: the session would keep every loaded object until it closes.
                rows = session.execute(
                    select(*_ROW_COLUMNS)
                    .where(EventRecord.deal_id == deal_id)
                    .order_by(EventRecord.seq)
                    .execution_options(yield_per=1_000)
                )
                writer.write(f"deals/{deal_id}/events.jsonl", (_row_line(row) for row in rows))
                reports.append(verify_deal(session, deal_id))
            try:
                runs = runs_of(deal_id)
            except HistoryUnavailable:
                missing_histories.append(deal_id)
                continue
            for run in runs:
                name = f"deals/{deal_id}/history/run-{run.run_index}.json"
                writer.write(name, json_chunks(run.iter_events()))
                histories[name] = {"workflow_id": run.workflow_id, "run_id": run.run_id, "source": run.source}
        report_bytes = json.dumps([r.model_dump() for r in reports], ensure_ascii=False, indent=2).encode("utf-8")
        writer.write("verification.json", [report_bytes])
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "deals": deal_ids,
            "histories": histories,
            "deals_without_history": missing_histories,
            "files": dict(sorted(writer.sums.items())),
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
        writer.write(MANIFEST, [manifest_bytes])
        writer.write(MANIFEST_SUM, [f"{_sha256(manifest_bytes)}  {MANIFEST}\n".encode()])
    return out


def _row_line(row: Row[Any]) -> bytes:
    values = {name: getattr(row, name) for name in _ROW_FIELDS}
    values["occurred_at"] = row.occurred_at.isoformat()
    values["recorded_at"] = row.recorded_at.isoformat()
    return (json.dumps(values, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _BundleWriter:
    """Streams files into a directory or a .zip under a temporary name; renamed to `out` only on success."""

    def __init__(self, out: Path) -> None:
        self._out = out
        self._partial = out.with_name(out.name + ".partial")
        self._zip: zipfile.ZipFile | None = None
        self.sums: dict[str, str] = {}

    def __enter__(self) -> _BundleWriter:
        if self._out.exists():
            raise FileExistsError(f"{self._out} exists already; choose a new name for the bundle")
        self._partial.parent.mkdir(parents=True, exist_ok=True)
        if self._out.suffix == ".zip":
            self._zip = zipfile.ZipFile(self._partial, "w", compression=zipfile.ZIP_DEFLATED)
        else:
            self._partial.mkdir()
        return self

    def write(self, name: str, chunks: Iterable[bytes]) -> None:
        digest = hashlib.sha256()
        if self._zip is not None:
            with self._zip.open(name, "w", force_zip64=True) as target:
                for chunk in chunks:
                    digest.update(chunk)
                    target.write(chunk)
        else:
            path = self._partial / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as target:
                for chunk in chunks:
                    digest.update(chunk)
                    target.write(chunk)
        if name not in (MANIFEST, MANIFEST_SUM):
            self.sums[name] = digest.hexdigest()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._zip is not None:
            self._zip.close()
        if kind is None:
            self._partial.rename(self._out)
        elif self._partial.is_dir():
            shutil.rmtree(self._partial)
        else:
            self._partial.unlink(missing_ok=True)


class _Bundle:
    """Reads a bundle's files from a directory or a .zip by their bundle names."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._zip = zipfile.ZipFile(path) if path.is_file() else None

    def names(self) -> set[str]:
        if self._zip is not None:
            return {info.filename for info in self._zip.infolist() if not info.is_dir()}
        return {p.relative_to(self._path).as_posix() for p in self._path.rglob("*") if p.is_file()}

    def read(self, name: str) -> bytes:
        return self._zip.read(name) if self._zip is not None else (self._path / name).read_bytes()

    def open(self, name: str) -> IO[bytes]:
        return self._zip.open(name) if self._zip is not None else (self._path / name).open("rb")

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open(name) as data:
            while chunk := data.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()


@dataclass(frozen=True)
class _BundleRow:
    deal_id: str
    seq: int
    type: str
    occurred_at: datetime
    actor_id: str
    actor_role: str
    command_id: str | None
    payload: str
    prev_hash: str
    hash: str


def verify_bundle(path: Path) -> list[str]:
    """Problems found in the bundle at `path`, one sentence each; empty when it is intact."""
    try:
        return _verify_bundle(_Bundle(path))
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        # A damaged zip (a changed byte fails its CRC or its structure) is a finding, not a crash.
        return [f"{path}: the bundle cannot be read ({type(exc).__name__}: {exc})"]


def _verify_bundle(bundle: _Bundle) -> list[str]:
    names = bundle.names()
    if MANIFEST not in names:
        return [f"no {MANIFEST}; this is not a Kuayue evidence bundle"]
    problems: list[str] = []
    manifest_bytes = bundle.read(MANIFEST)
    if MANIFEST_SUM in names:
        recorded = bundle.read(MANIFEST_SUM).decode("utf-8", "replace").split()[:1]
        if recorded != [_sha256(manifest_bytes)]:
            problems.append(f"{MANIFEST} hashes to {_sha256(manifest_bytes)}, but {MANIFEST_SUM} records {recorded}")
    else:
        problems.append(f"{MANIFEST_SUM} is missing")
    try:
        manifest = json.loads(manifest_bytes)
        listed: dict[str, str] = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return [*problems, f"{MANIFEST} cannot be read: {exc}"]
    for name in sorted(names - set(listed) - {MANIFEST, MANIFEST_SUM}):
        problems.append(f"{name}: not listed in the manifest (added?)")
    for name, expected in sorted(listed.items()):
        if name not in names:
            problems.append(f"{name}: listed in the manifest but missing")
        elif (actual := bundle.sha256(name)) != expected:
            problems.append(f"{name}: SHA-256 {actual} differs from the manifest's {expected}")
    # Files are read line by line below, so a large deal is checked without holding its files.
    for name in sorted(n for n in listed if n.endswith("/events.jsonl") and n in names):
        with bundle.open(name) as data:
            problems.extend(_chain_problems(name, data))
    for name, run in sorted(manifest.get("histories", {}).items()):
        if name in names:
            with bundle.open(name) as data:
                problems.extend(_history_problems(name, run, data))
    return problems


def _chain_problems(name: str, data: IO[bytes]) -> Iterator[str]:
    checker = ChainChecker(name)
    for number, raw in enumerate(data, start=1):
        line = raw.decode("utf-8", "replace")
        try:
            values = json.loads(line)
            fields = {k: values[k] for k in _ROW_FIELDS}
            checker.check(_BundleRow(**{**fields, "occurred_at": datetime.fromisoformat(fields["occurred_at"])}))
        except (ValueError, KeyError, TypeError) as exc:
            yield f"{name} line {number}: not an archived event row ({type(exc).__name__}: {exc})"
    yield from (f"{name}: {p.describe()}" for p in checker.report.problems)


def _history_problems(name: str, run: dict[str, Any], data: IO[bytes]) -> Iterator[str]:
    """Whether the file is the history of the run the manifest names; read event by event in the form `json_chunks`
    writes (one event a line), whole in any other JSON form (bundles written before)."""
    try:
        first_line = data.readline()
        if first_line.strip() == JSON_HEAD:
            first = next(_events_by_line(data), None)
            run_id = first.workflow_execution_started_event_attributes.original_execution_run_id if first else ""
            for _ in _events_by_line(data):
                pass  # every event must parse
        else:
            history = WorkflowHistory.from_json(run["workflow_id"], (first_line + data.read()).decode("utf-8"))
            run_id = history.run_id
        if run_id != run["run_id"]:
            yield f"{name}: history of run {run_id}, but the manifest says {run['run_id']}"
    except Exception as exc:  # any parse failure is a finding, whatever the protobuf layer raises
        yield f"{name}: not a readable Temporal history ({type(exc).__name__}: {exc})"


def _events_by_line(data: IO[bytes]) -> Iterator[HistoryEvent]:
    for raw in data:
        line = raw.strip().removesuffix(b",")
        if line == JSON_TAIL:
            return
        yield ParseDict(json.loads(line), HistoryEvent())
    raise ValueError("the history ends before its closing ]}")
