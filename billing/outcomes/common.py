"""What the outcome-billing rules share: the audit record of a step, a value with the KPI's
unit (for notifications), the check of a measured value, and a Decimal as plain text."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.models import Contract
from marketplace import audit
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor

MAX_VALUE = Decimal(10) ** 15


def record_audit(
    session: Session,
    action: str,
    subject: str,
    subject_id: int,
    actor: Actor | None,
    **data: object,
) -> None:
    audit.record(
        session,
        action,
        subject,
        subject_id,
        user_id=actor.user.id if actor else None,
        org_id=actor.organization.id if actor else None,
        data={
            key: str(value) if isinstance(value, Decimal) else value for key, value in data.items()
        },
    )


def with_unit(value: Decimal, contract: Contract, *, english: bool = False) -> str:
    plan = contract.plan
    unit = (plan.kpi_unit_en if english and plan.kpi_unit_en else plan.kpi_unit) or ""
    return f"{value.normalize():,f} {unit}".strip()


def check_value(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value < 0 or value > MAX_VALUE:
        raise DomainError(_l("Enter a measured value of zero or more."), field=field)
    return value


def plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
