"""The site frame: health check, language switch, the region picker's data."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    jsonify,
    redirect,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from marketplace import reference
from marketplace.db import db
from marketplace.extensions import csrf, limiter

bp = Blueprint("site", __name__)


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths, so a link cannot send people elsewhere after an action."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


@bp.get("/healthz")
@limiter.exempt
def healthz() -> tuple[Response, int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        current_app.logger.warning("health check failed: %s", exc)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


@bp.get("/favicon.ico")
@limiter.exempt
def favicon() -> Response:
    """Browsers ask for it on every site, whatever the page links."""
    return send_from_directory(
        current_app.static_folder or "", "favicon.ico", mimetype="image/vnd.microsoft.icon"
    )


@bp.post("/language")
@csrf.exempt  # checked inside for signed-in people
def set_language() -> Response:
    """The display language: remembered in the session, and on the account of a signed-in
    person, whose request must carry the CSRF token (a visitor's only changes its own
    session, and its pages carry no token so they can be cached)."""
    if current_user.is_authenticated and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
        if current_user.is_authenticated:
            current_user.locale = lang
    return redirect(safe_next(request.form.get("next"), url_for("storefront.home")))


@bp.get("/regions.json")
def regions_json() -> Response:
    response = jsonify(reference.picker_tree())
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response
