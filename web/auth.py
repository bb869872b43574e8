"""Sign-in, sign-out, who is asking (session for pages, bearer token for the API) and CSRF checks."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from web.deals import Services
from web.i18n import LANGUAGES, set_language
from web.refusals import PageError
from web.rendering import render
from web.users import User, authenticate, get_user, user_for_token

router = APIRouter()
_bearer = HTTPBearer(auto_error=False, description="a user's API token (`kuayue user token USERNAME`)")


class NotSignedIn(Exception):
    """A page was asked for without a session; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; every form carries it in a hidden field."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a form POST whose hidden token does not match the session's (a cross-site forgery)."""
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
        raise PageError(403, "csrf", "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


def page_user(request: Request, svc: Annotated[Services, Depends(services)]) -> User:
    """The signed-in user of a page; re-read on every request, so a deactivated account stops at once."""
    username = request.session.get("user")
    user = None
    if isinstance(username, str):
        with svc.sessions() as session:
            user = get_user(session, username)
    if user is None:
        request.session.pop("user", None)
        raise NotSignedIn(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return user


def api_user(
    svc: Annotated[Services, Depends(services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user an API call's bearer token belongs to."""
    user = None
    if credentials is not None:
        with svc.sessions() as session:
            user = user_for_token(session, credentials.credentials)
    if user is None:
        raise HTTPException(401, "需要有效的 API 令牌（Authorization: Bearer …）", headers={"WWW-Authenticate": "Bearer"})
    return user


def _safe_next(target: str | None) -> str:
    # Only paths on this site, so the sign-in page cannot be used to send people elsewhere.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "username": "", "error": None})


@router.post("/login", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def login(request: Request, svc: Annotated[Services, Depends(services)]) -> Response:
    form = await request.form()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    config = svc.config
    with svc.sessions.begin() as session:
        result = authenticate(
            session,
            username,
            password,
            max_failures=config.max_failed_logins,
            lockout=timedelta(minutes=config.lockout_minutes),
        )
    if result.user is None:
        # The lock-out's moment is written by the page, in its language (login.html).
        context = {"next": next_url, "username": username, "error": "用户名或密码不正确", "locked_until": result.locked_until}
        return render(request, "login.html", context, status_code=401)
    # A fresh session on sign-in, so a session id planted before sign-in is worth nothing after it.
    request.session.clear()
    request.session["user"] = result.user.username
    csrf_token(request)
    return RedirectResponse(next_url, status_code=303)


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{lang}", include_in_schema=False)
def choose_language(request: Request, lang: str, next: str = "/") -> Response:
    """The language switch in the header: remembered in the session, then back to the page."""
    if not set_language(request, lang):
        raise PageError(404, "unsupported_language", f"不支持的语言「{lang}」；可选：{'、'.join(LANGUAGES)}")
    return RedirectResponse(_safe_next(next), status_code=303)


def login_redirect(next_url: str) -> Response:
    return RedirectResponse(f"/login?next={quote(next_url, safe='/')}", status_code=303)
