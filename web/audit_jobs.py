"""Chain verifications that may take long (a centre, the whole archive) run as jobs kept in the database.

A page only starts a job or shows how it stands, so no request waits for a million events to be hashed. A job is a
row of `audit_jobs` (store.audit_jobs), so every web process shows it and it outlives the process that ran it. It
runs on a thread of that process, off the event loop, reading the archive through its own session; a second thread
writes its progress and a heartbeat every `heartbeat` seconds. A running job whose process is gone is marked
interrupted when a page next reads the jobs: on the same machine as soon as its process id no longer runs (or, for
this process, its runner is gone), elsewhere once its heartbeat is `stale` seconds old. At most one job per scope
runs at a time (a partial unique index), so a second request for the same scope is shown the running one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from audit.verify import VerificationReport, events_to_verify, verify_archive, verify_centre
from store import audit_jobs as table
from store.audit_jobs import JobStatus, Owner
from store.models import AuditJobRecord
from web.scope import ARCHIVE_SCOPE

KIND = "verify"
log = logging.getLogger(__name__)
_LIVE: weakref.WeakSet[VerificationJobs] = weakref.WeakSet()  # this process's runners: their jobs are not orphans


class JobStopped(Exception):
    """The web process is stopping: the job ends as interrupted, to be started again."""


@dataclass(frozen=True)
class VerificationJob:
    """A job as its page shows it."""

    id: str
    scope: str  # "all" or "centre:<id>"
    started_by: str
    started_at: datetime
    status: JobStatus
    events_done: int
    deals_done: int
    events_total: int | None
    heartbeat_at: datetime
    finished_at: datetime | None
    report: VerificationReport | None
    error: str | None

    @property
    def centre_id(self) -> str | None:
        """The centre whose deals are verified; None for the whole archive."""
        return self.scope.removeprefix("centre:") if self.scope != ARCHIVE_SCOPE else None

    @property
    def percent(self) -> int | None:
        if not self.events_total:
            return None
        return min(100, self.events_done * 100 // self.events_total)

    @classmethod
    def of(cls, row: AuditJobRecord) -> VerificationJob:
        report = VerificationReport.model_validate_json(row.report) if row.report else None
        return cls(
            row.id,
            row.scope,
            row.started_by,
            row.started_at,
            row.status,  # type: ignore[arg-type]  # written only from JobStatus
            row.events_done,
            row.deals_done,
            row.events_total,
            row.heartbeat_at,
            row.finished_at,
            report,
            row.error,
        )


@dataclass
class _Running:
    """A job this process runs: how far it has got (written by its thread, read by its heartbeat)."""

    id: str
    scope: str
    events_total: int | None = None
    events_done: int = 0
    deals_done: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def progress(self, report: VerificationReport) -> None:
        self.events_done, self.deals_done = report.events, report.deals
        if self.stop.is_set():
            raise JobStopped


class VerificationJobs:
    """The verification jobs of the archive at `sessions`, and the ones this web process runs."""

    def __init__(self, sessions: sessionmaker[Session], heartbeat: float = 2.0, stale: float = 30.0) -> None:
        self._sessions = sessions
        self._heartbeat = heartbeat
        self._stale = timedelta(seconds=stale)
        self.owner = Owner(_machine(), os.getpid(), uuid.uuid4().hex)
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        _LIVE.add(self)

    def start(self, scope: str, started_by: str) -> str:
        """Start verifying `scope` on a thread; returns the job's id, or the running job's when there is one."""
        self.reap()
        job_id = uuid.uuid4().hex[:16]
        row = table.start_job(self._sessions, job_id, KIND, scope, started_by, self.owner, _now())
        if row is None:
            with self._sessions() as session:
                running = table.running_job(session, KIND, scope)
            if running is not None:
                return running.id
            # It ended between our insert and this read: try once more.
            row = table.start_job(self._sessions, job_id, KIND, scope, started_by, self.owner, _now())
            if row is None:
                raise RuntimeError(f"a verification of {scope} keeps starting elsewhere; try again")
        job = _Running(job_id, scope)
        with self._lock:
            self._running[job_id] = job
        job.threads = [
            threading.Thread(target=self._run, args=(job,), name=f"audit-job-{job_id}", daemon=True),
            threading.Thread(target=self._beat, args=(job,), name=f"audit-job-{job_id}-heartbeat", daemon=True),
        ]
        for thread in job.threads:
            thread.start()
        return job_id

    def get(self, job_id: str) -> VerificationJob | None:
        self.reap()
        with self._sessions() as session:
            row = table.get_job(session, job_id)
            return VerificationJob.of(row) if row is not None and row.kind == KIND else None

    def recent(self, scopes: list[str] | None, limit: int = 20) -> list[VerificationJob]:
        """The newest jobs, of `scopes` only when given (None: every scope)."""
        self.reap()
        with self._sessions() as session:
            return [VerificationJob.of(row) for row in table.recent_jobs(session, KIND, scopes, limit)]

    def reap(self) -> int:
        """Mark the running jobs whose process is gone as interrupted."""
        now = _now()
        with self._sessions.begin() as session:
            return table.reap(session, stale_before=now - self._stale, is_gone=_gone, now=now)

    def running_here(self) -> int:
        with self._lock:
            return len(self._running)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop this process's jobs (they end as interrupted, to be started again) and wait for their threads."""
        with self._lock:
            jobs = list(self._running.values())
        for job in jobs:
            job.stop.set()
        for job in jobs:
            for thread in job.threads:
                thread.join(timeout)
        _LIVE.discard(self)

    def _run(self, job: _Running) -> None:
        status: JobStatus = "failed"
        report: VerificationReport | None = None
        error: str | None = None
        try:
            centre = job.scope.removeprefix("centre:") if job.scope != ARCHIVE_SCOPE else None
            with self._sessions() as session:
                job.events_total = events_to_verify(session, centre)
                progress = job.progress
                report = verify_archive(session, progress) if centre is None else verify_centre(session, centre, progress)
            status = "done"
            job.events_done, job.deals_done = report.events, report.deals
        except JobStopped:
            status, error = "interrupted", table.PROCESS_STOPPED
        except Exception as exc:  # shown on the job's page; the archive is only read
            log.exception("verification job %s (%s) failed", job.id, job.scope)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished.set()
            try:
                with self._sessions.begin() as session:
                    table.finish_job(
                        session,
                        job.id,
                        status,
                        _now(),
                        report=report.model_dump_json() if report is not None else None,
                        error=error,
                        events_done=job.events_done,
                        deals_done=job.deals_done,
                    )
            except Exception:  # the database went away: the job stays running until it is reaped
                log.exception("verification job %s could not record its end (%s)", job.id, status)
            with self._lock:
                self._running.pop(job.id, None)

    def _beat(self, job: _Running) -> None:
        """Every `heartbeat` seconds until the job ends: its progress, which also says its process is alive."""
        while not job.finished.wait(self._heartbeat):
            try:
                with self._sessions.begin() as session:
                    table.record_progress(
                        session,
                        job.id,
                        events_done=job.events_done,
                        deals_done=job.deals_done,
                        events_total=job.events_total,
                        now=_now(),
                    )
            except Exception:  # a missed beat is not fatal; enough of them and the job is reaped
                log.warning("verification job %s: heartbeat not written", job.id, exc_info=True)


def _machine() -> str:
    """Where process ids mean the same as here: the host, and on Linux the process-id namespace (two containers on
    one host may share its name, with process ids of their own)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}/{namespace}" if namespace else socket.gethostname()


def _gone(owner: Owner) -> bool:
    """Whether the process that runs a job is known to be gone; only a process on this machine can be looked at."""
    if owner.host != _machine():
        return False  # its heartbeat tells
    if owner.pid == os.getpid():
        return owner.instance not in {runner.owner.instance for runner in _LIVE}
    try:
        os.kill(owner.pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


def _now() -> datetime:
    return datetime.now(UTC)
