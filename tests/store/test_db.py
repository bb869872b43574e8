from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.projection import DealSummary
from store.db import DEFAULT_DATABASE_URL, REPO_ROOT, database_url, make_engine
from store.models import DealRecord, NotificationRecord
from store.queries import StoredNotification
from tests.store.samples import SAMPLE_START


def test_database_url_comes_from_the_environment_or_defaults_to_the_repo_data_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUAYUE_DATABASE_URL", raising=False)
    assert database_url() == DEFAULT_DATABASE_URL == f"sqlite:///{REPO_ROOT}/data/kuayue.db"
    monkeypatch.setenv("KUAYUE_DATABASE_URL", "postgresql+psycopg2://kuayue@db/kuayue")
    assert database_url() == "postgresql+psycopg2://kuayue@db/kuayue"


def test_sqlite_files_get_a_directory_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'kuayue.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert (tmp_path / "nested" / "kuayue.db").exists()
    finally:
        engine.dispose()


def test_a_notification_needs_its_archived_event(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), session_factory.begin() as session:
        session.add(
            NotificationRecord(
                deal_id="deal-none",
                seq=1,
                kind="reminder",
                recipient_role="broker",
                recipient_id="broker-zhang",
                message="无此事件",
                created_at=SAMPLE_START,
            )
        )


def test_the_read_model_tables_hold_exactly_the_domain_fields() -> None:
    # The archive writes DealSummary and Notification field by field; a new field needs a migration.
    assert set(DealRecord.__table__.columns.keys()) == set(DealSummary.model_fields) | {"updated_at"}
    assert set(NotificationRecord.__table__.columns.keys()) == set(StoredNotification.model_fields)
