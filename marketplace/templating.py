"""What every template can use: the acting organization, languages, and display filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, g, render_template, request
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from marketplace import dates, reference
from marketplace.auth import web_actor
from marketplace.db import db
from marketplace.i18n import LANGUAGE_NAMES, current_language, html_lang
from marketplace.models import Membership
from marketplace.money import format_fen
from marketplace.pagecache import LRU, fill, hole


def _memberships() -> list[Membership]:
    if not current_user.is_authenticated:
        return []
    web_actor()  # reads them once per request
    if "web_memberships" in g:
        return list(g.web_memberships)
    return list(
        db.session.scalars(
            sa.select(Membership)
            .where(Membership.user_id == current_user.id)
            .order_by(Membership.id)
        )
    )


def _industry_name(code: str | None) -> str:
    industry = reference.industry(code or "")
    return industry.name(str(get_locale())) if industry else (code or "")


def _when(value: datetime | None, format: str = "medium") -> str:
    return format_datetime(value, format) if value else ""


def _first_day(start: datetime | None, format: str = "medium") -> str:
    """The first day of a date-only field (a window's or period's stored start)."""
    return format_date(dates.first_day(start), format) if start else ""


def _last_day(end: datetime | None, format: str = "medium") -> str:
    """The last day of a date-only field (a window's or period's stored exclusive end), or
    the last day something that ends at ``end`` can still be used."""
    return format_date(dates.last_day(end), format) if end else ""


_navigations: LRU[Markup] = LRU(2048)


def navigation() -> Markup:
    """The navigation bar (templates/_nav.html) of this request. Its key holds all it
    shows: the person, their organizations and roles, the one they act for, the language
    and the page (for the highlighted item); the token, the page to return to and the
    bell are filled in on every request."""
    actor = web_actor()
    signed_in = current_user.is_authenticated
    key: tuple[object, ...] = (current_language(), request.endpoint)
    if signed_in:
        key += (
            current_user.id,
            current_user.name,
            (actor.organization.id, actor.organization.name, actor.org_kind, actor.role)
            if actor
            else None,
            tuple((m.organization_id, m.organization.name, m.role) for m in _memberships()),
        )
    html = _navigations.get(key)
    if html is None:
        html = Markup(render_template("_nav.html", hole=hole))
        _navigations.put(key, html)
    return fill(
        html,
        csrf=generate_csrf() if signed_in else "",
        next=request.full_path.rstrip("?"),
        bell=Markup(render_template("_nav_bell.html")) if actor else "",
    )


def init_app(app: Flask) -> None:
    @app.context_processor
    def inject() -> dict[str, Any]:
        locale = current_language()
        return {
            "actor": web_actor(),
            "memberships": _memberships,
            "locale": locale,
            "html_lang": html_lang(locale),
            "language_names": LANGUAGE_NAMES,
            "site_name": app.config["SITE_NAME"],
            "next_url": request.full_path.rstrip("?"),
            "navigation": navigation,
        }

    app.jinja_env.filters["money"] = lambda fen: "" if fen is None else format_fen(fen)
    app.jinja_env.filters["region"] = lambda code: reference.region_label(code) if code else ""
    app.jinja_env.filters["industry"] = _industry_name
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["first_day"] = _first_day
    app.jinja_env.filters["last_day"] = _last_day
