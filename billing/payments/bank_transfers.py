"""Bank transfers (对公转账): the operator records a transfer received for an invoice, by
the bank's reference (each reference once); billing/bank_statements.py records the lines
of an imported statement through here too."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import invoice_money
from billing.invoice_money import PAYABLE
from billing.models import Invoice
from billing.payment_models import Payment, PaymentMethodKind, PaymentStatus
from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind


def record_bank_transfer(
    session: Session,
    invoice: Invoice,
    *,
    amount_fen: int,
    reference: str,
    actor: Actor,
    now: datetime,
) -> Payment:
    """The operator records a transfer received for the invoice; partial and over-payment
    are kept as they are (amount due shows what is left, or the buyer's credit)."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator records bank transfers."))
    if invoice.status not in PAYABLE:
        raise Conflict(_l("This invoice is not open for payment."))
    if amount_fen <= 0:
        raise DomainError(_l("Enter the amount received."), field="amount")
    reference = reference.strip()
    if not reference:
        raise DomainError(_l("Enter the bank's transaction reference."), field="reference")
    duplicate = session.scalar(
        sa.select(Payment.id).where(
            Payment.method == PaymentMethodKind.BANK_TRANSFER, Payment.bank_reference == reference
        )
    )
    if duplicate is not None:
        raise Conflict(_l("A transfer with this reference is recorded already."), field="reference")
    payment = Payment(
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        method=PaymentMethodKind.BANK_TRANSFER,
        status=PaymentStatus.PROCESSING,
        amount_fen=amount_fen,
        bank_reference=reference[:100],
        recorded_by_id=actor.user.id,
    )
    session.add(payment)
    session.flush()
    audit.record(
        session,
        "payment.bank_transfer_recorded",
        "invoice",
        invoice.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"amount_fen": amount_fen, "reference": reference},
    )
    invoice_money.succeed_payment(session, payment, now=now)
    return payment
