"""Money moved on an invoice, in one place: a payment received is booked and settles the
invoice once nothing is left due (its suspended contract resumes); a void or a refund
reverses what was booked, and what was applied to the invoice (vouchers, customer credit)
goes back. Payments, vouchers and the operator's console call this module; it calls none
of them (vouchers hear of a reversal through ``billing.signals``).

Every change to an invoice's money takes the invoice's row lock first (:func:`lock_invoice`),
so a double click, a webhook racing the buyer, or two refunds at once are applied one after
the other and see each other.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import card_attempts, credits, invoices, ledger, notify, webhook_events
from billing.models import ContractStatus, Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentMethodKind, PaymentStatus, Refund, RefundStatus
from billing.signals import invoice_money_returned
from marketplace import audit
from marketplace.db import utcnow
from marketplace.errors import NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.states import IllegalTransition, transition

PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)


def lock_invoice(session: Session, invoice: Invoice) -> None:
    """Lock the invoice's row until the transaction ends and reload its payments (a
    session used twice sees its own earlier payments)."""
    session.flush()
    session.refresh(invoice, with_for_update=True)
    session.refresh(invoice, ["payments"])


def _clearing(payment: Payment) -> str:
    return (
        ledger.STRIPE_CLEARING if payment.method is PaymentMethodKind.CARD else ledger.BANK_CLEARING
    )


def succeed_payment(session: Session, payment: Payment, *, now: datetime) -> None:
    """Book a successful payment once; the invoice is paid when nothing is left due."""
    lock_invoice(session, payment.invoice)
    session.refresh(payment)  # as committed by whoever held the lock before us
    if payment.status is PaymentStatus.SUCCEEDED:
        return
    transition(payment, PaymentStatus.SUCCEEDED, None, now=now)  # stamps succeeded_at
    payment.failure_code = payment.failure_message = None
    session.flush()
    card_attempts.follow_payment(session, payment)
    ledger.post(
        session,
        "payment.received",
        [
            ledger.Line(_clearing(payment), payment.amount_fen),
            ledger.Line(ledger.BUYER_RECEIVABLE, -payment.amount_fen, payment.buyer_id),
        ],
        memo=payment.invoice.number,
        invoice_id=payment.invoice_id,
        payment_id=payment.id,
    )
    invoice = payment.invoice
    session.refresh(invoice, ["payments"])
    if settle(session, invoice, now=now):
        notify.send(
            session,
            invoice.buyer_id,
            "payment_succeeded",
            f"invoice:{invoice.id}:paid",
            link=f"/billing/invoices/{invoice.id}",
            number=invoice.number,
        )


def settle(
    session: Session,
    invoice: Invoice,
    *,
    now: datetime,
    note: str = "",
    actor: Actor | None = None,
) -> bool:
    """Mark an open invoice paid when nothing is left due, and resume its suspended
    contract once none of the contract's invoices is open; True when it was marked paid."""
    if invoice.status not in PAYABLE or invoices.amount_due(invoice) > 0:
        return False
    invoices.transition(session, invoice, InvoiceStatus.PAID, note=note, now=now, actor=actor)
    contract = invoice.contract
    if contract.status is not ContractStatus.PAST_DUE:
        return True
    still_open = session.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(Invoice.contract_id == contract.id, Invoice.status == InvoiceStatus.OPEN)
    )
    if not still_open:
        transition(contract, ContractStatus.ACTIVE, None, audit_row=False)
        session.flush()
        webhook_events.contract_event(
            session, contract, "contract.reactivated", now=invoice.paid_at or utcnow()
        )
    return True


def void(
    session: Session,
    invoice: Invoice,
    *,
    note: str,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> None:
    """Cancel an unpaid invoice and reverse its booking (the operator; None: a system job);
    its vouchers and customer credit go back."""
    if actor is not None and (actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write):
        raise NotAllowed(_l("Only the platform operator voids invoices."))
    if invoices.amount_paid(invoice) > 0:
        raise IllegalTransition(invoice, InvoiceStatus.VOID)
    now = now or utcnow()
    invoices.transition(session, invoice, InvoiceStatus.VOID, note=note, now=now, actor=actor)
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
    _give_back_applied(session, invoice, reason="void", now=now, actor=actor)


def book_refund(
    session: Session, refund: Refund, *, now: datetime, actor: Actor | None = None
) -> None:
    """A pending refund went through (the caller holds the invoice lock): it counts from
    now on, and the vendor's share and the commission are taken back in proportion. Money
    the buyer paid beyond the invoice is their credit: refunding it gives back the credit
    only. ``actor`` is None when a job books a refund whose request died."""
    payment = refund.payment
    invoice = payment.invoice
    amount_fen = refund.amount_fen
    credit = max(invoices.amount_paid(invoice) - invoices.amount_owed(invoice), 0)
    from_credit = min(amount_fen, credit)
    transition(refund, RefundStatus.SUCCEEDED, actor, audit_row=False)  # its own row below
    session.flush()
    # Credit a credit note of this invoice put on the buyer's balance is paid out next: the
    # vendor's share of it was taken back when the note was issued.
    from_balance = credits.pay_out(session, invoice, amount_fen - from_credit, now=now)
    vendor_share, commission = ledger.split_commission(
        amount_fen - from_credit - from_balance, invoice.commission_bp
    )
    ledger.post(
        session,
        "payment.refunded",
        [
            ledger.Line(ledger.BUYER_RECEIVABLE, from_credit, invoice.buyer_id),
            ledger.Line(ledger.CUSTOMER_CREDIT, from_balance, invoice.buyer_id),
            ledger.Line(ledger.VENDOR_PAYABLE, vendor_share, invoice.vendor_id),
            ledger.Line(ledger.PLATFORM_COMMISSION, commission),
            ledger.Line(_clearing(payment), -amount_fen),
        ],
        memo=f"{invoice.number} refund",
        invoice_id=invoice.id,
        payment_id=payment.id,
        refund_id=refund.id,
    )
    audit.record(
        session,
        "payment.refunded",
        "invoice",
        invoice.id,
        user_id=actor.user.id if actor else refund.recorded_by_id,
        org_id=actor.organization.id if actor else None,
        data={"payment_id": payment.id, "amount_fen": amount_fen, "reason": refund.reason},
    )
    session.expire(payment, ["refunds"])
    if invoices.amount_paid(invoice) <= 0:
        # Everything the buyer paid went back: so do the subsidy and the credit it took.
        _give_back_applied(session, invoice, reason="refund", now=now, actor=actor)


def _give_back_applied(
    session: Session, invoice: Invoice, *, reason: str, now: datetime, actor: Actor | None
) -> None:
    """The vouchers (through ``billing.signals``) and the customer credit applied to a
    voided or wholly refunded invoice go back."""
    if invoice.voucher_fen:
        if not invoice_money_returned.receivers:
            raise RuntimeError("billing.voucher_payments is not connected to its signal")
        invoice_money_returned.send(invoice, session=session, reason=reason, now=now, actor=actor)
    credits.give_back(session, invoice, reason=reason, now=now)
