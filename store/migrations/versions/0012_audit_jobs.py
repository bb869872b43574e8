"""Audit jobs in the database (issue 6): verifications started from the web UI outlive the web process.

Until this revision a verification job lived in the memory of the web process that started it: a restart lost it
and a second web process could not see it. A partial unique index keeps one running job per scope across processes.

Revision ID: 0012_audit_jobs
Revises: 0011_roadshows
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_audit_jobs"
down_revision: str | Sequence[str] | None = "0011_roadshows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_WHEN = sa.DateTime(timezone=True)
_RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_table(
        "audit_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("events_total", sa.Integer(), nullable=True),
        sa.Column("events_done", sa.Integer(), nullable=False),
        sa.Column("deals_done", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", _WHEN, nullable=False),
        sa.Column("finished_at", _WHEN, nullable=True),
        sa.Column("owner_host", sa.String(length=255), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("owner_instance", sa.String(length=32), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_jobs")),
    )
    op.create_index(op.f("ix_audit_jobs_started_at"), "audit_jobs", ["started_at"])
    op.create_index(
        "uq_audit_jobs_running_scope",
        "audit_jobs",
        ["kind", "scope"],
        unique=True,
        sqlite_where=_RUNNING,
        postgresql_where=_RUNNING,
    )


def downgrade() -> None:
    op.drop_index("uq_audit_jobs_running_scope", table_name="audit_jobs")
    op.drop_index(op.f("ix_audit_jobs_started_at"), table_name="audit_jobs")
    op.drop_table("audit_jobs")
