"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database dropped afterwards.

PostgreSQL is reached through `KUAYUE_TEST_POSTGRES_URL` (default: the local server, user postgres,
database `test`), which only needs the right to create databases. Each call creates its own uniquely
named database, so parallel runs and other projects on the same server do not interfere.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store.db import make_engine, make_session_factory, migrate
from store.models import Base

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    """The server the PostgreSQL tests use: `KUAYUE_TEST_POSTGRES_URL` or the local default."""
    return os.environ.get("KUAYUE_TEST_POSTGRES_URL") or DEFAULT_TEST_POSTGRES_URL


@contextmanager
def temporary_database(backend: Backend) -> Iterator[str]:
    """The URL of a new, empty database on `backend`, removed when the block ends."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="kuayue-test-") as directory:
            yield f"sqlite:///{Path(directory) / 'kuayue.db'}"
    else:
        with _temporary_postgres_database() as url:
            yield url


@contextmanager
def _temporary_postgres_database() -> Iterator[str]:
    server_url = make_url(postgres_server_url())
    name = f"kuayue_test_{uuid.uuid4().hex[:12]}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        raise RuntimeError(
            f"PostgreSQL tests need a server that accepts {server_url.render_as_string(hide_password=True)} "
            f"and lets its user create databases; set KUAYUE_TEST_POSTGRES_URL to another one. Cause: {exc.orig}"
        ) from exc
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE ends sessions a test left open (PostgreSQL 13+).
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def migrated_database(backend: Backend) -> Iterator[str]:
    """Like `temporary_database`, with the schema migrated to head."""
    with temporary_database(backend) as url:
        migrate(url)
        yield url


@contextmanager
def clean_session_factory(url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on the database at `url` after deleting every row, so a test starts from an empty schema."""
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with factory.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):  # children before parents
                session.execute(table.delete())
        yield factory
    finally:
        engine.dispose()
