"""The web app on the real Temporal dev server with a real worker, and one user per role of the 1+M+N scopes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from domain.actors import Role
from store.db import make_engine, make_session_factory
from store.testing import migrated_database
from tests.workflows.conftest import Kuayue
from web.app import create_app
from web.config import WebConfig
from web.users import create_user, issue_token
from worker import build_worker

PASSWORD = "correct-horse-battery"
# username -> (role, centre): the example deals' brokers, a manager of two centres, the hub, an auditor.
USERS: dict[str, tuple[Role, str | None]] = {
    "ja-broker-liu": (Role.BROKER, "ja-centre"),
    "jj-broker-chen": (Role.BROKER, "jj-centre"),
    "ja-manager": (Role.MANAGER, "ja-centre"),
    "jj-manager": (Role.MANAGER, "jj-centre"),
    "hub-admin": (Role.HUB_ADMIN, "hub"),
    "auditor-zhao": (Role.AUDITOR, None),
    "locked-user": (Role.BROKER, "ja-centre"),
    # A second manager of ja-centre (read state is per person) and the manager of an N centre (a university).
    "ja-manager-2": (Role.MANAGER, "ja-centre"),
    "nchu-manager": (Role.MANAGER, "nchu"),
}


@dataclass(frozen=True)
class WebDb:
    url: str
    sessions: sessionmaker[Session]
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def web_db() -> Iterator[WebDb]:
    """A SQLite database with the users above and an API token each (the browser tests share it)."""
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        tokens: dict[str, str] = {}
        with sessions.begin() as session:
            for username, (role, centre) in USERS.items():
                create_user(session, username, PASSWORD, role, f"{username} 测试", centre)
                tokens[username] = issue_token(session, username)
        yield WebDb(url, sessions, tokens)
        engine.dispose()


@pytest.fixture
async def deals(temporal_env: WorkflowEnvironment, web_db: WebDb, task_queue: str) -> AsyncIterator[Kuayue]:
    """A worker writing to the web database; `deals.open(path)` starts an example deal with a fresh id."""
    async with build_worker(temporal_env.client, task_queue, web_db.url):
        kuayue = Kuayue(temporal_env.client, task_queue, web_db.sessions)
        yield kuayue
        await kuayue.end_open_deals()


@pytest.fixture
def app(temporal_env: WorkflowEnvironment, web_db: WebDb) -> FastAPI:
    config = WebConfig(database_url=web_db.url, secret_key="test-secret-key-not-for-production", max_failed_logins=3)
    return create_app(config, temporal_env.client, web_db.sessions)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def sign_in(app: FastAPI, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """An HTTP client with a signed-in session of `username` (signed in through the real form)."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    page = await client.get("/login")
    answer = await client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_from(page.text)})
    assert answer.status_code == 303, answer.text
    return client


# One Chromium per browser-test module (defined beside the sign-in helper; imported last, as it reads PASSWORD above).
from tests.web.browsing import browser  # noqa: E402

__all__ = ["PASSWORD", "USERS", "WebDb", "browser", "csrf_from", "sign_in"]
