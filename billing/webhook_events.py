"""The vendor webhook events of billing: what a contract, invoice or outcome report looks
like in an event, and one call per event for the services that change them (recorded in
the change's transaction by marketplace/webhooks.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from billing.models import Contract, Invoice
from billing.outcomes.models import OutcomeReport
from marketplace import webhooks


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def contract_data(contract: Contract) -> dict[str, Any]:
    buyer = contract.buyer
    return {
        "object": "contract",
        "id": contract.id,
        "status": contract.status.value,
        "plan_id": contract.plan_id,
        "solution_slug": contract.solution.slug,
        "buyer": {"id": buyer.id, "name": buyer.name, "uscc": buyer.uscc},
        "current_period_start": _iso(contract.current_period_start),
        "current_period_end": _iso(contract.current_period_end),
        "trial_end": _iso(contract.trial_end),
        "cancel_at_period_end": bool(contract.cancel_at_period_end),
        "spend_cap_fen": contract.spend_cap_fen,
    }


def invoice_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "object": "invoice",
        "id": invoice.id,
        "number": invoice.number,
        "kind": invoice.kind.value,
        "status": invoice.status.value,
        "contract_id": invoice.contract_id,
        "buyer_id": invoice.buyer_id,
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "subtotal_fen": invoice.subtotal_fen,
        "tax_fen": invoice.tax_fen,
        "total_fen": invoice.total_fen,
        "voucher_fen": invoice.voucher_fen,
        "issued_at": _iso(invoice.issued_at),
        "paid_at": _iso(invoice.paid_at),
        "voided_at": _iso(invoice.voided_at),
    }


def outcome_data(report: OutcomeReport) -> dict[str, Any]:
    billable = report.billable_measured
    return {
        "object": "outcome_report",
        "id": report.id,
        "contract_id": report.contract_id,
        "status": report.status.value,
        "period_start": _iso(report.period_start),
        "period_end": _iso(report.period_end),
        "measured": format(report.measured, "f"),
        "billable_measured": format(billable, "f") if billable is not None else None,
        "dispute_reason": report.dispute_reason or "",
        "resolution_note": report.resolution_note or "",
    }


def contract_event(
    session: Session, contract: Contract, event_type: str, *, now: datetime, key: str = ""
) -> None:
    """``key`` tells two events of one type on one contract apart (e.g. the moment)."""
    webhooks.emit(
        session,
        contract.vendor_id,
        event_type,
        contract_data(contract),
        key=f"contract:{contract.id}:{key or now.isoformat()}",
        now=now,
    )


def invoice_event(session: Session, invoice: Invoice, event_type: str, *, now: datetime) -> None:
    invoice_events(session, [(invoice, event_type)], now=now)


def invoice_events(session: Session, events: list[tuple[Invoice, str]], *, now: datetime) -> None:
    """Many invoice events with one look-up of the vendors' endpoints (the billing run)."""
    drafts = [
        webhooks.EventDraft(
            invoice.vendor_id, event_type, invoice_data(invoice), f"invoice:{invoice.id}"
        )
        for invoice, event_type in events
    ]
    webhooks.emit_many(session, drafts, now=now)


def outcome_event(
    session: Session, report: OutcomeReport, event_type: str, *, now: datetime
) -> None:
    webhooks.emit(
        session,
        report.contract.vendor_id,
        event_type,
        outcome_data(report),
        key=f"outcome_report:{report.id}",
        now=now,
    )
