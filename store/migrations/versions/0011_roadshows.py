"""Roadshows (路演): their hash-chained events and read models (a row per roadshow, its deals, investors and interest).

Roadshows started before ROADSHOW_ARCHIVE_PATCH kept their events only in their Temporal history; nothing is
backfilled here (a migration cannot query workflows), so they stay out of these tables.

Revision ID: 0011_roadshows
Revises: 0010_registry_imports
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_roadshows"
down_revision: str | Sequence[str] | None = "0010_registry_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "roadshow_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("roadshow_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", _WHEN, nullable=False),
        sa.Column("actor_id", sa.String(), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("command_id", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_roadshow_events_seq_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadshow_events")),
        sa.UniqueConstraint("roadshow_id", "seq", name=op.f("uq_roadshow_events_roadshow_id_seq")),
    )
    op.create_table(
        "roadshows",
        sa.Column("roadshow_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("venue", sa.String(), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheduled_at", _WHEN, nullable=False),
        sa.Column("closed_at", _WHEN, nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("roadshow_id", name=op.f("pk_roadshows")),
    )
    op.create_index(op.f("ix_roadshows_centre_id"), "roadshows", ["centre_id"])
    op.create_index(op.f("ix_roadshows_status_held_on"), "roadshows", ["status", "held_on"])
    op.create_table(
        "roadshow_deals",
        sa.Column("roadshow_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("presented_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("roadshow_id", "deal_id", name=op.f("pk_roadshow_deals")),
    )
    op.create_index(op.f("ix_roadshow_deals_deal_id"), "roadshow_deals", ["deal_id"])
    op.create_table(
        "roadshow_investors",
        sa.Column("roadshow_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("roadshow_id", "partner_id", name=op.f("pk_roadshow_investors")),
    )
    op.create_table(
        "roadshow_interests",
        sa.Column("roadshow_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("investor_id", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("registered_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("roadshow_id", "deal_id", "investor_id", name=op.f("pk_roadshow_interests")),
    )
    op.create_index(op.f("ix_roadshow_interests_deal_id"), "roadshow_interests", ["deal_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_roadshow_interests_deal_id"), table_name="roadshow_interests")
    op.drop_table("roadshow_interests")
    op.drop_table("roadshow_investors")
    op.drop_index(op.f("ix_roadshow_deals_deal_id"), table_name="roadshow_deals")
    op.drop_table("roadshow_deals")
    op.drop_index(op.f("ix_roadshows_status_held_on"), table_name="roadshows")
    op.drop_index(op.f("ix_roadshows_centre_id"), table_name="roadshows")
    op.drop_table("roadshows")
    op.drop_table("roadshow_events")
