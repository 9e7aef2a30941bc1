"""Invoices: sequential numbers, lines with the VAT part, the status transition table,
and the ledger transactions of issuing and voiding."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from billing import ledger
from billing.models import (
    INVOICE_TRANSITIONS,
    Contract,
    Invoice,
    InvoiceCounter,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from marketplace import audit
from marketplace.db import utcnow
from marketplace.money import vat_part

PAYMENT_TERMS_DAYS = 15


class IllegalTransition(Exception):
    def __init__(self, invoice: Invoice, to: InvoiceStatus) -> None:
        super().__init__(
            f"invoice {invoice.number}: {invoice.status.value} -> {to.value} is not allowed"
        )
        self.invoice = invoice
        self.to = to


@dataclass
class LineDraft:
    kind: str
    description: str
    quantity: Decimal
    unit_fen: Decimal
    amount_fen: int
    vat_rate_bp: int
    period_start: datetime
    period_end: datetime
    plan_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def next_number(session: Session, year: int) -> str:
    """INV-2026-000001, INV-2026-000002, ... without gaps: the counter row is locked until
    the transaction ends, and a rollback takes the number back."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(InvoiceCounter)
    session.execute(insert.values(year=year, last_number=0).on_conflict_do_nothing())
    counter = session.scalars(
        sa.select(InvoiceCounter).where(InvoiceCounter.year == year).with_for_update()
    ).one()
    counter.last_number += 1
    session.flush()
    return f"INV-{year}-{counter.last_number:06d}"


def existing(
    session: Session, contract_id: int, period_start: datetime, reason: str
) -> Invoice | None:
    return session.scalar(
        sa.select(Invoice).where(
            Invoice.contract_id == contract_id,
            Invoice.period_start == period_start,
            Invoice.reason == reason,
        )
    )


def transition(
    session: Session,
    invoice: Invoice,
    to: InvoiceStatus,
    *,
    note: str = "",
    now: datetime | None = None,
) -> None:
    if to not in INVOICE_TRANSITIONS[invoice.status]:
        raise IllegalTransition(invoice, to)
    session.add(
        InvoiceEvent(
            invoice_id=invoice.id, from_status=invoice.status.value, to_status=to.value, note=note
        )
    )
    audit.record(
        session,
        f"invoice.{to.value}",
        "invoice",
        invoice.id,
        org_id=invoice.buyer_id,
        data={"number": invoice.number, "from": invoice.status.value, "note": note},
    )
    invoice.status = to
    now = now or utcnow()
    if to is InvoiceStatus.PAID:
        invoice.paid_at = now
        invoice.next_attempt_at = None
    elif to is InvoiceStatus.VOID:
        invoice.voided_at = now
        invoice.next_attempt_at = None
    session.flush()


def create(
    session: Session,
    contract: Contract,
    *,
    reason: str,
    period_start: datetime,
    period_end: datetime,
    lines: list[LineDraft],
    commission_bp: int,
    now: datetime,
    kind: InvoiceKind = InvoiceKind.INVOICE,
    corrects: Invoice | None = None,
) -> Invoice:
    """A new invoice, issued (open) at once; a zero total is paid at once."""
    invoice = Invoice(
        number=next_number(session, now.year),
        kind=kind,
        reason=reason,
        contract_id=contract.id,
        buyer_id=contract.buyer_id,
        vendor_id=contract.vendor_id,
        corrects_invoice_id=corrects.id if corrects else None,
        period_start=period_start,
        period_end=period_end,
        status=InvoiceStatus.DRAFT,
        subtotal_fen=0,
        tax_fen=0,
        total_fen=0,
        commission_bp=commission_bp,
    )
    for position, draft in enumerate(lines):
        tax = vat_part(draft.amount_fen, draft.vat_rate_bp)
        invoice.lines.append(
            InvoiceLine(
                position=position,
                kind=draft.kind,
                description=draft.description[:300],
                quantity=draft.quantity,
                unit_fen=draft.unit_fen,
                amount_fen=draft.amount_fen,
                vat_rate_bp=draft.vat_rate_bp,
                tax_fen=tax,
                plan_id=draft.plan_id,
                period_start=draft.period_start,
                period_end=draft.period_end,
                details=draft.details,
            )
        )
    invoice.total_fen = sum(line.amount_fen for line in invoice.lines)
    invoice.tax_fen = sum(line.tax_fen for line in invoice.lines)
    invoice.subtotal_fen = invoice.total_fen - invoice.tax_fen
    session.add(invoice)
    session.flush()
    issue(session, invoice, now=now)
    return invoice


def issue(session: Session, invoice: Invoice, *, now: datetime) -> None:
    """Open the invoice and book it: the buyer owes the total, split between the vendor's
    share and the platform's commission."""
    transition(session, invoice, InvoiceStatus.OPEN, now=now)
    invoice.issued_at = now
    invoice.due_at = now + timedelta(days=PAYMENT_TERMS_DAYS)
    vendor_share, commission = ledger.split_commission(invoice.total_fen, invoice.commission_bp)
    ledger.post(
        session,
        "invoice.issued",
        [
            ledger.Line(ledger.BUYER_RECEIVABLE, invoice.total_fen, invoice.buyer_id),
            ledger.Line(ledger.VENDOR_PAYABLE, -vendor_share, invoice.vendor_id),
            ledger.Line(ledger.PLATFORM_COMMISSION, -commission),
        ],
        memo=invoice.number,
        invoice_id=invoice.id,
    )
    if invoice.total_fen <= 0 and invoice.kind is InvoiceKind.INVOICE:
        transition(session, invoice, InvoiceStatus.PAID, note="nothing to pay", now=now)


def amount_paid(invoice: Invoice) -> int:
    """What the buyer has paid on it, net of refunds (card and bank transfer)."""
    return sum(p.amount_fen - p.refunded_fen for p in invoice.payments if p.status == "succeeded")


def amount_due(invoice: Invoice) -> int:
    """Total less vouchers less payments; negative means the buyer paid too much (credit).
    A paid invoice owes nothing more, even after a refund."""
    if invoice.status is InvoiceStatus.VOID:
        return 0
    due = invoice.total_fen - invoice.voucher_fen - amount_paid(invoice)
    return min(due, 0) if invoice.status is InvoiceStatus.PAID else due


def void(session: Session, invoice: Invoice, *, note: str, now: datetime | None = None) -> None:
    """Cancel an unpaid invoice and reverse its booking."""
    if amount_paid(invoice) > 0:
        raise IllegalTransition(invoice, InvoiceStatus.VOID)
    transition(session, invoice, InvoiceStatus.VOID, note=note, now=now)
    vendor_share, commission = ledger.split_commission(invoice.total_fen, invoice.commission_bp)
    ledger.post(
        session,
        "invoice.voided",
        [
            ledger.Line(ledger.BUYER_RECEIVABLE, -invoice.total_fen, invoice.buyer_id),
            ledger.Line(ledger.VENDOR_PAYABLE, vendor_share, invoice.vendor_id),
            ledger.Line(ledger.PLATFORM_COMMISSION, commission),
        ],
        memo=invoice.number,
        invoice_id=invoice.id,
    )
