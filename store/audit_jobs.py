"""The `audit_jobs` table: start, follow, finish and reap the audit jobs the web UI runs.

A job belongs to one process (`Owner`) that writes its progress and a heartbeat while it runs. `reap` marks a
running job 'interrupted' when its process is gone: no heartbeat for longer than the caller allows, or an owner the
caller knows to be dead (on its own machine it can tell). Nothing here knows what a job does; `report` is text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.models import AuditJobRecord

JobStatus: TypeAlias = Literal["running", "done", "failed", "interrupted"]
# Why a job was interrupted, as `error` records it (the pages say it in words).
PROCESS_GONE = "process_gone"  # its process no longer runs (seen on the same machine)
HEARTBEAT_STALE = "heartbeat_stale"  # no heartbeat for too long (its machine is gone, or cannot reach the database)
PROCESS_STOPPED = "process_stopped"  # its process was stopped and stopped the job


@dataclass(frozen=True)
class Owner:
    """A process that runs jobs: its machine, its process id, and the runner in it (a process id comes back)."""

    host: str
    pid: int
    instance: str


def start_job(
    sessions: sessionmaker[Session], job_id: str, kind: str, scope: str, started_by: str, owner: Owner, now: datetime
) -> AuditJobRecord | None:
    """Insert a running job; None when a job of this kind and scope is running already (in any process)."""
    job = AuditJobRecord(
        id=job_id,
        kind=kind,
        scope=scope,
        started_by=started_by,
        started_at=now,
        status="running",
        events_done=0,
        deals_done=0,
        heartbeat_at=now,
        owner_host=owner.host,
        owner_pid=owner.pid,
        owner_instance=owner.instance,
    )
    try:
        with sessions.begin() as session:
            session.add(job)
    except IntegrityError:  # uq_audit_jobs_running_scope: someone was first
        return None
    return job


def running_job(session: Session, kind: str, scope: str) -> AuditJobRecord | None:
    query = select(AuditJobRecord).where(
        AuditJobRecord.kind == kind, AuditJobRecord.scope == scope, AuditJobRecord.status == "running"
    )
    return session.scalars(query).first()


def record_progress(
    session: Session, job_id: str, *, events_done: int, deals_done: int, events_total: int | None, now: datetime
) -> None:
    """The heartbeat, with how far the job has got; a job no longer running is left as it is."""
    session.execute(
        update(AuditJobRecord)
        .where(AuditJobRecord.id == job_id, AuditJobRecord.status == "running")
        .values(events_done=events_done, deals_done=deals_done, events_total=events_total, heartbeat_at=now)
    )


def finish_job(
    session: Session,
    job_id: str,
    status: JobStatus,
    now: datetime,
    *,
    report: str | None = None,
    error: str | None = None,
    events_done: int | None = None,
    deals_done: int | None = None,
) -> None:
    """Record how the job ended. A finished report is recorded even on a job reaped meanwhile: it is still true."""
    values: dict[str, object] = {"status": status, "finished_at": now, "heartbeat_at": now, "report": report, "error": error}
    if events_done is not None:
        values |= {"events_done": events_done, "deals_done": deals_done or 0}
    session.execute(update(AuditJobRecord).where(AuditJobRecord.id == job_id).values(**values))


def reap(session: Session, *, stale_before: datetime, is_gone: Callable[[Owner], bool], now: datetime) -> int:
    """Mark running jobs whose process is gone as interrupted; returns how many."""
    running = session.scalars(select(AuditJobRecord).where(AuditJobRecord.status == "running")).all()
    reaped = 0
    for job in running:
        if is_gone(Owner(job.owner_host, job.owner_pid, job.owner_instance)):
            reason = PROCESS_GONE
        elif job.heartbeat_at < stale_before:
            reason = HEARTBEAT_STALE
        else:
            continue
        # Only if still running and not heard from since it was read: its process may have just finished it.
        marked = session.execute(
            update(AuditJobRecord)
            .where(
                AuditJobRecord.id == job.id,
                AuditJobRecord.status == "running",
                AuditJobRecord.heartbeat_at == job.heartbeat_at,
            )
            .values(status="interrupted", error=reason, finished_at=now)
        )
        reaped += cast(CursorResult[Any], marked).rowcount or 0
    return reaped


def get_job(session: Session, job_id: str) -> AuditJobRecord | None:
    return session.get(AuditJobRecord, job_id)


def recent_jobs(session: Session, kind: str, scopes: Sequence[str] | None = None, limit: int = 20) -> list[AuditJobRecord]:
    """The newest jobs of `kind`, newest first; only those of `scopes` when given."""
    query = select(AuditJobRecord).where(AuditJobRecord.kind == kind)
    if scopes is not None:
        query = query.where(AuditJobRecord.scope.in_(scopes))
    return list(session.scalars(query.order_by(AuditJobRecord.started_at.desc(), AuditJobRecord.id).limit(limit)))
