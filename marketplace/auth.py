"""Who is signed in, which organization they act for, and the one decorator pages use.

A user may belong to several organizations; the one they act for is kept in the session
(``org_id``) and checked against their memberships on every request. Pages declare what
they need with :func:`org_required`; the check lives here and nowhere else.

Signing in and out goes through :func:`sign_in` and :func:`sign_out`, which keep a
server-side session (:mod:`marketplace.user_sessions`) so that a sign-out cannot be undone
by a copied cookie. Every answer to a request that carries credentials (a session that
claims a user, a remember-me cookie, a bearer token) is marked ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from flask import Flask, Response, abort, current_app, g, request, session
from flask.sansio.app import App
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME
from sqlalchemy.orm import ORMExecuteState

from marketplace import user_sessions
from marketplace.db import db, utcnow
from marketplace.extensions import login_manager
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind, Role, SessionEnd, User, UserSession

F = TypeVar("F", bound=Callable[..., Any])


def _remember_cookie_name() -> str:
    return current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)


# Figures of the organization a browser acts for that every signed-in page shows (the
# notifications bell), read with the user's session in the same round trip. A package
# registers a scalar subquery of the organization's id; ``page_figure`` answers from what
# was read, until the request writes anything.
Figure = Callable[[sa.BindParameter[int]], sa.ScalarSelect[Any]]


@dataclass
class _Figures:
    figures: dict[str, Figure] = field(default_factory=dict)
    statement: sa.Select[Any] = field(default_factory=user_sessions.live_statement)


def read_with_session(app: App, name: str, figure: Figure) -> None:
    """Read ``figure`` (given the organization's id as a parameter) with the session of
    every signed-in request of ``app``; ``page_figure(name, org_id)`` then answers it
    without a statement of its own."""
    read = app.extensions.setdefault("marketplace.page_figures", _Figures())
    read.figures[name] = figure
    org_id = sa.bindparam("org_id", type_=sa.Integer)
    read.statement = user_sessions.live_statement(
        *(made(org_id).label(label) for label, made in sorted(read.figures.items()))
    )


def page_figure(name: str, org_id: int) -> Any | None:
    """A figure read with this request's session for organization ``org_id``; None when it
    was not (another organization, no session, or the request has written since)."""
    read = g.get("page_figures")
    if read is None or read[0] != org_id:
        return None
    return read[1].get(name)


_NO_FIGURES = _Figures()


def _forget_figures(*_args: Any) -> None:
    g.pop("page_figures", None)


def _forget_figures_on_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _forget_figures()


@login_manager.user_loader
def load_user(secret: str) -> User | None:
    """The user of the live server-side session whose secret the session cookie (or the
    remember-me cookie) carries; None when that session was ended or has expired."""
    now = utcnow()
    org_id = session.get("org_id")
    org_id = org_id if isinstance(org_id, int) and not isinstance(org_id, bool) else 0
    read: _Figures = current_app.extensions.get("marketplace.page_figures") or _NO_FIGURES
    row = user_sessions.find_live_row(
        db.session, secret, now=now, statement=read.statement, org_id=org_id
    )
    record = row[0] if row is not None else None
    if record is None or not record.user.is_active:
        # Forget the dead claim, and the remember-me cookie that would bring it back.
        session.pop("_user_id", None)
        if _remember_cookie_name() in request.cookies:
            session["_remember"] = "clear"
        return None
    user_sessions.touch(record, now=now, ip_address=request.remote_addr or "")
    if "_id" not in session:
        # Restored from the remember-me cookie: Flask-Login does not note the browser's
        # identifier then, and its "strong" protection would sign the browser out again
        # on the next request.
        session["_id"] = login_manager._session_identifier_generator()
    g.user_session = record
    if read.figures:
        assert row is not None
        g.page_figures = (org_id, dict(zip(sorted(read.figures), row[1:], strict=True)))
        # A write in this request may change them: answer from the database again.
        if not sa.event.contains(db.session, "after_flush", _forget_figures):
            sa.event.listen(db.session, "after_flush", _forget_figures)
            sa.event.listen(db.session, "do_orm_execute", _forget_figures_on_write)
    return record.user


def sign_in(user: User, *, remember: bool = False) -> UserSession:
    """Sign ``user`` in on this browser with a new server-side session."""
    record, secret = user_sessions.start(
        db.session,
        user,
        remember=remember,
        now=utcnow(),
        user_agent=request.user_agent.string,
        ip_address=request.remote_addr or "",
    )
    login_user(user, remember=remember, duration=user_sessions.REMEMBER_LIFETIME)
    # Flask-Login keeps get_id() (the bare user id, which could never be revoked) in the
    # session and the remember-me cookie; they carry the session's secret instead.
    session["_user_id"] = secret
    g.user_session = record
    g.pop("web_actor", None)
    return record


def current_session() -> UserSession | None:
    """The server-side session of this request's signed-in browser."""
    if not current_user.is_authenticated:
        return None
    return g.get("user_session")


def sign_out(reason: SessionEnd = SessionEnd.SIGNED_OUT) -> None:
    """End this browser's session on the server, then drop it from the cookies."""
    record = current_session()
    if record is not None:
        user_sessions.end(db.session, record, reason=reason, now=utcnow())
    logout_user()
    g.pop("user_session", None)
    g.pop("web_actor", None)


def sent_credentials() -> bool:
    """The request claims to be someone's: a signed-in session (live or not), a
    remember-me cookie or an Authorization header."""
    return (
        "_user_id" in session
        or _remember_cookie_name() in request.cookies
        or "Authorization" in request.headers
    )


def _is_static_file() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def init_app(app: Flask) -> None:
    @app.before_request
    def note_credentials() -> None:
        # Noted before the view runs: a sign-out empties the session it would be read from.
        if not _is_static_file():
            g.sent_credentials = sent_credentials()

    @app.after_request
    def no_store_for_signed_in(response: Response) -> Response:
        """Pages and API answers for a signed-in person stay out of every cache (a shared
        computer's back button, a proxy); the site's static files are the same for all."""
        if _is_static_file():
            return response
        if g.get("sent_credentials") or "_user_id" in session:
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
            if "Authorization" in request.headers:
                response.vary.add("Authorization")
        return response


def web_actor() -> Actor | None:
    """The signed-in user in their current organization, or None."""
    if "web_actor" in g:
        return g.web_actor
    actor = None
    if current_user.is_authenticated:
        # Loaded with the user's session (user_sessions.find_live), oldest first.
        memberships = sorted(current_user.memberships, key=lambda m: m.id)
        g.web_memberships = memberships  # the navigation's organization switcher reads them
        chosen = next((m for m in memberships if m.organization_id == session.get("org_id")), None)
        chosen = chosen or (memberships[0] if memberships else None)
        if chosen is not None:
            session["org_id"] = chosen.organization_id
            actor = Actor(current_user._get_current_object(), chosen.organization, chosen.role)
    g.web_actor = actor
    return actor


def org_required(
    kinds: Iterable[OrgKind] = (),
    *,
    manage: bool = False,
    owner: bool = False,
    write: bool = False,
    verified: bool = False,
) -> Callable[[F], F]:
    """Signed in, acting for an organization of one of ``kinds``, with a fitting role.

    ``manage``: owner or admin; ``owner``: owner only; ``write``: any role but auditor; ``verified``: the
    organization has been verified by the platform.
    """
    allowed = frozenset(kinds)

    def decorator(view: F) -> F:
        @login_required
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = web_actor()
            if actor is None:
                abort(403)
            if allowed and actor.org_kind not in allowed:
                abort(403)
            if manage and not actor.role.can_manage:
                abort(403)
            if owner and actor.role is not Role.OWNER:
                abort(403)
            if write and not actor.role.can_write:
                abort(403)
            if verified and not actor.organization.is_verified:
                abort(403)
            g.actor = actor
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
