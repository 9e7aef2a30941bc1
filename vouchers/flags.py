"""Dishonesty flags (失信): a government officer flags an organization, which then
qualifies for no voucher program until the flagging government clears it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization
from vouchers import access
from vouchers.models import OrganizationFlag


def active_flags(session: Session, organization_id: int) -> list[OrganizationFlag]:
    return list(
        session.scalars(
            sa.select(OrganizationFlag)
            .where(
                OrganizationFlag.organization_id == organization_id,
                OrganizationFlag.cleared_at.is_(None),
            )
            .order_by(OrganizationFlag.id)
        )
    )


def is_flagged(session: Session, organization_id: int) -> bool:
    return bool(active_flags(session, organization_id))


def flag(
    session: Session, organization: Organization, *, actor: Actor, reason: str, now: datetime
) -> OrganizationFlag:
    access.require_officer(actor)
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Say why the organization is flagged."), field="reason")
    if any(
        f.flagged_by_org_id == actor.organization.id for f in active_flags(session, organization.id)
    ):
        raise Conflict(_l("Your organization has flagged this organization already."))
    record = OrganizationFlag(
        organization_id=organization.id,
        flagged_by_org_id=actor.organization.id,
        flagged_by_user_id=actor.user.id,
        reason=reason,
        flagged_at=now,
    )
    session.add(record)
    session.flush()
    access.record(
        session,
        "organization.flagged",
        "organization",
        organization.id,
        actor,
        flag_id=record.id,
        reason=reason,
    )
    return record


def clear(
    session: Session, record: OrganizationFlag, *, actor: Actor, note: str, now: datetime
) -> OrganizationFlag:
    access.require_officer(actor)
    if record.flagged_by_org_id != actor.organization.id:
        raise NotAllowed(_l("Only the government that set a flag clears it."))
    if record.cleared_at is not None:
        raise Conflict(_l("This flag is cleared already."))
    record.cleared_at = now
    record.cleared_by_user_id = actor.user.id
    record.clear_note = note.strip()
    session.flush()
    access.record(
        session,
        "organization.flag_cleared",
        "organization",
        record.organization_id,
        actor,
        flag_id=record.id,
        note=record.clear_note,
    )
    return record
