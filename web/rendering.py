"""Jinja2 templates with the filters that write dates, money and stages the way people here do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from web import format as fmt

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters.update(
    zh_date=fmt.zh_date,
    zh_datetime=fmt.zh_datetime,
    wan=fmt.wan,
    stage_zh=fmt.stage_zh,
    command_zh=lambda c: fmt.COMMAND_NAMES_ZH.get(c, c),
)


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page, with the CSRF token and the signed-in user available to every template."""
    from web.auth import csrf_token  # auth renders pages too; imported here to keep the modules acyclic
    from web.notifications import unread_count

    me = context.pop("me", None)
    base = {"csrf_token": csrf_token(request), "me": me, "unread": unread_count(request.app.state.services, me) if me else 0}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
