"""Signed-in sessions, kept on the server so that signing out signs out.

Every sign-in creates a :class:`UserSession` row with a random secret; only the secret's
SHA-256 is stored. The secret travels in the signed Flask session and, with "keep me
signed in", in the remember-me cookie. A request is signed in only while its row is live
(not revoked, not expired), so a session cookie copied before logout, or a remember-me
cookie kept for a year, opens nothing once the row is ended:

- signing out ends the session of that browser;
- "sign out everywhere" ends every session of the user;
- changing the password ends every session, then signs the browser that changed it in
  again with a new secret.

Functions take a database session and plain values, flush, never commit.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace import audit, services
from marketplace.db import UTCDateTime, rows_changed
from marketplace.errors import DomainError, NotAllowed
from marketplace.jsonapi import hash_token
from marketplace.models import Membership, SessionEnd, User, UserSession

# A session without "keep me signed in" lasts a working day at most (the browser usually
# drops its cookie sooner); a remembered one as long as its remember-me cookie.
SESSION_LIFETIME = timedelta(hours=12)
REMEMBER_LIFETIME = timedelta(days=30)
# last_seen_at is written at most this often: not one UPDATE per page view.
TOUCH_INTERVAL = timedelta(minutes=5)
SECRET_PREFIX = "s1."  # tells a session secret from the bare user ids of old cookies
# Ended and expired sessions are kept this long (who was signed in where, and until when),
# then deleted when their user next signs in: the table does not grow with every sign-in.
KEEP_ENDED = timedelta(days=30)


def start(
    session: Session,
    user: User,
    *,
    remember: bool,
    now: datetime,
    user_agent: str = "",
    ip_address: str = "",
) -> tuple[UserSession, str]:
    """A new live session for ``user``; returns it with the secret for the cookies."""
    forget_before = now - KEEP_ENDED
    session.execute(
        sa.delete(UserSession).where(
            UserSession.user_id == user.id,
            sa.or_(UserSession.revoked_at < forget_before, UserSession.expires_at < forget_before),
        )
    )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    record = UserSession(
        user_id=user.id,
        token_hash=hash_token(secret),
        remember=remember,
        created_at=now,
        last_seen_at=now,
        expires_at=now + (REMEMBER_LIFETIME if remember else SESSION_LIFETIME),
        user_agent=(user_agent or "")[:300],
        ip_address=(ip_address or "")[:45],
    )
    session.add(record)
    session.flush()
    return record, secret


def live_statement(*also: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """The live session of a secret (parameters ``token_hash`` and ``now``) with its user,
    their memberships and their organizations — every signed-in page needs them
    (marketplace.auth.web_actor) — and the columns ``also`` beside it: one round trip."""
    return (
        sa.select(UserSession, *also)
        .where(
            UserSession.token_hash == sa.bindparam("token_hash"),
            # The expression form of is_live takes the parameter as it takes a time.
            UserSession.is_live(cast(datetime, sa.bindparam("now", type_=UTCDateTime()))),
        )
        .options(
            joinedload(UserSession.user)
            .joinedload(User.memberships)
            .joinedload(Membership.organization)
        )
    )


_FIND_LIVE = live_statement()  # built once: building costs about as much as the round trip


def find_live(session: Session, secret: str, *, now: datetime) -> UserSession | None:
    """The live session a cookie's secret belongs to, or None (unknown, ended, expired)."""
    row = find_live_row(session, secret, now=now, statement=_FIND_LIVE)
    return row[0] if row is not None else None


def find_live_row(
    session: Session,
    secret: str,
    *,
    now: datetime,
    statement: sa.Select[Any],
    **parameters: Any,
) -> sa.Row[Any] | None:
    """The row of ``statement`` (a ``live_statement``) for a cookie's secret: the live
    session first, then what else it reads; None when no session is live."""
    if not (secret or "").startswith(SECRET_PREFIX):
        return None
    return (
        session.execute(statement, {"token_hash": hash_token(secret), "now": now, **parameters})
        .unique()
        .one_or_none()
    )


def touch(record: UserSession, *, now: datetime, ip_address: str = "") -> None:
    if now - record.last_seen_at >= TOUCH_INTERVAL:
        record.last_seen_at = now
        if ip_address:
            record.ip_address = ip_address[:45]


def end(session: Session, record: UserSession, *, reason: SessionEnd, now: datetime) -> None:
    if record.revoked_at is None:
        record.revoked_at = now
        record.revoke_reason = reason
        session.flush()


def end_for_user(session: Session, record: UserSession, *, user: User, now: datetime) -> None:
    """``user`` ends one of their sessions from the sessions page of another device."""
    if record.user_id != user.id:
        raise NotAllowed(_l("This is not one of your sessions."))
    end(session, record, reason=SessionEnd.ENDED_REMOTELY, now=now)


def end_all(session: Session, user: User, *, reason: SessionEnd, now: datetime) -> int:
    """End every live session of ``user``; returns how many were live."""
    ended = rows_changed(
        session,
        sa.update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.is_live(now))
        .values(revoked_at=now, revoke_reason=reason)
        .execution_options(synchronize_session="fetch"),
    )
    session.flush()
    return ended


def live_sessions(session: Session, user: User, *, now: datetime) -> list[UserSession]:
    return list(
        session.scalars(
            sa.select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.is_live(now))
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def sign_out_everywhere(session: Session, user: User, *, now: datetime) -> int:
    count = end_all(session, user, reason=SessionEnd.EVERYWHERE, now=now)
    audit.record(
        session,
        "user.signed_out_everywhere",
        "user",
        user.id,
        user_id=user.id,
        data={"sessions_ended": count},
    )
    return count


def change_password(
    session: Session, user: User, *, current_password: str, new_password: str, now: datetime
) -> int:
    """Set a new password after checking the current one; every session of the user ends
    (whoever knew the old password is signed out). Returns how many sessions ended."""
    if not check_password_hash(user.password_hash, current_password or ""):
        raise DomainError(_l("The current password is wrong."), field="current_password")
    try:
        services.check_password(new_password, email=user.email)
    except DomainError as exc:
        raise DomainError(exc.message, field="new_password") from exc
    if new_password == current_password:
        raise DomainError(
            _l("Choose a password different from the current one."), field="new_password"
        )
    user.password_hash = generate_password_hash(new_password, method=services.PASSWORD_HASH_METHOD)
    count = end_all(session, user, reason=SessionEnd.PASSWORD_CHANGED, now=now)
    audit.record(
        session,
        "user.password_changed",
        "user",
        user.id,
        user_id=user.id,
        data={"sessions_ended": count},
    )
    return count


# --- telling devices apart -----------------------------------------------------------

_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("DingTalk", "DingTalk"),
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("Chromium", "Chromium"),
    ("Safari", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
_WORD = re.compile(r"[A-Za-z]+")


def describe_agent(user_agent: str) -> str:
    """A device's name from its User-Agent header ("Firefox · Windows"); the header's first
    word when the browser is not a known one (scripts, HTTP libraries)."""
    agent = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in agent), None)
    system = next((name for token, name in _SYSTEMS if token in agent), None)
    if browser and system:
        return f"{browser} · {system}"
    if browser or system:
        return browser or system or ""
    first = _WORD.search(agent)
    return first.group(0) if first else ""
