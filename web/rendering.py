"""Jinja2 templates with the filters that write dates, money and stages the way people here do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from web import format as fmt
from web.i18n import DEFAULT, LANGUAGES, gettext_for, language_of
from web.refusals import Refusal, english

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _in_language(chinese: Any, english: Any) -> Any:
    """A filter that writes the Chinese way by default and the English way when the page is in English."""

    @pass_context
    def write(context: Context, value: Any) -> str:
        text: str = (chinese if context.get("lang", DEFAULT) == DEFAULT else english)(value)
        return text

    return write


def _translated(name_of: Any) -> Any:
    @pass_context
    def write(context: Context, value: Any) -> str:
        text: str = context["_"](name_of(value))
        return text

    return write


DETAILS = "详情："  # the label before a refusal's Chinese detail on an English page


@pass_context
def _refusal(context: Context, value: Refusal | str) -> Markup:
    """A refusal as its page shows it: the Chinese message; in English, the code's sentence and then the Chinese detail.

    A plain string (a message without a code) is shown as it is."""
    if context.get("lang", DEFAULT) == DEFAULT or not isinstance(value, Refusal):
        return escape(str(value))
    return Markup(
        '<span class="refusal-en">{}</span> <span class="refusal-detail">{} <span lang="zh-CN">{}</span></span>'
    ).format(english(value), context["_"](DETAILS), value.message)


TEMPLATES.env.filters.update(
    zh_date=_in_language(fmt.zh_date, fmt.en_date),
    zh_datetime=_in_language(fmt.zh_datetime, fmt.en_datetime),
    wan=_in_language(fmt.wan, fmt.en_money),
    stage_zh=_translated(fmt.stage_zh),
    command_zh=_translated(lambda c: fmt.COMMAND_NAMES_ZH.get(c, c)),
    refusal=_refusal,
)


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page, with the CSRF token and the signed-in user available to every template."""
    from web.auth import csrf_token  # auth renders pages too; imported here to keep the modules acyclic
    from web.notifications import unread_count

    me = context.pop("me", None)
    lang = language_of(request)
    base = {
        "csrf_token": csrf_token(request),
        "me": me,
        "unread": unread_count(request.app.state.services, me) if me else 0,
        "lang": lang,
        "languages": LANGUAGES,
        "_": gettext_for(lang),
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
