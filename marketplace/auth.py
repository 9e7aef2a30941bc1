"""Who is signed in, which organization they act for, and the one decorator pages use.

A user may belong to several organizations; the one they act for is kept in the session
(``org_id``) and checked against their memberships on every request. Pages declare what
they need with :func:`org_required`; the check lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort, g, session
from flask_login import current_user, login_required

from marketplace.db import db
from marketplace.extensions import login_manager
from marketplace.jsonapi import Actor
from marketplace.models import Membership, OrgKind, User

F = TypeVar("F", bound=Callable[..., Any])


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))


def web_actor() -> Actor | None:
    """The signed-in user in their current organization, or None."""
    if "web_actor" in g:
        return g.web_actor
    actor = None
    if current_user.is_authenticated:
        memberships = db.session.scalars(
            sa.select(Membership)
            .where(Membership.user_id == current_user.id)
            .order_by(Membership.id)
        ).all()
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
    write: bool = False,
    verified: bool = False,
) -> Callable[[F], F]:
    """Signed in, acting for an organization of one of ``kinds``, with a fitting role.

    ``manage``: owner or admin; ``write``: any role but auditor; ``verified``: the
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
            if write and not actor.role.can_write:
                abort(403)
            if verified and not actor.organization.is_verified:
                abort(403)
            g.actor = actor
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
