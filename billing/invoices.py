"""Invoices: sequential numbers, lines with the VAT part, the status transition table,
the ledger transaction of issuing, and what is owed, paid and due on an invoice (money
moved on it is billing/invoice_money.py's). Customer credit is applied (or granted)
when an invoice is issued (billing/credits.py states the order with vouchers and payments)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import credits, ledger, webhook_events
from billing.models import (
    Contract,
    Invoice,
    InvoiceCounter,
    InvoiceEvent,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billing.payment_models import StripeCustomer
from marketplace import audit, states
from marketplace.db import copy_rows, insert_or_skip, insert_returning_ids, utcnow
from marketplace.jsonapi import Actor
from marketplace.money import vat_part

PAYMENT_TERMS_DAYS = 15


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


def next_numbers(session: Session, year: int, count: int = 1) -> list[str]:
    """INV-2026-000001, INV-2026-000002, ... without gaps: the counter row is locked until
    the transaction ends, and a rollback takes the numbers back."""
    insert = insert_or_skip(session, InvoiceCounter)
    session.execute(insert.values(year=year, last_number=0).on_conflict_do_nothing())
    counter = session.scalars(
        sa.select(InvoiceCounter)
        .where(InvoiceCounter.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)  # never a number held from before the lock
    ).one()
    first = counter.last_number + 1
    counter.last_number += count
    session.flush()
    return [f"INV-{year}-{n:06d}" for n in range(first, first + count)]


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


# The invoice states a vendor hears of by webhook ("invoice.issued" is sent by create_many).
WEBHOOK_EVENTS = {InvoiceStatus.PAID: "invoice.paid", InvoiceStatus.VOID: "invoice.voided"}


def transition(
    session: Session,
    invoice: Invoice,
    to: InvoiceStatus,
    *,
    note: str = "",
    now: datetime | None = None,
    actor: Actor | None = None,
) -> None:
    frm = invoice.status.value
    now = now or utcnow()
    # Refuses a move the table does not allow before anything changes; stamps paid_at or
    # voided_at. The audit row is the invoice's own (with the note), written here.
    states.transition(invoice, to, actor, now=now, audit_row=False)
    session.add(InvoiceEvent(invoice_id=invoice.id, from_status=frm, to_status=to.value, note=note))
    audit.record_many(
        session,
        [_audit_entry(invoice.id, invoice.number, invoice.buyer_id, frm, to, note, actor)],
    )
    if to in (InvoiceStatus.PAID, InvoiceStatus.VOID):
        invoice.next_attempt_at = None
    session.flush()
    if to in WEBHOOK_EVENTS:
        webhook_events.invoice_event(session, invoice, WEBHOOK_EVENTS[to], now=now)


@dataclass
class InvoiceDraft:
    """An invoice to issue: for which contract, period and reason, with which lines."""

    contract: Contract
    reason: str
    period_start: datetime
    period_end: datetime
    lines: list[LineDraft]
    kind: InvoiceKind = InvoiceKind.INVOICE
    corrects: Invoice | None = None
    # The platform's part of the total when it must not be recomputed from the rate: a
    # correction moves exactly the difference between two commissions.
    commission_fen: int | None = None


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
    draft = InvoiceDraft(contract, reason, period_start, period_end, lines, kind, corrects)
    return create_many(session, [draft], commission_bp=commission_bp, now=now)[0]


def _rows(
    draft: InvoiceDraft, number: str, commission_bp: int, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The invoice's row and its lines' rows, as plain values for a multi-row insert."""
    lines = [
        {
            "position": position,
            "kind": line.kind,
            "description": line.description[:300],
            "quantity": line.quantity,
            "unit_fen": line.unit_fen,
            "amount_fen": line.amount_fen,
            "vat_rate_bp": line.vat_rate_bp,
            "tax_fen": vat_part(line.amount_fen, line.vat_rate_bp),
            "plan_id": line.plan_id,
            "period_start": line.period_start,
            "period_end": line.period_end,
            "details": line.details,
        }
        for position, line in enumerate(draft.lines)
    ]
    total = sum(line.amount_fen for line in draft.lines)
    tax = sum(vat_part(line.amount_fen, line.vat_rate_bp) for line in draft.lines)
    contract = draft.contract
    invoice = {
        "number": number,
        "kind": draft.kind,
        "reason": draft.reason,
        "contract_id": contract.id,
        "buyer_id": contract.buyer_id,
        "vendor_id": contract.vendor_id,
        "corrects_invoice_id": draft.corrects.id if draft.corrects else None,
        "period_start": draft.period_start,
        "period_end": draft.period_end,
        "status": InvoiceStatus.OPEN,
        "subtotal_fen": total - tax,
        "tax_fen": tax,
        "total_fen": total,
        "voucher_fen": 0,
        "commission_bp": commission_bp,
        "issued_at": now,
        "due_at": now + timedelta(days=PAYMENT_TERMS_DAYS),
        "paid_at": None,
        "voided_at": None,
        "attempt_count": 0,
        "next_attempt_at": None,
        "created_at": now,
    }
    return invoice, lines


def _credit_granted(draft: InvoiceDraft, total_fen: int) -> int:
    """What the new invoice gives to the buyer's credit balance: all of a negative total;
    of a credit note, what exceeds the amount still due on the invoice it corrects (that
    part only lowers what is due there)."""
    if draft.kind is InvoiceKind.CREDIT_NOTE:
        corrected = draft.corrects
        if corrected is None or corrected.status is InvoiceStatus.VOID:
            return 0
        still_due = 0
        if corrected.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
            still_due = max(amount_due(corrected), 0)
        return max(-total_fen - still_due, 0)
    return max(-total_fen, 0)


def _settle_at_once(row: dict[str, Any], now: datetime) -> str | None:
    """Mark the row paid when nothing is left to pay (zero, a credit note, a credit to the
    balance, or covered by credit); returns the history's note then."""
    owed = row["total_fen"] - row["credit_applied_fen"] + row["credit_granted_fen"]
    if owed > 0 and row["total_fen"] > 0:
        return None
    row["status"] = InvoiceStatus.PAID
    row["paid_at"] = now
    if row["kind"] is InvoiceKind.CREDIT_NOTE:
        return "credit applied"
    if row["credit_granted_fen"]:
        return "credit added to the balance"
    if row["credit_applied_fen"]:
        return "paid with credit"
    return "nothing to pay"


def _issued_booking(
    invoice_id: int, row: dict[str, Any], commission_fen: int | None = None
) -> ledger.Booking:
    """The buyer owes the total, split between the vendor's share and the commission (a
    credit note's negative total gives back both)."""
    if commission_fen is None:
        vendor_share, commission = ledger.split_commission(row["total_fen"], row["commission_bp"])
    else:
        vendor_share, commission = row["total_fen"] - commission_fen, commission_fen
    return ledger.booking(
        "invoice.issued",
        [
            ledger.Line(ledger.BUYER_RECEIVABLE, row["total_fen"], row["buyer_id"]),
            ledger.Line(ledger.VENDOR_PAYABLE, -vendor_share, row["vendor_id"]),
            ledger.Line(ledger.PLATFORM_COMMISSION, -commission),
        ],
        memo=row["number"],
        invoice_id=invoice_id,
    )


def create_many(
    session: Session, drafts: list[InvoiceDraft], *, commission_bp: int, now: datetime
) -> list[Invoice]:
    """Issue invoices in bulk, each exactly as :func:`create` would: numbered in order,
    opened with its history, audit event and ledger booking; a zero total is paid at once.
    The billing run closes thousands of periods this way: rows go in with a few multi-row
    inserts, and the invoices come back loaded."""
    if not drafts:
        return []
    numbers = next_numbers(session, now.year, len(drafts))
    built = [_rows(d, n, commission_bp, now) for d, n in zip(drafts, numbers, strict=True)]
    rows = [row for row, _lines in built]
    grants = [_credit_granted(d, row["total_fen"]) for d, row in zip(drafts, rows, strict=True)]
    credits.apply_to_new_invoices(session, rows, grants)
    paid_notes = [_settle_at_once(row, now) for row in rows]
    ids = insert_returning_ids(session, Invoice.__table__, rows)
    line_rows, event_rows, bookings, entries, credit_moves = [], [], [], [], []
    for invoice_id, draft, (row, lines), paid_note in zip(
        ids, drafts, built, paid_notes, strict=True
    ):
        line_rows += [{"invoice_id": invoice_id, **line} for line in lines]
        steps = [("draft", InvoiceStatus.OPEN, "")]
        if paid_note is not None:
            steps.append(("open", InvoiceStatus.PAID, paid_note))
        for from_status, to, note in steps:
            event_rows.append(
                {
                    "invoice_id": invoice_id,
                    "from_status": from_status,
                    "to_status": to.value,
                    "note": note,
                    "created_at": now,
                }
            )
            entries.append(
                _audit_entry(invoice_id, row["number"], row["buyer_id"], from_status, to, note)
            )
        bookings.append(_issued_booking(invoice_id, row, draft.commission_fen))
        credit_moves += credits.movements_of_new_invoice(invoice_id, row, now)
    if line_rows:
        copy_rows(session, InvoiceLine.__table__, line_rows)
    copy_rows(session, InvoiceEvent.__table__, event_rows)
    ledger.insert_many(session, bookings, now=now)
    credits.record(session, credit_moves, now=now)
    audit.record_many(session, entries)
    issued = list(
        session.scalars(sa.select(Invoice).where(Invoice.id.in_(ids)).order_by(Invoice.id))
    )
    events = [(invoice, "invoice.issued") for invoice in issued]
    events += [(i, "invoice.paid") for i in issued if i.status is InvoiceStatus.PAID]
    webhook_events.invoice_events(session, events, now=now)
    return issued


def _audit_entry(
    invoice_id: int,
    number: str,
    buyer_id: int,
    from_status: str,
    to: InvoiceStatus,
    note: str,
    actor: Actor | None = None,
) -> audit.Entry:
    return audit.Entry(
        f"invoice.{to.value}",
        "invoice",
        invoice_id,
        user_id=actor.user.id if actor else None,
        org_id=actor.organization.id if actor else buyer_id,
        data={"number": number, "from": from_status, "note": note},
    )


def amount_paid(invoice: Invoice) -> int:
    """What the buyer has paid on it, net of refunds (card and bank transfer)."""
    return sum(p.amount_fen - p.refunded_fen for p in invoice.payments if p.status == "succeeded")


def amount_credited(invoice: Invoice) -> int:
    """What credit notes issued against the invoice took off it (a positive amount); the
    part of a note that went to the buyer's credit balance is not taken off here."""
    return -sum(
        note.total_fen + note.credit_granted_fen
        for note in invoice.corrections
        if note.kind is InvoiceKind.CREDIT_NOTE and note.status is not InvoiceStatus.VOID
    )


def amount_owed(invoice: Invoice) -> int:
    """What the buyer must pay on it in all: total less customer credit applied, vouchers and
    credit notes (a negative total moved to the credit balance is owed by nobody)."""
    return (
        invoice.total_fen
        + invoice.credit_granted_fen
        - invoice.credit_applied_fen
        - invoice.voucher_fen
        - amount_credited(invoice)
    )


def amount_due(invoice: Invoice) -> int:
    """What is owed less payments; negative means the buyer paid too much (credit).
    A paid invoice owes nothing more, even after a refund. A credit note itself is due
    nothing."""
    if invoice.status is InvoiceStatus.VOID or invoice.kind is InvoiceKind.CREDIT_NOTE:
        return 0
    due = amount_owed(invoice) - amount_paid(invoice)
    return min(due, 0) if invoice.status is InvoiceStatus.PAID else due


def schedule_first_attempts(session: Session, issued: list[Invoice], now: datetime) -> None:
    """Invoices of buyers with a saved card are charged at once (the first of three tries)."""
    open_ = [invoice for invoice in issued if invoice.status is InvoiceStatus.OPEN]
    if not open_:
        return
    with_card = set(
        session.scalars(
            sa.select(StripeCustomer.organization_id).where(
                StripeCustomer.organization_id.in_({i.buyer_id for i in open_}),
                StripeCustomer.payment_method_id.is_not(None),
            )
        )
    )
    for invoice in open_:
        if invoice.buyer_id in with_card:
            invoice.next_attempt_at = now
    session.flush()
