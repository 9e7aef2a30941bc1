"""Which audit rows a government organization may read: its own trail, never another's;
and the officer's filters over it (kind of event, person, object, China days).

A row belongs to a government when one of its people acted (``actor_org_id``), when it is
about the organization itself, or when its subject is a program the government owns or
something of such a program: an application, a voucher, a redemption, a settlement or an
anomaly case. System jobs (expiry, anomaly scans) act for nobody, so their rows are found
through the subject. The chain's verification still covers every row; only the listing is
narrowed. The operator's console lists all rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from marketplace import dates
from marketplace.audit import AuditEvent
from marketplace.models import Organization
from vouchers.models import Anomaly, Application, Program, Redemption, Settlement, Voucher
from vouchers.wallet import normalize_code

# subject_type -> the model whose rows carry a program_id
_PROGRAM_PARTS: dict[str, type[Application | Voucher | Redemption | Settlement | Anomaly]] = {
    "voucher_application": Application,
    "voucher": Voucher,
    "voucher_redemption": Redemption,
    "voucher_settlement": Settlement,
    "voucher_anomaly": Anomaly,
}


def _ids_as_text(column: InstrumentedAttribute[int]) -> sa.ColumnElement[str]:
    """``subject_id`` is text (subjects of every kind share the column)."""
    return sa.cast(column, sa.String)


def visible_to(org_id: int) -> sa.ColumnElement[bool]:
    """The condition on AuditEvent that keeps the rows of government ``org_id``."""
    owned = sa.select(Program.id).where(Program.owner_org_id == org_id)
    conditions = [
        AuditEvent.actor_org_id == org_id,
        sa.and_(AuditEvent.subject_type == "organization", AuditEvent.subject_id == str(org_id)),
        sa.and_(
            AuditEvent.subject_type == "voucher_program",
            AuditEvent.subject_id.in_(
                sa.select(_ids_as_text(Program.id)).where(Program.owner_org_id == org_id)
            ),
        ),
    ]
    for subject_type, model in _PROGRAM_PARTS.items():
        conditions.append(
            sa.and_(
                AuditEvent.subject_type == subject_type,
                AuditEvent.subject_id.in_(
                    sa.select(_ids_as_text(model.id)).where(model.program_id.in_(owned))
                ),
            )
        )
    return sa.or_(*conditions)


def latest_events(session: Session, org_id: int, *, limit: int) -> list[AuditEvent]:
    """The government's newest audit rows, newest first."""
    return list(
        session.scalars(
            sa.select(AuditEvent)
            .where(visible_to(org_id))
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    )


SYSTEM = 0  # the "person" of rows written by a job, which acts for nobody


@dataclass(frozen=True)
class TrailFilter:
    """What the officer narrowed the trail to; every field optional."""

    action: str | None = None  # an event kind, e.g. "voucher.issued"
    person: int | None = None  # a user id, or SYSTEM
    subject_type: str | None = None  # e.g. "voucher_program"
    subject_id: str | None = None  # with subject_type
    since: date | None = None  # China days, both inclusive
    until: date | None = None

    @property
    def is_empty(self) -> bool:
        return self == TrailFilter()


def _conditions(org_id: int, trail: TrailFilter) -> list[sa.ColumnElement[bool]]:
    conditions = [visible_to(org_id)]
    if trail.action:
        conditions.append(AuditEvent.action == trail.action)
    if trail.person == SYSTEM:
        conditions.append(AuditEvent.actor_user_id.is_(None))
    elif trail.person is not None:
        conditions.append(AuditEvent.actor_user_id == trail.person)
    if trail.subject_type:
        conditions.append(AuditEvent.subject_type == trail.subject_type)
    if trail.subject_id:
        conditions.append(AuditEvent.subject_id == trail.subject_id)
    if trail.since:
        conditions.append(AuditEvent.created_at >= dates.day_start(trail.since))
    if trail.until:
        conditions.append(AuditEvent.created_at < dates.day_end(trail.until))
    return conditions


def count(session: Session, org_id: int, trail: TrailFilter) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count()).select_from(AuditEvent).where(*_conditions(org_id, trail))
        )
        or 0
    )


def events(
    session: Session, org_id: int, trail: TrailFilter, *, limit: int, offset: int = 0
) -> list[AuditEvent]:
    """The rows the filter keeps, newest first."""
    return list(
        session.scalars(
            sa.select(AuditEvent)
            .where(*_conditions(org_id, trail))
            .order_by(AuditEvent.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def kinds(session: Session, org_id: int) -> list[str]:
    """The event kinds that occur in the government's trail (the filter's choices)."""
    return sorted(
        session.scalars(sa.select(AuditEvent.action).where(visible_to(org_id)).distinct())
    )


def subject_types(session: Session, org_id: int) -> list[str]:
    return sorted(
        session.scalars(sa.select(AuditEvent.subject_type).where(visible_to(org_id)).distinct())
    )


def people(session: Session, org_id: int) -> list[int]:
    """Ids of the people who acted in the trail (SYSTEM for jobs)."""
    ids = session.scalars(
        sa.select(sa.func.coalesce(AuditEvent.actor_user_id, SYSTEM))
        .where(visible_to(org_id))
        .distinct()
    )
    return sorted(ids)


def subject_by_reference(session: Session, subject_type: str, reference: str) -> str | None:
    """The subject id an officer means by a number, a voucher code, a program's name or an
    organization's name or USCC; None when nothing matches."""
    reference = reference.strip()
    if reference.isdigit() and len(reference) <= 18:
        return str(int(reference))
    if subject_type == "voucher":
        found = session.scalar(
            sa.select(Voucher.id).where(Voucher.code == normalize_code(reference))
        )
    elif subject_type == "voucher_program":
        found = session.scalar(
            sa.select(Program.id).where(Program.name == reference).order_by(Program.id).limit(1)
        )
    elif subject_type == "organization":
        found = session.scalar(
            sa.select(Organization.id)
            .where(sa.or_(Organization.uscc == reference.upper(), Organization.name == reference))
            .order_by(Organization.id)
            .limit(1)
        )
    else:
        found = None
    return None if found is None else str(found)
