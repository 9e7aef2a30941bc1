"""What a result costs and its invoice: the plan's formula (catalog/pricing.py) applied to
one billing period's measured value, the invoice lines that show it, and the invoicing of
every confirmed result not invoiced yet (the billing run calls it)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import invoices, notify
from billing.invoices import InvoiceDraft, LineDraft
from billing.models import Contract, Invoice
from billing.outcomes.common import plain
from billing.outcomes.models import OutcomeReport, ReportStatus
from catalog.models import Plan
from catalog.pricing import OutcomeCharge, outcome_breakdown
from marketplace.money import BASIS_POINTS_PER_UNIT


def breakdown(contract: Contract, measured: Decimal) -> OutcomeCharge:
    """The plan's formula for one billing period's measured value (base fee included)."""
    plan = contract.plan
    return outcome_breakdown(
        direction=plan.direction.value if plan.direction else "increase",
        baseline=contract.baseline or Decimal(0),
        measured=measured,
        price_per_unit_fen=plan.price_per_unit_fen,
        share_bp=plan.share_bp,
        value_per_unit_fen=plan.value_per_unit_fen,
        cap_fen=plan.cap_fen,
        base_fee_fen=plan.base_fee_fen,
    )


def charge_fen(contract: Contract, measured: Decimal) -> int:
    """The improvement's charge for one billing period, capped, before the base fee."""
    return breakdown(contract, measured).charged_fen


def unit_fen(plan: Plan) -> Decimal:
    """The price per unit of improvement an invoice line shows: the plan's price, or the
    share of the value per unit (to the six places a line's unit price keeps; the amount
    is computed from the exact figures, not from this)."""
    if plan.price_per_unit_fen is not None:
        return plan.price_per_unit_fen
    if plan.value_per_unit_fen is None or plan.share_bp is None:
        return Decimal(0)
    share = plan.value_per_unit_fen * plan.share_bp / BASIS_POINTS_PER_UNIT
    return share.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize()


def charge_details(charge: OutcomeCharge, plan: Plan) -> dict[str, object]:
    """How a line's amount was reached, for the invoice's readers and the API."""
    details: dict[str, object] = {"exact_fen": plain(charge.exact_fen)}
    if plan.price_per_unit_fen is not None:
        details["price_per_unit_fen"] = plain(plan.price_per_unit_fen)
    else:
        details["value_per_unit_fen"] = plain(plan.value_per_unit_fen or Decimal(0))
        details["share_bp"] = plan.share_bp
    if charge.capped:
        details["cap_fen"] = charge.cap_fen
    return details


def lines_for(report_: OutcomeReport) -> list[LineDraft]:
    contract = report_.contract
    plan = contract.plan
    measured = (
        report_.billable_measured if report_.billable_measured is not None else report_.measured
    )
    charge = breakdown(contract, measured)
    lines = [
        LineDraft(
            kind="outcome",
            description=str(_l("%(kpi)s improvement", kpi=plan.kpi_name or "")),
            quantity=charge.improvement,
            unit_fen=unit_fen(plan),
            amount_fen=charge.charged_fen,
            vat_rate_bp=plan.vat_rate_bp,
            period_start=report_.period_start,
            period_end=report_.period_end,
            plan_id=plan.id,
            details={
                "baseline": format((contract.baseline or Decimal(0)).normalize(), "f"),
                "measured": format(measured.normalize(), "f"),
                "improvement": format(charge.improvement.normalize(), "f"),
                "report_id": report_.id,
                "kpi_unit": plan.kpi_unit or "",
                **charge_details(charge, plan),
            },
        )
    ]
    if plan.base_fee_fen:
        lines.append(
            LineDraft(
                kind="base_fee",
                description=str(_l("%(plan)s base fee", plan=plan.name)),
                quantity=Decimal(1),
                unit_fen=Decimal(plan.base_fee_fen),
                amount_fen=plan.base_fee_fen,
                vat_rate_bp=plan.vat_rate_bp,
                period_start=report_.period_start,
                period_end=report_.period_end,
                plan_id=plan.id,
            )
        )
    return lines


def invoice_confirmed(
    session: Session, *, now: datetime, commission_bp: int, report_ids: list[int] | None = None
) -> list[Invoice]:
    """Invoice every confirmed result not invoiced yet (once each: the invoice is unique
    per contract, period start and reason), or only those of ``report_ids``."""
    query = sa.select(OutcomeReport).where(
        OutcomeReport.status == ReportStatus.CONFIRMED, OutcomeReport.invoice_id.is_(None)
    )
    if report_ids is not None:
        query = query.where(OutcomeReport.id.in_(report_ids))
    pending = list(session.scalars(query.order_by(OutcomeReport.id)))
    if not pending:
        return []
    drafts = [
        InvoiceDraft(r.contract, "outcome", r.period_start, r.period_end, lines_for(r))
        for r in pending
    ]
    created = invoices.create_many(session, drafts, commission_bp=commission_bp, now=now)
    for report_, invoice in zip(pending, created, strict=True):
        report_.invoice_id = invoice.id
    session.flush()
    notify.invoices_issued(session, created)
    return created
