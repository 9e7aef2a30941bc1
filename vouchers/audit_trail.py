"""Which audit rows a government organization may read: its own trail, never another's.

A row belongs to a government when one of its people acted (``actor_org_id``), when it is
about the organization itself, or when its subject is a program the government owns or
something of such a program: an application, a voucher, a redemption, a settlement or an
anomaly case. System jobs (expiry, anomaly scans) act for nobody, so their rows are found
through the subject. The chain's verification still covers every row; only the listing is
narrowed. The operator's console lists all rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.audit import AuditEvent
from vouchers.models import Anomaly, Application, Program, Redemption, Settlement, Voucher

# subject_type -> the model whose rows carry a program_id
_PROGRAM_PARTS: dict[str, type] = {
    "voucher_application": Application,
    "voucher": Voucher,
    "voucher_redemption": Redemption,
    "voucher_settlement": Settlement,
    "voucher_anomaly": Anomaly,
}


def _ids_as_text(column: sa.ColumnElement[int]) -> sa.ColumnElement[str]:
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
