"""Registry imports from the web (registry_imports): who wrote which file into a registry, when, and what changed.

Revision ID: 0010_registry_imports
Revises: 0009_audit
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_registry_imports"
down_revision: str | Sequence[str] | None = "0009_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registry_imports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at", _WHEN, nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_imports")),
    )
    op.create_index(op.f("ix_registry_imports_imported_at"), "registry_imports", ["imported_at"])
    op.create_index(op.f("ix_registry_imports_imported_by"), "registry_imports", ["imported_by"])


def downgrade() -> None:
    op.drop_table("registry_imports")
