"""Interface language: 简体中文 by default, English on request.

The choice is kept in the session and, for signed-in users, on their account. API calls
follow the Accept-Language header so integrators get messages in their language.
"""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user

LANGUAGE_NAMES = {"zh_CN": "简体中文", "en": "English"}


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(languages, default=languages[0])
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def html_lang(locale: str) -> str:
    """The value for <html lang>."""
    return "zh-CN" if locale.startswith("zh") else "en"
