"""Engines, sessions and migrations from a database URL.

`KUAYUE_DATABASE_URL` chooses the database: a SQLite file by default (the embedded setup), or
PostgreSQL as `postgresql+psycopg2://user:password@host:5432/kuayue` in production and CI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from store.models import Base

REPO_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'data' / 'kuayue.db'}"


def database_url() -> str:
    """The configured database URL: `KUAYUE_DATABASE_URL`, else the SQLite file under `data/`."""
    return os.environ.get("KUAYUE_DATABASE_URL") or DEFAULT_DATABASE_URL


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: `database_url()`); SQLite files get WAL and enforced foreign keys."""
    parsed = make_url(url or database_url())
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web UI read while the worker writes; SQLite ignores foreign keys unless asked,
    # per connection. pysqlite's default of starting a transaction only at the first write is
    # kept on purpose: writers then wait on the busy timeout instead of failing a lock upgrade.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    """Sessions on `engine` (default: a new engine for `database_url()`)."""
    # Rows are read after commit in results and tests; expiring them would need a new query each time.
    return sessionmaker(engine or make_engine(), expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured in code: the migrations in this package, against `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option, so a '%' in a password needs no escaping.
    config.attributes["url"] = url or database_url()
    return config


def migrate(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at `url` to `revision` (`alembic upgrade head`), whatever the working directory."""
    command.upgrade(alembic_config(url), revision)


def upsert_insert(session: Session, model: type[Base]) -> sqlite.Insert | postgresql.Insert:
    """An INSERT for `model` with ON CONFLICT clauses, in the dialect of the session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ValueError(f"database dialect {dialect!r} is not supported; use sqlite or postgresql")
