"""Partners (issue 4): nonces of signed callbacks (against replays), and the read model of partner requests and
recorded answer ids that the callback endpoint checks answers against.

Revision ID: 0008_partners
Revises: 0007_web_read_models
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_partners"
down_revision: str | Sequence[str] | None = "0007_web_read_models"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partner_nonces",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("seen_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("partner_id", "nonce", name=op.f("pk_partner_nonces")),
    )
    op.create_index(op.f("ix_partner_nonces_seen_at"), "partner_nonces", ["seen_at"])
    op.create_table(
        "partner_requests",
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("deal_id", "request_id", name=op.f("pk_partner_requests")),
    )
    op.create_table(
        "partner_answers",
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("answer_id", sa.String(length=128), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("deal_id", "partner_id", "answer_id", name=op.f("pk_partner_answers")),
    )


def downgrade() -> None:
    op.drop_table("partner_answers")
    op.drop_table("partner_requests")
    op.drop_index(op.f("ix_partner_nonces_seen_at"), table_name="partner_nonces")
    op.drop_table("partner_nonces")
