"""Languages of the web UI: Chinese (zh-CN, the source language of every message) and English.

Templates call `_("中文原文")`; English comes from a gettext catalogue, `web/locale/en/LC_MESSAGES/messages.po`
(the standard format translators use), read with Babel when first needed, so there is no compile step. A missing
translation falls back to the Chinese. Sentences composed with data inside are not catalogue entries: the timeline
writes each event in either language (`web.timeline`), and a refusal's English sentence comes from its code
(`web.refusals`) next to the domain's Chinese message.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

DEFAULT = "zh-CN"
LANGUAGES = {"zh-CN": "中文", "en": "English"}
LOCALE_DIR = Path(__file__).parent / "locale"
Gettext = Callable[..., str]


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> gettext.NullTranslations:
    if lang == DEFAULT:
        return gettext.NullTranslations()  # the templates are written in Chinese
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def language_of(request: Request) -> str:
    """The session's language (chosen with the switch in the header), else Chinese."""
    lang = request.session.get("lang") if "session" in request.scope else None
    return lang if isinstance(lang, str) and lang in LANGUAGES else DEFAULT


def gettext_for(lang: str) -> Gettext:
    """`_(message, **values)`: the message in `lang`, with %(name)s placeholders filled in."""
    catalogue = translations(lang)

    def _(message: str, **values: object) -> str:
        text = catalogue.gettext(message)
        return text % values if values else text

    return _


def set_language(request: Request, lang: str) -> bool:
    """Remember `lang` in the session; False when it is not one of LANGUAGES."""
    if lang not in LANGUAGES:
        return False
    request.session["lang"] = lang
    return True
