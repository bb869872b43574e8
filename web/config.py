"""What the web app needs from outside: database, Temporal, the session secret, links to Temporal's Web UI."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

SECRET_FILE = "secret_key"


@dataclass(frozen=True)
class WebConfig:
    database_url: str
    secret_key: str
    temporal_namespace: str = "default"
    # Where deals started from the web (a demand's page) run: the worker's task queue.
    task_queue: str = "kuayue-deals"
    temporal_ui_url: str | None = "http://127.0.0.1:8233"
    # Lock-out policy: after this many failed sign-ins in a row the account waits `lockout_minutes`.
    max_failed_logins: int = 5
    lockout_minutes: int = 15
    # Cookies marked Secure are not sent over plain http, which the embedded quickstart uses.
    https_only: bool = False
    # Audit jobs (chain verifications from the web): a running job writes its progress every `heartbeat` seconds; one
    # not heard from for `stale` seconds is taken for interrupted (its machine is gone; on the same machine a job's
    # process is looked at directly).
    audit_job_heartbeat_seconds: float = 2.0
    audit_job_stale_seconds: float = 30.0

    def workflow_url(self, workflow_id: str) -> str | None:
        """The deal's workflow in Temporal's Web UI, for operators."""
        if not self.temporal_ui_url:
            return None
        return f"{self.temporal_ui_url.rstrip('/')}/namespaces/{self.temporal_namespace}/workflows/{workflow_id}"


def load_secret_key(data_dir: Path) -> str:
    """`KUAYUE_SECRET_KEY`, else the key in `<data_dir>/secret_key`, created (mode 0600) on first use.

    A generated key lives with the data, never in the repository, and survives restarts so sessions do too.
    """
    from_env = os.environ.get("KUAYUE_SECRET_KEY")
    if from_env:
        return from_env
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="ascii").strip()
