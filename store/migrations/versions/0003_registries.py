"""Registries: achievements (科技成果), enterprise demands (企业技术需求), and structured declines per achievement (issue 3).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "achievements",
        sa.Column("achievement_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("institution_name", sa.String(), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=True),
        sa.Column("industry_code", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("trl", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("asking_price_fen", sa.BigInteger(), nullable=True),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.CheckConstraint("trl BETWEEN 1 AND 9", name=op.f("ck_achievements_trl_range")),
        sa.PrimaryKeyConstraint("achievement_id", name=op.f("pk_achievements")),
    )
    op.create_index(op.f("ix_achievements_centre_id"), "achievements", ["centre_id"])
    op.create_index(op.f("ix_achievements_industry_code"), "achievements", ["industry_code"])
    op.create_index(op.f("ix_achievements_region_code"), "achievements", ["region_code"])

    op.create_table(
        "demands",
        sa.Column("demand_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("enterprise_name", sa.String(), nullable=False),
        sa.Column("enterprise_credit_code", sa.String(length=18), nullable=False),
        sa.Column("industry_code", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("min_trl", sa.Integer(), nullable=False),
        sa.Column("budget_min_fen", sa.BigInteger(), nullable=False),
        sa.Column("budget_max_fen", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.String(length=10), nullable=True),
        sa.Column("open_call", sa.Boolean(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.CheckConstraint("min_trl BETWEEN 1 AND 9", name=op.f("ck_demands_min_trl_range")),
        sa.CheckConstraint("budget_min_fen <= budget_max_fen", name=op.f("ck_demands_budget_ordered")),
        sa.PrimaryKeyConstraint("demand_id", name=op.f("pk_demands")),
    )
    op.create_index(op.f("ix_demands_enterprise_credit_code"), "demands", ["enterprise_credit_code"])
    op.create_index(op.f("ix_demands_industry_code"), "demands", ["industry_code"])
    op.create_index(op.f("ix_demands_region_code"), "demands", ["region_code"])

    op.create_table(
        "achievement_declines",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("achievement_id", sa.String(length=64), nullable=False),
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("declined_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["achievement_id"],
            ["achievements.achievement_id"],
            name=op.f("fk_achievement_declines_achievement_id_achievements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_achievement_declines")),
        sa.UniqueConstraint("deal_id", "seq", name=op.f("uq_achievement_declines_deal_id_seq")),
    )
    op.create_index(op.f("ix_achievement_declines_achievement_id"), "achievement_declines", ["achievement_id"])


def downgrade() -> None:
    op.drop_table("achievement_declines")
    op.drop_table("demands")
    op.drop_table("achievements")
