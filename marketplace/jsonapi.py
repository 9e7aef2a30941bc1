"""JSON API plumbing: the error shape, bearer-token authentication, the OpenAPI document.

Every package defines its endpoints on a :class:`flask_smorest.Blueprint` under
``/api/v1`` in its own ``api.py``; the app factory registers them on :data:`api`.
Errors always have the shape of DESIGN.md section 6::

    {"error": {"code": "not_found", "message": "...", "fields": {...}}}
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_smorest import Api as SmorestApi
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from marketplace.db import MAX_ROW_ID, db, utcnow
from marketplace.errors import DomainError
from marketplace.models import ApiToken, Membership, Organization, OrgKind, Role, User
from marketplace.money import MAX_FEN

F = TypeVar("F", bound=Callable[..., Any])

API_PREFIX = "/api/"
TOKEN_PREFIX = "mkt_"
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)

_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def row_id(**options: Any) -> ma.fields.Integer:
    """A reference to a row in a request body: a whole number from 1 to MAX_ROW_ID."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ROW_ID), **options)


_WHOLE_FEN_TEXT = re.compile(r"-?[0-9]{1,20}")


class Fen(ma.fields.Integer):
    """An amount of money in whole fen: every ``*_fen`` input of the API.

    In a JSON body only a JSON integer is an amount: ``1999``. A fraction (``1999.99``,
    ``1.5``), a number written with a decimal point (``1999.0``: the JSON parser has made
    it a float already, and 1999.0000000000000001 arrives as the same float), a string
    (``"1999"``), a boolean, NaN and infinities are refused with 422 naming the field,
    never truncated (Stripe refuses non-integer amounts too). In a query string, where
    every value is text, only plain digits are. The range is part of the field, so the
    OpenAPI document says integer, minimum and maximum.
    """

    def __init__(
        self, *, minimum: int = 1, maximum: int = MAX_FEN, in_query: bool = False, **options: Any
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.in_query = in_query
        metadata = {"description": "whole fen (integer)", **options.pop("metadata", {})}
        super().__init__(
            strict=True,
            # Checked in _deserialize with a translated message; listed for the OpenAPI
            # document's minimum and maximum.
            validate=ma.validate.Range(min=minimum, max=maximum),
            metadata=metadata,
            **options,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if self.in_query and isinstance(value, str) and _WHOLE_FEN_TEXT.fullmatch(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ma.ValidationError(
                _("Amounts are whole fen: an integer such as 199999 for ¥1,999.99.")
            )
        if not self.minimum <= value <= self.maximum:
            raise ma.ValidationError(
                _(
                    "Enter a whole number of fen from %(minimum)s to %(maximum)s.",
                    minimum=f"{self.minimum:,}",
                    maximum=f"{self.maximum:,}",
                )
            )
        return value


class ErrorBody(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable machine code"})
    message = ma.fields.String(required=True, metadata={"description": "Human message"})
    # The body's key is "fields". Marshmallow takes declared fields off the class, so this
    # does not hide Schema.fields at run time; its stubs only see the class attribute.
    fields = ma.fields.Dict(  # type: ignore[assignment]
        keys=ma.fields.String(),
        metadata={"description": "Per-field messages for validation errors"},
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBody, required=True)


class ApiError(HTTPException):
    """An error an API view raises with its own code, message and field messages."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description=message)
        self.code = status
        self.error_code = code or _ERROR_CODES.get(status, "error")
        self.fields = fields or {}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def _flatten_messages(messages: Any, prefix: str = "") -> dict[str, Any]:
    """webargs nests messages by location (``{"json": {"x": [...]}}``); callers want fields."""
    if isinstance(messages, dict):
        if set(messages) <= {"json", "query", "form", "headers", "files", "view_args"}:
            out: dict[str, Any] = {}
            for sub in messages.values():
                out.update(_flatten_messages(sub, prefix))
            return out
        return {f"{prefix}{k}": v for k, v in messages.items()}
    return {prefix or "_schema": messages}


def error_payload(error: HTTPException) -> tuple[dict[str, Any], int]:
    status = error.code or 500
    if isinstance(error, ApiError):
        body = {"code": error.error_code, "message": error.description, "fields": error.fields}
        return {"error": body}, status
    data = getattr(error, "data", None) or {}
    fields = _flatten_messages(data.get("messages") or data.get("errors") or {})
    message = data.get("message") or error.description or error.name
    if status == 422:
        message = _("The request has invalid fields.")
    elif status == 500:
        message = _("Something went wrong on our side. Please try again later.")
    body = {"code": _ERROR_CODES.get(status, "error"), "message": message, "fields": fields}
    return {"error": body}, status


def database_unavailable() -> ApiError:
    return ApiError(
        503, _("The service cannot reach its database right now. Please try again in a moment.")
    )


def _is_database_outage(error: BaseException | None) -> bool:
    """The database is down, restarting or unreachable (or SQLite is locked): worth a retry,
    not a bug. Only OperationalError: integrity and data errors stay 500s."""
    return isinstance(error, sa.exc.OperationalError) or (
        isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated
    )


class Api(SmorestApi):
    """flask-smorest with our error shape for the API and HTML error pages elsewhere."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(sa.exc.DBAPIError, self.handle_database_error)

    def handle_database_error(self, error: sa.exc.DBAPIError) -> Any:
        """A database outage during a view answers 503 (the request was rolled back), in
        the API's error shape or as an error page; anything else stays a 500."""
        if not _is_database_outage(error):
            raise error
        current_app.logger.warning("database unavailable: %s", error.orig or error)
        return self.handle_http_exception(database_unavailable())

    def handle_http_exception(self, error: HTTPException) -> Any:
        status = error.code or 500
        if status == 500 and _is_database_outage(getattr(error, "original_exception", None)):
            # The outage hit after the view, e.g. the commit at the request boundary.
            error, status = database_unavailable(), 503
        if is_api_request():
            payload, status = error_payload(error)
            response = jsonify(payload)
            response.status_code = status
            if status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
            for name, value in ((getattr(error, "data", None) or {}).get("headers") or {}).items():
                response.headers[name] = value
            if isinstance(error, MethodNotAllowed) and error.valid_methods:
                # RFC 9110: a 405 names the methods the resource does take.
                response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
            return response
        if status == 405:
            return error  # werkzeug's response keeps the Allow header
        template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
        return render_template(template, error=error, status=status), status


def init_spec(app_api: Api) -> None:
    app_api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "marketplace token"}
    )
    for name, description in (
        ("Unauthorized", "Missing, unknown or revoked token"),
        ("Forbidden", "The token's organization or role may not do this"),
    ):
        app_api.spec.components.response(
            name,
            {
                "description": description,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )


# --- tokens ------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, in one organization, with one role."""

    user: User
    organization: Organization
    role: Role
    token: ApiToken | None = None

    @property
    def org_kind(self) -> OrgKind:
        return self.organization.kind


def authenticate_bearer() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, _("Send an API token as 'Authorization: Bearer <token>'."))
    session = db.session
    found = session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip()))
    )
    if found is None or not found.is_active or not found.user.is_active:
        raise ApiError(401, _("This API token is unknown or has been revoked."))
    membership = session.scalar(
        sa.select(Membership).where(
            Membership.user_id == found.user_id,
            Membership.organization_id == found.organization_id,
        )
    )
    if membership is None:
        raise ApiError(401, _("The token's user no longer belongs to its organization."))
    now = utcnow()
    # At most once a minute: updating the row on every call would make concurrent calls
    # with one token queue behind each other's row lock.
    if found.last_used_at is None or now - found.last_used_at > TOKEN_TOUCH_INTERVAL:
        found.last_used_at = now
    return Actor(found.user, found.organization, membership.role, found)


def token_required(kinds: Iterable[OrgKind] = (), *, write: bool = False) -> Callable[[F], F]:
    """Authenticate the bearer token; then the organization kind (and write role) must fit."""
    allowed = frozenset(kinds)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = authenticate_bearer()
            if allowed and actor.org_kind not in allowed:
                raise ApiError(403, _("Your organization may not use this endpoint."))
            if write and not actor.role.can_write:
                raise ApiError(403, _("Your role only allows reading."))
            g.actor = actor
            return view(*args, **kwargs)

        apidoc = dict(getattr(wrapper, "_apidoc", {}))
        manual = dict(apidoc.get("manual_doc", {}))
        manual["security"] = [{"bearerAuth": []}]
        manual.setdefault("responses", {}).update(
            {"401": {"$ref": "#/components/responses/Unauthorized"}}
        )
        if allowed or write:
            manual["responses"]["403"] = {"$ref": "#/components/responses/Forbidden"}
        apidoc["manual_doc"] = manual
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def current_actor() -> Actor:
    return g.actor


@contextmanager
def service_call() -> Iterator[None]:
    """Run services in a savepoint; a rule's refusal becomes the API's error answer and
    leaves the database as it was."""
    try:
        with db.session.begin_nested():
            yield
    except DomainError as error:
        raise ApiError(
            error.status, str(error.message), code=error.code, fields=error.fields
        ) from error


def json_response(payload: Any, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response
