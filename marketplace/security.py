"""Security headers for every response, with a Content Security Policy that allows no
inline script: every script is a file served from this site."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_babel import gettext as _


def content_security_policy(app: Flask) -> str:
    script = ["'self'", *app.config.get("CSP_EXTRA_SCRIPT_SRC", ())]
    frame = ["'self'", *app.config.get("CSP_EXTRA_FRAME_SRC", ())]
    connect = ["'self'", *app.config.get("CSP_EXTRA_CONNECT_SRC", ())]
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        "style-src": ["'self'"],
        # Bootstrap draws form controls with data: SVG images.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": connect,
        "frame-src": frame,
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def has_nul_character() -> bool:
    """A NUL character in a form field, the query string or a JSON body: no text a person
    types has one, and PostgreSQL cannot store it."""
    fields = (*request.args.items(multi=True), *request.form.items(multi=True))
    if any("\x00" in key or "\x00" in value for key, value in fields):
        return True
    if request.is_json:
        body = request.get_data(cache=True)
        return b"\\u0000" in body or b"\x00" in body
    return False


def has_malformed_form() -> bool:
    """A form body the browser could not have sent: werkzeug keeps a part whose header it
    cannot read (``name="a\\"``) under no name at all."""
    if request.mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return False
    return any(not key for key in (*request.form.keys(), *request.files.keys()))


def init_app(app: Flask) -> None:
    policy = content_security_policy(app)

    @app.before_request
    def refuse_impossible_input() -> None:
        from marketplace.jsonapi import ApiError, is_api_request

        if "\x00" in request.path:  # no address of ours has one; PostgreSQL cannot hold it
            message = _("This page does not exist.")
            if is_api_request():
                raise ApiError(404, message)
            abort(404)
        if has_malformed_form():
            message = _("The form data could not be read. Please reload the page and try again.")
            if is_api_request():
                raise ApiError(400, message)
            abort(400, description=message)
        if has_nul_character():
            message = _("The text contains a NUL character (\\u0000), which is not allowed.")
            if is_api_request():
                raise ApiError(422, message)
            abort(422, description=message)

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["SESSION_COOKIE_SECURE"]:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
