"""The audit_jobs table on SQLite and PostgreSQL: one running job per scope, progress, and reaping the orphans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from store import audit_jobs as table
from store.audit_jobs import Owner

T0 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
HERE = Owner("host-a", 101, "runner-1")
ELSEWHERE = Owner("host-b", 202, "runner-2")


def _status(sessions: sessionmaker[Session], job_id: str) -> tuple[str, str | None]:
    with sessions() as session:
        job = table.get_job(session, job_id)
        assert job is not None
        return job.status, job.error


def test_one_running_job_per_scope_whichever_process_starts_it(session_factory: sessionmaker[Session]) -> None:
    first = table.start_job(session_factory, "job-1", "verify", "centre:ja", "auditor-zhao", HERE, T0)
    assert first is not None
    assert table.start_job(session_factory, "job-2", "verify", "centre:ja", "hub-admin", ELSEWHERE, T0) is None
    other_scope = table.start_job(session_factory, "job-3", "verify", "all", "hub-admin", ELSEWHERE, T0)
    assert other_scope is not None
    with session_factory() as session:
        running = table.running_job(session, "verify", "centre:ja")
        assert running is not None and running.id == "job-1" and running.started_by == "auditor-zhao"
    # Once the first has ended, the scope can be verified again.
    with session_factory.begin() as session:
        report = '{"scope": "centre ja"}'
        table.finish_job(session, "job-1", "done", T0 + timedelta(seconds=5), report=report, events_done=7, deals_done=1)
    later = T0 + timedelta(seconds=10)
    assert table.start_job(session_factory, "job-2", "verify", "centre:ja", "hub-admin", ELSEWHERE, later) is not None
    with session_factory() as session:
        assert [j.id for j in table.recent_jobs(session, "verify", ["centre:ja"])] == ["job-2", "job-1"]
        assert {j.id for j in table.recent_jobs(session, "verify")} == {"job-1", "job-2", "job-3"}
        done = table.get_job(session, "job-1")
        assert done is not None and (done.status, done.events_done, done.report) == ("done", 7, '{"scope": "centre ja"}')


def test_progress_is_written_only_while_the_job_runs(session_factory: sessionmaker[Session]) -> None:
    table.start_job(session_factory, "job-p", "verify", "all", "auditor-zhao", HERE, T0)
    with session_factory.begin() as session:
        table.record_progress(session, "job-p", events_done=500, deals_done=3, events_total=1000, now=T0 + timedelta(seconds=2))
    with session_factory() as session:
        job = table.get_job(session, "job-p")
        assert job is not None and (job.events_done, job.deals_done, job.events_total) == (500, 3, 1000)
        assert job.heartbeat_at == T0 + timedelta(seconds=2)
    with session_factory.begin() as session:
        table.finish_job(session, "job-p", "interrupted", T0 + timedelta(seconds=3), error=table.PROCESS_STOPPED)
        table.record_progress(session, "job-p", events_done=900, deals_done=5, events_total=1000, now=T0 + timedelta(seconds=4))
    with session_factory() as session:
        job = table.get_job(session, "job-p")
        assert job is not None and (job.status, job.events_done) == ("interrupted", 500)


def test_reap_interrupts_jobs_of_gone_or_silent_processes_and_leaves_live_ones(session_factory: sessionmaker[Session]) -> None:
    gone = Owner("host-a", 999, "runner-dead")
    table.start_job(session_factory, "live", "verify", "centre:a", "auditor-zhao", HERE, T0 + timedelta(seconds=55))
    table.start_job(session_factory, "dead", "verify", "centre:b", "auditor-zhao", gone, T0 + timedelta(seconds=55))
    table.start_job(session_factory, "silent", "verify", "centre:c", "auditor-zhao", ELSEWHERE, T0)
    table.start_job(session_factory, "finished", "verify", "centre:d", "auditor-zhao", gone, T0)
    with session_factory.begin() as session:
        table.finish_job(session, "finished", "done", T0 + timedelta(seconds=1), report="{}")
    now = T0 + timedelta(seconds=60)
    with session_factory.begin() as session:
        reaped = table.reap(session, stale_before=now - timedelta(seconds=30), is_gone=lambda owner: owner == gone, now=now)
    assert reaped == 2
    assert _status(session_factory, "live") == ("running", None)
    assert _status(session_factory, "dead") == ("interrupted", table.PROCESS_GONE)
    assert _status(session_factory, "silent") == ("interrupted", table.HEARTBEAT_STALE)
    assert _status(session_factory, "finished") == ("done", None)
    # The interrupted scope can be started again; reaping again changes nothing.
    assert table.start_job(session_factory, "again", "verify", "centre:b", "auditor-zhao", HERE, now) is not None
    with session_factory.begin() as session:
        assert table.reap(session, stale_before=now - timedelta(seconds=30), is_gone=lambda owner: owner == gone, now=now) == 0
