"""Corrections after invoicing: the operator corrects an invoiced result found wrong with a
credit note (or, when it was under-reported, a supplementary invoice) for exactly the
difference; the original invoice stays as issued."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import invoices, ledger, notify
from billing.invoices import LineDraft
from billing.models import Invoice, InvoiceKind, InvoiceLine, InvoiceStatus
from billing.outcomes.common import check_value, plain, record_audit
from billing.outcomes.invoicing import breakdown, charge_details, unit_fen
from billing.outcomes.models import OutcomeReport, ReportStatus
from catalog.pricing import improvement
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.money import format_fen

CORRECTION = "correction"  # the invoice reason of credit notes and supplementary invoices


def correction_of(session: Session, report_: OutcomeReport) -> Invoice | None:
    """The credit note (or supplementary invoice) that corrected the report's invoice."""
    if report_.invoice_id is None:
        return None
    return session.scalar(
        sa.select(Invoice).where(
            Invoice.corrects_invoice_id == report_.invoice_id,
            Invoice.reason == CORRECTION,
            Invoice.status != InvoiceStatus.VOID,
        )
    )


def correct(
    session: Session,
    report_: OutcomeReport,
    *,
    actor: Actor,
    corrected: Decimal,
    note: str,
    now: datetime,
) -> Invoice:
    """The operator corrects an invoiced result found wrong. The invoice stays as issued;
    a credit note takes off exactly the difference the corrected value makes (or, when the
    result was under-reported, a supplementary invoice adds it). The commission moves by
    the difference between the two commissions, so after both documents the ledger holds
    what an invoice of the right amount would have booked."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator corrects invoiced results."))
    if report_.invoice_id is None or report_.status is not ReportStatus.CONFIRMED:
        raise Conflict(_l("Only an invoiced result is corrected with a credit note."))
    original = session.get(Invoice, report_.invoice_id)
    assert original is not None
    if original.status is InvoiceStatus.VOID:
        raise Conflict(_l("The invoice of this result was voided; nothing is left to correct."))
    earlier = session.scalar(
        sa.select(Invoice).where(
            Invoice.corrects_invoice_id == original.id, Invoice.reason == CORRECTION
        )
    )
    if earlier is not None:
        # Once, even when that correction was voided: a period has one invoice per reason.
        if earlier.status is InvoiceStatus.VOID:
            raise Conflict(
                _l("The correction of this result was voided; a result is corrected once.")
            )
        raise Conflict(_l("This result has been corrected already."))
    if not note.strip():
        raise DomainError(_l("Explain the correction to both sides."), field="note")
    corrected = check_value(corrected, "corrected")
    contract = report_.contract
    plan = contract.plan
    direction = plan.direction.value if plan.direction else "increase"
    baseline = contract.baseline or Decimal(0)
    # The corrected charge replaces what the live documents charge for this period (the
    # original's outcome line; a correction voided since no longer counts), so the period
    # never costs more than its cap however often it is corrected.
    outcome_lines = [item for item in original.lines if item.kind == "outcome"]
    outcome_total = sum(item.amount_fen for item in outcome_lines)
    was = _invoiced_measured(outcome_lines, report_)
    charge = breakdown(contract, corrected)
    difference = charge.charged_fen - outcome_total
    if difference == 0:
        raise DomainError(
            _l("The corrected value does not change the charge; no credit note is needed."),
            field="corrected",
        )
    gained_was = improvement(direction, baseline, was)
    gained = charge.improvement
    line = LineDraft(
        kind="outcome_correction",
        description=str(
            _l(
                "Correction of %(kpi)s improvement (invoice %(number)s)",
                kpi=plan.kpi_name or "",
                number=original.number,
            )
        ),
        quantity=gained - gained_was,
        unit_fen=unit_fen(plan),
        amount_fen=difference,
        vat_rate_bp=plan.vat_rate_bp,
        period_start=report_.period_start,
        period_end=report_.period_end,
        plan_id=plan.id,
        details={
            "baseline": plain(baseline),
            "measured_was": plain(was),
            "measured": plain(corrected),
            "improvement_was": plain(gained_was),
            "improvement": plain(gained),
            "report_id": report_.id,
            "kpi_unit": plan.kpi_unit or "",
            "note": note.strip(),
            **charge_details(charge, plan),
        },
    )
    _, commission_was = ledger.split_commission(outcome_total, original.commission_bp)
    _, commission_now = ledger.split_commission(outcome_total + difference, original.commission_bp)
    note_ = invoices.create_many(
        session,
        [
            invoices.InvoiceDraft(
                contract,
                CORRECTION,
                report_.period_start,
                report_.period_end,
                [line],
                kind=InvoiceKind.CREDIT_NOTE if difference < 0 else InvoiceKind.INVOICE,
                corrects=original,
                commission_fen=commission_now - commission_was,
            )
        ],
        commission_bp=original.commission_bp,
        now=now,
    )[0]
    session.expire(original, ["corrections"])
    if (
        note_.kind is InvoiceKind.CREDIT_NOTE
        and original.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        and invoices.amount_due(original) <= 0
    ):
        invoices.transition(
            session,
            original,
            InvoiceStatus.PAID,
            note=f"settled by credit note {note_.number}",
            now=now,
        )
    report_.billable_measured = corrected
    session.flush()
    notify.send(
        session,
        contract.buyer_id,
        "outcome_corrected",
        f"outcome:{report_.id}:corrected",
        link=f"/billing/invoices/{note_.id}",
        number=note_.number,
        amount=format_fen(abs(difference)),
    )
    record_audit(
        session,
        "outcome.corrected",
        "outcome_report",
        report_.id,
        actor,
        measured_was=was,
        measured=corrected,
        invoice=original.number,
        correction=note_.number,
        amount_fen=difference,
        note=note.strip(),
    )
    return note_


def _invoiced_measured(outcome_lines: list[InvoiceLine], report_: OutcomeReport) -> Decimal:
    """The measured value the original invoice charged (its line says so); the report's
    billable value for lines issued before lines recorded it."""
    for line in outcome_lines:
        if "measured" in line.details:
            return Decimal(line.details["measured"])
    return report_.billable_measured if report_.billable_measured is not None else report_.measured
