"""Web read models (issue 5): stage visits for the dashboard's stage timings, the N centres whose achievements
a deal involves (read scope), per-user notification reads.

`stage_visits` and `deal_achievement_centres` are backfilled from the archive's `StageEntered` and
`CandidatesProposed` events, so deals archived before this revision count too. Self-contained: it needs only
the tables of revisions 0001–0004.

Revision ID: 0007_web_read_models
Revises: 0006_registry_freshness
Create Date: 2026-11-26
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007_web_read_models"
down_revision: str | Sequence[str] | None = "0006_registry_freshness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from store.models, so this revision never changes with the models.
_WHEN = sa.DateTime(timezone=True)
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stage_visits",
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("centre_id", sa.String(), nullable=False),
        sa.Column("entered_at", _WHEN, nullable=False),
        sa.Column("left_at", _WHEN, nullable=True),
        sa.Column("days", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("deal_id", "seq", name=op.f("pk_stage_visits")),
    )
    op.create_index(op.f("ix_stage_visits_centre_id_stage"), "stage_visits", ["centre_id", "stage"])
    op.create_index(op.f("ix_stage_visits_stage_days"), "stage_visits", ["stage", "days"])
    op.create_table(
        "notification_reads",
        sa.Column("notification_id", _BIG_ID, autoincrement=False, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("read_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"], ["notifications.id"], name=op.f("fk_notification_reads_notification_id_notifications")
        ),
        sa.PrimaryKeyConstraint("notification_id", "username", name=op.f("pk_notification_reads")),
    )
    op.create_table(
        "deal_achievement_centres",
        sa.Column("deal_id", sa.String(), nullable=False),
        sa.Column("achievement_id", sa.String(length=64), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("deal_id", "achievement_id", name=op.f("pk_deal_achievement_centres")),
    )
    op.create_index(op.f("ix_deal_achievement_centres_centre_id_deal_id"), "deal_achievement_centres", ["centre_id", "deal_id"])
    _backfill_stage_visits()
    _backfill_achievement_centres()


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _backfill_stage_visits() -> None:
    """One visit per archived StageEntered; each closed by the deal's next one."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT e.deal_id, e.seq, e.payload, e.occurred_at, d.centre_id FROM events e "
            "JOIN deals d ON d.deal_id = e.deal_id WHERE e.type = 'StageEntered' ORDER BY e.deal_id, e.seq"
        )
    ).all()
    visits: list[dict[str, object]] = []
    for row in rows:
        entered = _aware(row.occurred_at)
        previous = visits[-1] if visits and visits[-1]["deal_id"] == row.deal_id else None
        if previous is not None:
            previous["left_at"] = entered
            previous["days"] = (entered - previous["entered_at"]).total_seconds() / 86400  # type: ignore[operator]
        stage = json.loads(row.payload)["payload"]["stage"]
        visit = {"deal_id": row.deal_id, "seq": row.seq, "stage": stage, "centre_id": row.centre_id}
        visits.append({**visit, "entered_at": entered, "left_at": None, "days": None})
    if visits:
        table = sa.table(
            "stage_visits",
            sa.column("deal_id", sa.String()),
            sa.column("seq", sa.Integer()),
            sa.column("stage", sa.String()),
            sa.column("centre_id", sa.String()),
            sa.column("entered_at", _WHEN),
            sa.column("left_at", _WHEN),
            sa.column("days", sa.Float()),
        )
        op.bulk_insert(table, visits)


def _backfill_achievement_centres() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT deal_id, payload FROM events WHERE type = 'CandidatesProposed' ORDER BY id")).all()
    links: dict[tuple[str, str], str] = {}
    for row in rows:
        for candidate in json.loads(row.payload)["payload"]["candidates"]:
            achievement = candidate["achievement"]
            centre = achievement["institution"].get("centre_id")
            if centre:
                links.setdefault((row.deal_id, achievement["achievement_id"]), centre)
    if links:
        table = sa.table("deal_achievement_centres", sa.column("deal_id"), sa.column("achievement_id"), sa.column("centre_id"))
        op.bulk_insert(table, [{"deal_id": d, "achievement_id": a, "centre_id": c} for (d, a), c in links.items()])


def downgrade() -> None:
    op.drop_index(op.f("ix_deal_achievement_centres_centre_id_deal_id"), table_name="deal_achievement_centres")
    op.drop_table("deal_achievement_centres")
    op.drop_table("notification_reads")
    op.drop_index(op.f("ix_stage_visits_stage_days"), table_name="stage_visits")
    op.drop_index(op.f("ix_stage_visits_centre_id_stage"), table_name="stage_visits")
    op.drop_table("stage_visits")
