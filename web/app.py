"""The FastAPI application: pages, API, sessions, static files and how refusals are answered."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from temporalio.client import Client

import starter
from web import (
    api,
    api_open_calls,
    api_registry,
    audit_pages,
    auth,
    callbacks,
    dashboard,
    notifications,
    open_call_pages,
    pages,
    registry_import,
    registry_pages,
    roadshow_pages,
)
from web.audit_jobs import VerificationJobs
from web.config import WebConfig
from web.deals import DealNotVisible, Forbidden, Services
from web.refusals import Refusal
from web.rendering import render

SESSION_MAX_AGE = 12 * 3600  # a working day, so a forgotten session does not stay open for weeks


def create_app(
    config: WebConfig,
    client: Client,
    sessions: sessionmaker[Session],
    partner_callbacks: callbacks.CallbackConfig | None = None,
) -> FastAPI:
    """The web app on an existing Temporal client and database sessions (its owner opens and closes them).

    With `partner_callbacks` (the partner directory and registration rules) it also takes partners' signed callbacks.
    """
    jobs = VerificationJobs(sessions, heartbeat=config.audit_job_heartbeat_seconds, stale=config.audit_job_stale_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # Jobs of a stopping process end as interrupted (to be started again) rather than vanish mid-run.
        await run_in_threadpool(jobs.stop)

    app = FastAPI(title="Kuayue 跨越", summary="技术转移案件：经纪人工作台与 JSON API", lifespan=lifespan)
    app.state.services = Services(sessions=sessions, client=client, config=config)
    app.state.verification_jobs = jobs
    app.state.partner_callbacks = partner_callbacks
    app.add_middleware(
        SessionMiddleware,
        secret_key=config.secret_key,
        session_cookie="kuayue_session",
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=config.https_only,
    )
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")
    app.include_router(auth.router)
    app.include_router(pages.router)
    app.include_router(registry_import.router)  # before registry_pages, whose /registry/{kind} would take /registry/import
    app.include_router(registry_pages.router)
    app.include_router(open_call_pages.router)
    app.include_router(roadshow_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(api.router)
    app.include_router(api_open_calls.router)
    api_registry.install(app)
    for module in (dashboard, notifications):
        app.include_router(module.router)
        app.include_router(module.api_router)
    app.include_router(callbacks.router)  # authenticated by signature, not by session (partners are machines)
    _install_error_pages(app)
    return app


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/partners/"))


def _refusal(request: Request, status: int, code: str, message: str, page_code: str | None = None) -> Response:
    """The API's {code, message}; a page's refusal, whose `page_code` (default `code`) gives its English sentence."""
    if _wants_json(request):
        return JSONResponse({"code": code, "message": message}, status_code=status)
    refusal = Refusal(page_code or code, message, status)
    return render(request, "error.html", {"status": status, "message": refusal}, status_code=status)


def _install_error_pages(app: FastAPI) -> None:
    Handler = Callable[[Request, Exception], Awaitable[Response]]

    async def not_signed_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, auth.NotSignedIn)
        return auth.login_redirect(exc.next_url)

    async def not_visible(request: Request, exc: Exception) -> Response:
        return _refusal(request, 404, "not_found", f"没有编号为 {exc} 的案件，或您无权查看", page_code="deal_not_found")

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        return _refusal(request, 403, "forbidden", exc.message, page_code=exc.code)  # the API's code stays "forbidden"

    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, starter.CommandRejected)
        return _refusal(request, 422, exc.code, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if _wants_json(request):
            return JSONResponse({"code": "http_error", "message": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        refusal = Refusal(getattr(exc, "code", f"http_{exc.status_code}"), str(exc.detail), exc.status_code)
        return render(request, "error.html", {"status": exc.status_code, "message": refusal}, status_code=exc.status_code)

    handlers: dict[type[Exception], Handler] = {
        HTTPException: http_error,
        auth.NotSignedIn: not_signed_in,
        DealNotVisible: not_visible,
        Forbidden: forbidden,
        starter.CommandRejected: rejected,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)
