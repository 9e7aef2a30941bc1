"""Interface language: 简体中文 by default, English on request.

The choice is kept in the session and, for signed-in users, on their account. API calls
follow the Accept-Language header so integrators get messages in their language.
"""

from __future__ import annotations

import functools

from babel import support
from flask import current_app, has_app_context, has_request_context, request, session
from flask_babel import Domain, get_locale
from flask_login import current_user

LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and jobs speak the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(languages, default=languages[0])
    chosen = session.get("lang")
    if isinstance(chosen, str) and chosen in languages:
        return chosen
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def current_language() -> str:
    """The configured language code in use ("zh_CN" or "en"); Babel would say zh_Hans_CN."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def html_lang(locale: str) -> str:
    """The value for <html lang>."""
    return "zh-CN" if locale.startswith("zh") else "en"


class CatalogDomain(Domain):
    """Finds catalogs by the folder names people use (``zh_CN``).

    Babel spells the parsed locale ``zh_Hans_CN``, and gettext never looks for ``zh_CN``
    from that, so Flask-Babel's own lookup would quietly fall back to English.
    """

    def get_translations(self) -> support.NullTranslations:
        locale = get_locale()
        if locale is None or not has_app_context():
            return support.NullTranslations()
        names = (str(locale), "_".join(filter(None, (locale.language, locale.territory))))
        return _load_catalog(current_app.config["BABEL_TRANSLATION_DIRECTORIES"], names)


@functools.cache
def _load_catalog(directory: str, names: tuple[str, ...]) -> support.NullTranslations:
    return support.Translations.load(directory, list(names), "messages")
