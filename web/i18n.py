"""Languages and time zone for the web pages (Flask-Babel).

English is the source language of every template and view string (``_("...")``); the Chinese
catalog is ``web/translations/zh/LC_MESSAGES/messages.po``. The catalog is compiled in memory when
the app starts, so no ``.mo`` file has to be built or committed.

The locale of a request is, in order: the logged-in user's saved language (``User.language``), the
language chosen in this browser session, the best match of ``Accept-Language``, else Chinese.
Dates and times are always shown in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, request, session
from flask_babel import Babel, Domain, format_datetime, format_timedelta, get_locale
from flask_login import current_user

LANGUAGES = ("zh", "en")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
TIMEZONE = "Asia/Shanghai"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"

babel = Babel()


def load_catalog(lang: str, directory: Path = TRANSLATIONS) -> Translations | None:
    """Compile ``<directory>/<lang>/LC_MESSAGES/messages.po`` in memory (fuzzy entries are skipped)."""
    po = directory / lang / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return None
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


class PoDomain(Domain):
    """A Flask-Babel domain whose catalogs come from the ``.po`` files, compiled once at start."""

    def __init__(self, directory: Path = TRANSLATIONS) -> None:
        super().__init__(translation_directories=[str(directory)])
        self.catalogs: dict[str, Translations] = {}
        for lang in LANGUAGES:
            found = load_catalog(lang, directory)
            if found is not None:
                self.catalogs[lang] = found

    def get_translations(self) -> Any:
        locale = get_locale()
        found = self.catalogs.get(locale.language) if locale is not None else None
        return found if found is not None else NullTranslations()


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return str(current_user.language)
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(LANGUAGES, default="zh") or "zh"


def current_lang() -> str:
    """``zh`` or ``en`` for this request."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "zh"


def init_i18n(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = "zh"
    app.config["BABEL_DEFAULT_TIMEZONE"] = TIMEZONE
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: TIMEZONE)
    babel.domain_instance = PoDomain()  # replaces the .mo-based default domain
    from web.clocks import clock_basis

    app.jinja_env.filters.update(localtime=localtime, countdown=countdown, isotime=isotime,
                                 clock_basis=lambda doc: clock_basis(doc, current_lang()))
    app.jinja_env.globals.update(current_lang=current_lang, LANGUAGES=LANGUAGES,
                                 LANGUAGE_NAMES=LANGUAGE_NAMES)


def as_datetime(value: Any) -> datetime | None:
    """A timezone-aware datetime from a datetime (naive = UTC) or an ISO string (``...Z`` allowed)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def localtime(value: Any, fmt: str = "yyyy-MM-dd HH:mm") -> str:
    """Format a moment in Asia/Shanghai (the same pattern in both languages: unambiguous)."""
    moment = as_datetime(value)
    return format_datetime(moment, fmt) if moment is not None else ""


def isotime(value: Any) -> str:
    moment = as_datetime(value)
    return moment.isoformat() if moment is not None else ""


def countdown(value: Any, now: datetime | None = None) -> str:
    """"in 3 days" / "3 days ago" (localised) for a due moment."""
    moment = as_datetime(value)
    if moment is None:
        return ""
    delta: timedelta = moment - (now or datetime.now(UTC))
    return format_timedelta(delta, add_direction=True, threshold=1.2)
