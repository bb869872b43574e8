"""Alembic environment: the target schema is `store.models`, the URL comes from `store.db`.

Programmatic runs (`store.db.migrate`) pass the URL in `config.attributes["url"]`; the CLI
(`alembic upgrade head` with the repository's alembic.ini) falls back to `KUAYUE_DATABASE_URL`.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text
from sqlalchemy.pool import NullPool

from store.db import database_url, make_engine
from store.models import Base, UtcDateTime

# Any fixed number, the same for every process that migrates a Kuayue database.
_MIGRATION_LOCK_KEY = 0x4B7559

config = context.config
if config.config_file_name is not None and config.file_config.has_section("loggers"):
    fileConfig(config.config_file_name)


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or database_url()
    return str(url)


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # A migration must keep working after the application's types change, so it gets the plain type.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=_render_item,
        # SQLite alters tables by copying them; batch mode writes migrations that work on both backends.
        render_as_batch=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            # SQLite can roll back DDL too (Alembic assumes not); one transaction lets the lock cover the whole run.
            _configure(connection=connection, transactional_ddl=True if connection.dialect.name == "sqlite" else None)
            with context.begin_transaction():
                _take_migration_lock(connection)
                context.run_migrations()
    finally:
        engine.dispose()


def _take_migration_lock(connection: Connection) -> None:
    """Every process migrates at start-up; the lock makes simultaneous starts take turns instead of racing."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite opens transactions lazily; an immediate one takes the write lock before the version is read.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
