"""Open calls (揭榜挂帅): their archived events and a row per call.

Revision ID: 0005_open_calls
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_open_calls"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "open_call_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("open_call_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", _WHEN, nullable=False),
        sa.Column("actor_id", sa.String(), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open_call_events")),
        sa.UniqueConstraint("open_call_id", "seq", name=op.f("uq_open_call_events_open_call_id_seq")),
    )
    op.create_index(op.f("ix_open_call_events_deal_id"), "open_call_events", ["deal_id"])
    op.create_table(
        "open_calls",
        sa.Column("open_call_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("centre_id", sa.String(), nullable=False),
        sa.Column("broker_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deadline", _WHEN, nullable=False),
        sa.Column("bids", sa.Integer(), nullable=False),
        sa.Column("winner_bid_id", sa.String(length=16), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("open_call_id", name=op.f("pk_open_calls")),
    )
    op.create_index(op.f("ix_open_calls_deal_id"), "open_calls", ["deal_id"])
    op.create_index(op.f("ix_open_calls_status_deadline"), "open_calls", ["status", "deadline"])


def downgrade() -> None:
    op.drop_index(op.f("ix_open_calls_status_deadline"), table_name="open_calls")
    op.drop_index(op.f("ix_open_calls_deal_id"), table_name="open_calls")
    op.drop_table("open_calls")
    op.drop_index(op.f("ix_open_call_events_deal_id"), table_name="open_call_events")
    op.drop_table("open_call_events")
