"""A hash chain over each open call's events (open_call_events.prev_hash, .hash), by the rule of store.chain.

Rows archived before this revision are chained here, in (open_call_id, seq) order, from their stored payloads: the
chain proves they are unchanged from now on, not that they were unchanged before (nothing recorded a head for them).

Revision ID: 0013_open_call_chain
Revises: 0012_audit_jobs
Create Date: 2026-11-26
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_open_call_chain"
down_revision: str | Sequence[str] | None = "0012_audit_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.chain, so this revision never changes with the code.
_GENESIS = "0" * 64


def upgrade() -> None:
    with op.batch_alter_table("open_call_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", sa.String(length=64), nullable=False, server_default=""))
    events = sa.table(
        "open_call_events",
        sa.column("id", sa.BigInteger()),
        sa.column("open_call_id", sa.String()),
        sa.column("seq", sa.Integer()),
        sa.column("payload", sa.Text()),
        sa.column("prev_hash", sa.String()),
        sa.column("hash", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(events.c.id, events.c.open_call_id, events.c.payload).order_by(events.c.open_call_id, events.c.seq)
    )
    call, prev, links = None, _GENESIS, []
    for row_id, open_call_id, payload in rows:
        if open_call_id != call:
            call, prev = open_call_id, _GENESIS
        link = hashlib.sha256((prev + payload).encode("utf-8")).hexdigest()
        links.append({"row_id": row_id, "prev": prev, "link": link})
        prev = link
    if links:
        connection.execute(
            events.update()
            .where(events.c.id == sa.bindparam("row_id"))
            .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("link")),
            links,
        )
    with op.batch_alter_table("open_call_events") as batch:
        batch.alter_column("prev_hash", server_default=None)
        batch.alter_column("hash", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("open_call_events") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
