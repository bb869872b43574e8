from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from threading import Barrier

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from store.chain import GENESIS_HASH, chain_hash
from store.db import alembic_config, make_engine, migrate
from store.models import Base
from store.testing import BACKENDS, Backend, temporary_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_take_an_empty_database_to_the_models_and_back(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # migrate() must not depend on the working directory
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with temporary_database(backend) as url:
        engine = make_engine(url)
        try:
            migrate(url)
            with engine.connect() as connection:
                context = MigrationContext.configure(connection)
                assert context.get_current_revision() == head
                assert compare_metadata(context, Base.metadata) == []

            command.downgrade(alembic_config(url), "base")
            assert set(inspect(engine).get_table_names()) == {"alembic_version"}

            migrate(url)
            assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_processes_that_migrate_at_the_same_time_take_turns(backend: Backend) -> None:
    # Every worker migrates at start-up, so several may start on the same empty database at once.
    # A fork server with the store preloaded starts processes in milliseconds, without forking this threaded one.
    processes = get_context("forkserver")
    processes.set_forkserver_preload(["store.db", __name__])
    with temporary_database(backend) as url, processes.Manager() as manager, ProcessPoolExecutor(3, mp_context=processes) as pool:
        barrier = manager.Barrier(3)
        assert list(pool.map(_migrate_at_once, [url] * 3, [barrier] * 3)) == [None, None, None]


def _migrate_at_once(url: str, barrier: Barrier) -> None:
    barrier.wait()
    migrate(url)


@pytest.mark.parametrize("backend", BACKENDS)
def test_open_call_events_archived_before_the_chain_are_chained_by_the_migration(backend: Backend) -> None:
    with temporary_database(backend) as url:
        engine = make_engine(url)
        try:
            command.upgrade(alembic_config(url), "0012_audit_jobs")
            columns = "open_call_id, seq, deal_id, type, occurred_at, actor_id, actor_role, payload, recorded_at"
            with engine.begin() as connection:
                for call, seq, payload in (("OC-2", 1, '{"b":1}'), ("OC-1", 2, '{"a":2}'), ("OC-1", 1, '{"a":1}')):
                    connection.execute(
                        text(f"INSERT INTO open_call_events ({columns}) VALUES "
                             "(:call, :seq, 'D', 'T', :at, 'x', 'broker', :payload, :at)"),
                        {"call": call, "seq": seq, "payload": payload, "at": datetime(2026, 3, 5, tzinfo=UTC)},
                    )
            migrate(url)
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT open_call_id, seq, payload, prev_hash, hash FROM open_call_events ORDER BY open_call_id, seq")
                ).all()
        finally:
            engine.dispose()
    heads: dict[str, str] = {}
    for call, _, payload, prev_hash, link in rows:
        assert prev_hash == heads.get(call, GENESIS_HASH) and link == chain_hash(prev_hash, payload)
        heads[call] = link
    assert len(heads) == 2
