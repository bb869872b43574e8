"""Chain verifications that may take long (a centre, the whole archive) run as background jobs of the web process.

A page only starts a job or shows how it stands, so no request waits for a million events to be hashed. Jobs live
in memory (a restart forgets them; the archive is unchanged either way) and one job per scope runs at a time: a
second request for the same scope is shown the running one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from audit.verify import VerificationReport

JobStatus = Literal["running", "done", "failed"]
KEPT_JOBS = 50  # finished jobs kept for their pages; older ones are forgotten


@dataclass
class VerificationJob:
    id: str
    scope: str  # "all" or "centre:<id>"
    started_by: str
    started_at: datetime
    status: JobStatus = "running"
    finished_at: datetime | None = None
    report: VerificationReport | None = None
    error: str | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)


class VerificationJobs:
    """The web process's verification jobs, by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, VerificationJob] = {}

    def get(self, job_id: str) -> VerificationJob | None:
        return self._jobs.get(job_id)

    def start(self, scope: str, started_by: str, verify: Callable[[], VerificationReport]) -> VerificationJob:
        """Run `verify` in a worker thread, or return the job already running for `scope`."""
        for job in self._jobs.values():
            if job.scope == scope and job.status == "running":
                return job
        job = VerificationJob(id=uuid.uuid4().hex[:12], scope=scope, started_by=started_by, started_at=datetime.now(UTC))
        job._task = asyncio.get_running_loop().create_task(self._run(job, verify))
        self._jobs[job.id] = job
        self._forget_old()
        return job

    async def _run(self, job: VerificationJob, verify: Callable[[], VerificationReport]) -> None:
        try:
            job.report = await asyncio.to_thread(verify)
            job.status = "done"
        except Exception as exc:  # shown on the job's page; the archive is only read
            job.error, job.status = f"{type(exc).__name__}: {exc}", "failed"
        job.finished_at = datetime.now(UTC)

    def _forget_old(self) -> None:
        finished = [job for job in self._jobs.values() if job.status != "running"]
        for job in finished[: max(0, len(finished) - KEPT_JOBS)]:
            del self._jobs[job.id]
