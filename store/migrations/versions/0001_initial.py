"""Initial schema: the events archive, the deals read model, the notifications outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", _WHEN, nullable=False),
        sa.Column("actor_id", sa.String(), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("command_id", sa.String(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_events_seq_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("deal_id", "seq", name=op.f("uq_events_deal_id_seq")),
    )

    op.create_table(
        "deals",
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("enterprise_name", sa.String(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("broker_id", sa.String(), nullable=False),
        sa.Column("centre_id", sa.String(), nullable=False),
        sa.Column("industry_code", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("stage_entered_at", _WHEN, nullable=False),
        sa.Column("stage_due_at", _WHEN, nullable=True),
        sa.Column("next_due_at", _WHEN, nullable=True),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("financing_need_fen", sa.BigInteger(), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.Column("contract_value_fen", sa.BigInteger(), nullable=True),
        sa.Column("technical_value_fen", sa.BigInteger(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_event_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_deals")),
    )
    op.create_index(op.f("ix_deals_broker_id_stage"), "deals", ["broker_id", "stage"])
    op.create_index(op.f("ix_deals_centre_id_stage"), "deals", ["centre_id", "stage"])
    op.create_index(op.f("ix_deals_stage_due_at"), "deals", ["stage_due_at"])

    op.create_table(
        "notifications",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient_role", sa.String(length=32), nullable=False),
        sa.Column("recipient_id", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("read_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["deal_id", "seq"],
            ["events.deal_id", "events.seq"],
            name=op.f("fk_notifications_deal_id_seq_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "deal_id", "seq", "kind", "recipient_id", name=op.f("uq_notifications_deal_id_seq_kind_recipient_id")
        ),
    )
    op.create_index(op.f("ix_notifications_recipient_id_id"), "notifications", ["recipient_id", "id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("deals")
    op.drop_table("events")
