"""What happens to a reported result: the buyer confirms or disputes it within the
verification window (silence confirms at its end), and the operator resolves a dispute by
accepting, adjusting or rejecting the result. Only confirmed results are invoiced
(billing/outcomes/invoicing.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import notify, webhook_events
from billing.outcomes.common import check_value, with_unit
from billing.outcomes.models import OutcomeReport, ReportStatus
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.states import transition


def _require_buyer(report_: OutcomeReport, actor: Actor) -> None:
    if actor.organization.id != report_.contract.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the contract's buyer confirms or disputes results."))


def _within_window(report_: OutcomeReport, now: datetime) -> None:
    if report_.can_verify(now):
        return
    if report_.status is not ReportStatus.SUBMITTED:
        raise Conflict(_l("This result has been decided already."))
    raise Conflict(_l("The verification window has closed; silence confirmed the result."))


def confirm(
    session: Session, report_: OutcomeReport, *, actor: Actor, now: datetime
) -> OutcomeReport:
    _require_buyer(report_, actor)
    _within_window(report_, now)
    _count(report_, "buyer", now, report_.measured, actor)
    webhook_events.outcome_event(session, report_, "outcome_report.confirmed", now=now)
    return report_


def dispute(
    session: Session, report_: OutcomeReport, *, actor: Actor, reason: str, now: datetime
) -> OutcomeReport:
    _require_buyer(report_, actor)
    _within_window(report_, now)
    if not reason.strip():
        raise DomainError(_l("Say what is wrong with the result."), field="reason")
    report_.dispute_reason = reason.strip()
    transition(report_, ReportStatus.DISPUTED, actor, now=now, reason=report_.dispute_reason)
    webhook_events.outcome_event(session, report_, "outcome_report.disputed", now=now)
    notify.send(
        session,
        report_.contract.vendor_id,
        "outcome_disputed",
        f"outcome:{report_.id}:disputed",
        link=f"/billing/contracts/{report_.contract_id}",
        measured=with_unit(report_.measured, report_.contract),
        measured_en=with_unit(report_.measured, report_.contract, english=True),
        reason=report_.dispute_reason,
    )
    return report_


def resolve(
    session: Session,
    report_: OutcomeReport,
    *,
    actor: Actor,
    decision: str,
    note: str,
    now: datetime,
    adjusted: Decimal | None = None,
) -> OutcomeReport:
    """The operator settles a dispute: accept the result, adjust the measured value, or
    reject it; the note is shown to both sides."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator resolves disputes."))
    if report_.status is not ReportStatus.DISPUTED:
        raise Conflict(_l("Only a disputed result is resolved."))
    if not note.strip():
        raise DomainError(_l("Explain the decision to both sides."), field="note")
    if decision == "accept":
        value: Decimal | None = report_.measured
    elif decision == "adjust":
        if adjusted is None:
            raise DomainError(_l("Enter the corrected measured value."), field="adjusted")
        value = check_value(adjusted, "adjusted")
    elif decision == "reject":
        value = None
    else:
        raise DomainError(_l("Choose accept, adjust or reject."), field="decision")
    report_.resolution_note = note.strip()
    report_.resolved_by_id = actor.user.id
    action = f"outcome.resolved.{decision}"
    if value is None:
        audited = {"note": report_.resolution_note, "billable": report_.billable_measured}
        transition(report_, ReportStatus.REJECTED, actor, now=now, action=action, data=audited)
    else:
        _count(report_, "operator", now, value, actor, action=action, note=report_.resolution_note)
    webhook_events.outcome_event(session, report_, "outcome_report.resolved", now=now)
    for org_id in (report_.contract.buyer_id, report_.contract.vendor_id):
        notify.send(
            session,
            org_id,
            "outcome_resolved",
            f"outcome:{report_.id}:resolved",
            link=f"/billing/contracts/{report_.contract_id}",
            note=report_.resolution_note,
        )
    return report_


def _count(
    report_: OutcomeReport,
    how: str,
    now: datetime,
    value: Decimal,
    actor: Actor | None,
    *,
    action: str | None = None,
    note: str | None = None,
) -> None:
    """The result counts (is confirmed) at ``value``; audited as ``action`` (default
    "outcome.confirmed"; a resolution names its note and the billable value)."""
    report_.confirmed_how = how
    report_.billable_measured = value
    audited = None if note is None else {"note": note, "billable": value}
    transition(report_, ReportStatus.CONFIRMED, actor, now=now, action=action, data=audited)


def auto_confirm(session: Session, *, now: datetime) -> int:
    """Silence confirms: results the buyer neither confirmed nor disputed in the window."""
    due = list(
        session.scalars(
            sa.select(OutcomeReport).where(
                OutcomeReport.status == ReportStatus.SUBMITTED, OutcomeReport.confirm_by <= now
            )
        )
    )
    for report_ in due:
        _count(
            report_,
            "silence",
            report_.confirm_by,
            report_.measured,
            None,
            action="outcome.confirmed_by_silence",
        )
    session.flush()
    for report_ in due:
        webhook_events.outcome_event(session, report_, "outcome_report.confirmed", now=now)
    return len(due)
