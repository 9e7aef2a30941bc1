"""Contracts and invoices as the JSON API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing import invoices as invoice_rules
from billing import overdue
from billing.fapiao import fapiao_status
from billing.models import Contract, Invoice


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def contract_dict(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.id,
        "status": contract.status.value,
        "buyer_id": contract.buyer_id,
        "vendor_id": contract.vendor_id,
        "solution_slug": contract.solution.slug,
        "plan_id": contract.plan_id,
        "billing_model": contract.plan.billing_model.value,
        "current_period_start": _iso(contract.current_period_start),
        "current_period_end": _iso(contract.current_period_end),
        "trial_end": _iso(contract.trial_end),
        "cancel_at_period_end": contract.cancel_at_period_end,
        "canceled_at": _iso(contract.canceled_at),
        "spend_cap_fen": contract.spend_cap_fen,
        "baseline": None
        if contract.baseline is None
        else format(contract.baseline.normalize(), "f"),
        "baseline_agreed_at": _iso(contract.baseline_agreed_at),
        "agreement_version": contract.agreement_version,
        "agreement_accepted_at": _iso(contract.agreement_accepted_at),
        "created_at": _iso(contract.created_at),
    }


def invoice_dict(invoice: Invoice, *, with_lines: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": invoice.id,
        "number": invoice.number,
        "kind": invoice.kind.value,
        "reason": invoice.reason,
        "status": invoice.status.value,
        "display_status": invoice.display_status,
        "contract_id": invoice.contract_id,
        "buyer_id": invoice.buyer_id,
        "vendor_id": invoice.vendor_id,
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "subtotal_fen": invoice.subtotal_fen,
        "tax_fen": invoice.tax_fen,
        "total_fen": invoice.total_fen,
        "voucher_fen": invoice.voucher_fen,
        "credit_applied_fen": invoice.credit_applied_fen,
        "credit_granted_fen": invoice.credit_granted_fen,
        "amount_paid_fen": invoice_rules.amount_paid(invoice),
        "amount_due_fen": invoice_rules.amount_due(invoice),
        "issued_at": _iso(invoice.issued_at),
        "due_at": _iso(invoice.due_at),
        "overdue_days": overdue.overdue_days(invoice),
        "paid_at": _iso(invoice.paid_at),
        "transfer_reference": invoice.transfer_reference,
        "fapiao_status": (status.value if (status := fapiao_status(invoice)) else None),
    }
    if with_lines:
        data["lines"] = [
            {
                "kind": line.kind,
                "description": line.description,
                "quantity": format(line.quantity.normalize(), "f"),
                "unit_fen": format(line.unit_fen.normalize(), "f"),
                "amount_fen": line.amount_fen,
                "vat_rate_bp": line.vat_rate_bp,
                "tax_fen": line.tax_fen,
                "period_start": _iso(line.period_start),
                "period_end": _iso(line.period_end),
                "details": line.details,
            }
            for line in invoice.lines
        ]
    return data
