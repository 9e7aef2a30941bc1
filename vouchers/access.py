"""Who may act on the voucher domain, and the audit record every state change writes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.errors import NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from vouchers.models import Program


def require_officer(actor: Actor) -> None:
    """A government organization's member who may write."""
    if actor.org_kind is not OrgKind.GOVERNMENT or not actor.role.can_write:
        raise NotAllowed(_l("Only government officers manage voucher programs."))


def require_manager(program: Program, actor: Actor) -> None:
    """An officer of the government organization that owns ``program``."""
    require_officer(actor)
    if not program.can_manage(actor.organization.id):
        raise NotAllowed(_l("This program belongs to another government organization."))


def require_viewer(program: Program, actor: Actor) -> None:
    """Anyone of the owning organization, auditors included, may read a program's books."""
    if actor.org_kind is not OrgKind.GOVERNMENT or not program.can_manage(actor.organization.id):
        raise NotAllowed(_l("This program belongs to another government organization."))


def require_enterprise(actor: Actor) -> None:
    if actor.org_kind is not OrgKind.SME or not actor.role.can_write:
        raise NotAllowed(_l("Only enterprises (buyers) apply for and use vouchers."))


def record(
    session: Session,
    action: str,
    subject_type: str,
    subject_id: int,
    actor: Actor | None,
    **data: object,
) -> None:
    """Append the change to the hash-chained audit log (``actor`` None: a system job)."""
    audit.record(
        session,
        action,
        subject_type,
        subject_id,
        user_id=actor.user.id if actor else None,
        org_id=actor.organization.id if actor else None,
        data=data,
    )
