"""Who belongs to an organization: invitations, roles, removal.

An invitation is bound to the address it was sent to: only a person signed in with that
address (or a new person registering with it) may accept it, whoever else opens the link.
An owner may remove a member; that person's access to the organization ends with their
next request, on pages (their memberships are read on every request) and through the API
(their tokens for the organization are revoked). Functions take a session and plain
values, flush, never commit.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotAllowed
from marketplace.jsonapi import Actor, hash_token
from marketplace.models import ApiToken, Invitation, Membership, Role, User
from marketplace.services import normalize_email


def invite(
    session: Session, *, actor: Actor, email: str, role: Role, days: int = 7
) -> tuple[Invitation, str]:
    """An invitation into the actor's organization; returns it with the link's secret."""
    if not actor.role.can_manage:
        raise NotAllowed(_l("Only owners and administrators invite colleagues."))
    if role is Role.OWNER and actor.role is not Role.OWNER:
        raise NotAllowed(_l("Only an owner can invite another owner."), field="role")
    email = normalize_email(email)
    member = session.scalar(
        sa.select(Membership.id)
        .join(User)
        .where(Membership.organization_id == actor.organization.id, User.email == email)
    )
    if member is not None:
        raise Conflict(_l("This person is a member already."), field="email")
    secret = secrets.token_urlsafe(32)
    invitation = Invitation(
        organization_id=actor.organization.id,
        email=email,
        role=role,
        token_hash=hash_token(secret),
        invited_by_id=actor.user.id,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        "invitation.created",
        "invitation",
        invitation.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"email": email, "role": role.value},
    )
    return invitation, secret


def find_invitation(session: Session, secret: str) -> Invitation | None:
    invitation = session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == hash_token(secret or ""))
    )
    if invitation is None or not invitation.is_open(utcnow()):
        return None
    return invitation


def is_invitee(invitation: Invitation, user: User) -> bool:
    """The invitation was sent to ``user``'s address (the one they sign in with)."""
    return normalize_email(user.email) == invitation.email


def invitee_has_account(session: Session, invitation: Invitation) -> bool:
    """The invited address has an account already: its owner signs in to accept."""
    return session.scalar(sa.select(User.id).where(User.email == invitation.email)) is not None


def accept_invitation(session: Session, invitation: Invitation, user: User) -> Membership:
    if not invitation.is_open(utcnow()):
        raise Conflict(_l("This invitation has expired or been used."))
    if not is_invitee(invitation, user):
        # Whoever holds the link is not necessarily the person it was sent to.
        raise NotAllowed(
            _l(
                "This invitation is for %(email)s. Sign in with that address to accept it.",
                email=invitation.email,
            )
        )
    existing = user.membership_in(invitation.organization_id)
    if existing is not None:
        raise Conflict(_l("You are a member of this organization already."))
    membership = Membership(
        user_id=user.id, organization_id=invitation.organization_id, role=invitation.role
    )
    session.add(membership)
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    session.flush()
    audit.record(
        session,
        "membership.created",
        "membership",
        membership.id,
        user_id=user.id,
        org_id=invitation.organization_id,
        data={"role": invitation.role.value, "invitation": invitation.id},
    )
    return membership


def revoke_invitation(session: Session, invitation: Invitation, *, actor: Actor) -> None:
    if invitation.organization_id != actor.organization.id or not actor.role.can_manage:
        raise NotAllowed(_l("You cannot revoke this invitation."))
    invitation.revoked_at = utcnow()
    session.flush()


def change_role(session: Session, membership: Membership, role: Role, *, actor: Actor) -> None:
    if membership.organization_id != actor.organization.id or not actor.role.can_manage:
        raise NotAllowed(_l("Only owners and administrators change roles."))
    if Role.OWNER in (role, membership.role) and actor.role is not Role.OWNER:
        raise NotAllowed(_l("Only an owner can grant or take away ownership."), field="role")
    if membership.role is Role.OWNER and role is not Role.OWNER:
        owners = session.scalar(
            sa.select(sa.func.count()).where(
                Membership.organization_id == membership.organization_id,
                Membership.role == Role.OWNER,
            )
        )
        if owners == 1:
            raise Conflict(_l("An organization keeps at least one owner."), field="role")
    old = membership.role
    membership.role = role
    session.flush()
    audit.record(
        session,
        "membership.role_changed",
        "membership",
        membership.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"user_id": membership.user_id, "from": old.value, "to": role.value},
    )


def remove_member(session: Session, membership: Membership, *, actor: Actor) -> None:
    """An owner removes someone from the organization: the membership goes, and so do the
    API tokens the person holds for it (a later invitation must not bring them back)."""
    if membership.organization_id != actor.organization.id or actor.role is not Role.OWNER:
        raise NotAllowed(_l("Only an owner removes members."))
    if membership.user_id == actor.user.id:
        raise Conflict(_l("You cannot remove yourself from the organization."))
    if membership.role is Role.OWNER:
        owners = session.scalar(
            sa.select(sa.func.count()).where(
                Membership.organization_id == membership.organization_id,
                Membership.role == Role.OWNER,
            )
        )
        if owners == 1:
            raise Conflict(_l("An organization keeps at least one owner."))
    now = utcnow()
    tokens = session.scalars(
        sa.select(ApiToken).where(
            ApiToken.user_id == membership.user_id,
            ApiToken.organization_id == membership.organization_id,
            ApiToken.is_active,
        )
    ).all()
    for token in tokens:
        token.revoked_at = now
    data = {
        "user_id": membership.user_id,
        "email": membership.user.email,
        "role": membership.role.value,
        "tokens_revoked": sorted(token.prefix for token in tokens),
    }
    membership_id = membership.id
    session.delete(membership)
    session.flush()
    audit.record(
        session,
        "membership.removed",
        "membership",
        membership_id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data=data,
    )
