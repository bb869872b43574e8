"""Registry freshness: an index on each registry's updated_at, so "has the registry changed?" is an index look-up.

The matcher asks for a registry's record count and newest write time before each search (issue 3); without an
index that is a scan of every record (≈ 100 ms at 100,000 achievements on SQLite).

Revision ID: 0006_registry_freshness
Revises: 0005_open_calls
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_registry_freshness"
down_revision: str | Sequence[str] | None = "0005_open_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_achievements_updated_at"), "achievements", ["updated_at"])
    op.create_index(op.f("ix_demands_updated_at"), "demands", ["updated_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_demands_updated_at"), table_name="demands")
    op.drop_index(op.f("ix_achievements_updated_at"), table_name="achievements")
