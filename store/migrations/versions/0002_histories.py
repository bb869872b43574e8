"""Closed deals' Temporal histories, kept beyond the namespace's retention (issue 6).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deal_histories",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("run_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("history_zlib", sa.LargeBinary(), nullable=False),
        sa.Column("history_sha256", sa.String(length=64), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("stored_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_histories")),
        sa.UniqueConstraint("workflow_id", "run_id", name=op.f("uq_deal_histories_workflow_id_run_id")),
    )
    op.create_index(op.f("ix_deal_histories_deal_id_run_index"), "deal_histories", ["deal_id", "run_index"])


def downgrade() -> None:
    op.drop_index(op.f("ix_deal_histories_deal_id_run_index"), table_name="deal_histories")
    op.drop_table("deal_histories")
